"""Reverb's reference lists for the listing forms: stored in the database and not read again while fresh;
a Reverb that cannot be read (down, or the shop's budget busy) is asked again only after a pause, so a
form does not wait through the client's retries or behind the stock drain on every open."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db.models import Sum

from backoffice.models import ApiUsage, RateBudget
from backoffice.reverb.errors import ReverbError
from listings import reference
from listings.conditions import CONDITIONS
from listings.models import ReferenceList
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


def edit_page(account: Any) -> Any:
    from django.test import Client
    from django.urls import reverse

    from tests.factories import ListingFactory
    from tests.orders.helpers import role_user

    listing = ListingFactory(account=account)
    client = Client()
    client.force_login(role_user("manager", "Manager"))
    return lambda: client.get(reverse("admin:listings_listing_edit", args=[listing.pk]))


@pytest.mark.django_db
def test_a_listing_form_opens_without_a_reverb_call_when_its_lists_are_stored(emulator: Any) -> None:
    """The lists are in the database, shared by every web process: a fresh copy is never read again."""
    cache.clear()
    account = AccountFactory(name="shop")
    open_form = edit_page(account)
    assert open_form().status_code == 200  # cold: read from Reverb (the emulator) and stored
    assert {r.name for r in ReferenceList.objects.filter(account=account)} == {
        "conditions",
        "categories",
        "shipping_profiles",
    }
    sent = ApiUsage.objects.aggregate(n=Sum("requests"))["n"]
    assert sent >= 3  # every request is counted by the shared budget
    cache.clear()  # another process: nothing in its own cache
    html = open_form().content.decode()
    assert ApiUsage.objects.aggregate(n=Sum("requests"))["n"] == sent  # nothing sent to Reverb
    shipping = ReferenceList.objects.get(account=account, name="shipping_profiles").choices[0]
    assert f'value="{shipping[0]}"' in html and "could not be read" not in html


@pytest.mark.django_db
def test_a_cold_form_with_a_busy_budget_answers_within_the_deadline_and_says_why(
    emulator: Any, settings: Any
) -> None:
    """The stock drain has spent the shop's budget down to nothing: the form does not queue behind it, it
    opens within the person's deadline with the standard conditions and says why the lists are short."""
    import time

    cache.clear()
    settings.REVERB_RATE_BUDGET = "database"
    settings.REVERB_RATE_PER_SECOND, settings.REVERB_RATE_BURST = 0.1, 5  # a token every 10 s
    settings.REVERB_INTERACTIVE_DEADLINE = 3.0
    account = AccountFactory(name="shop")
    RateBudget.objects.create(account=account, tokens=0.0, refilled_at=time.time())
    open_form = edit_page(account)
    started = time.monotonic()
    response = open_form()
    assert response.status_code == 200 and time.monotonic() - started < settings.REVERB_INTERACTIVE_DEADLINE
    html = response.content.decode()
    assert "Reverb could not be read just now" in html and "all in use just now" in html
    assert CONDITIONS[0][1] in html  # the standard conditions
    assert not ApiUsage.objects.filter(account=account, requests__gt=0).exists()  # nothing sent


@pytest.mark.django_db
def test_a_stale_copy_opens_the_form_without_a_reverb_call_and_the_worker_reads_it_again(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lists read yesterday: the form shows them at once (no person waits on Reverb, or behind the stock
    drain, for a list the shop has), and each is sent to the worker once, however many forms open."""
    from datetime import timedelta

    from django.utils import timezone

    from backoffice.background import queue

    cache.clear()
    account = AccountFactory(name="shop")
    yesterday = timezone.now() - timedelta(days=1)
    for name in ("conditions", "categories", "shipping_profiles"):
        ReferenceList.objects.create(
            account=account, name=name, choices=[[f"old-{name}", f"Old {name}"]], fetched_at=yesterday
        )
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(queue, "enqueue", lambda path, *args, **kw: sent.append((path, *args)))
    open_form = edit_page(account)
    for _ in range(3):
        html = open_form().content.decode()
        assert 'value="old-shipping_profiles"' in html and "could not be read" not in html
    assert not ApiUsage.objects.filter(account=account, requests__gt=0).exists()  # nothing sent to Reverb
    assert sorted(sent) == [
        (reference.REFRESH_TASK, account.pk, name)
        for name in ("categories", "conditions", "shipping_profiles")
    ]
    from listings.tasks import refresh_reference

    assert refresh_reference(account.pk, *sent[-1][2:]) == "read"  # the worker's side (shipping profiles)
    fresh = ReferenceList.objects.get(account=account, name="shipping_profiles")
    assert (
        fresh.fetched_at > yesterday
        and ["old-shipping_profiles", "Old shipping_profiles"] not in fresh.choices
    )
    assert ApiUsage.objects.filter(account=account, requests__gt=0).exists()


@pytest.mark.django_db
def test_the_refresh_task_reads_only_a_named_list_never_a_path() -> None:
    """The queued task names a stored list; it cannot be made to call a function by its dotted path."""
    from listings.tasks import refresh_reference
    from tests.factories import AccountFactory

    account = AccountFactory()
    assert refresh_reference(account.pk, "os.system") == "no such list: 'os.system'"
    assert set(reference.READERS.keys()) >= {"conditions", "categories", "shipping_profiles", "carriers"}
