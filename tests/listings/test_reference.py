"""Reverb's reference lists for the listing forms: a Reverb that cannot be read is asked again only after
a pause, so a form does not wait through the client's retries on every open while it is down."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from backoffice.reverb.errors import ReverbError
from listings import reference
from listings.editing import CONDITIONS
from tests.factories import AccountFactory


class DownReverb:
    calls = 0

    def conditions(self) -> Any:
        DownReverb.calls += 1
        raise ReverbError("connection lost")


@pytest.mark.django_db
def test_an_unreadable_list_falls_back_and_is_not_asked_again_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache.clear()
    account = AccountFactory(name="down-shop")
    monkeypatch.setattr(type(account), "client", lambda self, **kw: DownReverb())
    DownReverb.calls = 0
    assert reference.conditions(account) == list(CONDITIONS)
    assert reference.conditions(account) == list(CONDITIONS)
    assert DownReverb.calls == 1
    cache.delete(f"listings.reference.conditions.{account.pk}")  # the pause is over
    reference.conditions(account)
    assert DownReverb.calls == 2
