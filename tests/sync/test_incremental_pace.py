"""Request economy at Reverb's pace (API-NOTES 16.3): payments by date, feedback and conversations newest
first until a page that changed nothing, never a full scan on every run."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.reverb.client import ReverbClient
from backoffice.sync.runner import sync_resource

pytestmark = pytest.mark.django_db


def test_payments_are_pulled_from_the_watermark(shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []
    real = ReverbClient.payments

    def spy(self: ReverbClient, *args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("updated_start"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ReverbClient, "payments", spy)
    run = sync_resource(shop, "payments")
    assert run.ok and not run.full and asked == [run.since] and run.since is not None


@pytest.mark.parametrize(
    "resource, paths",
    [
        ("conversations", ("/api/my/conversations",)),
    ],
)
def test_newest_first_pulls_stop_at_the_first_unchanged_page(
    shop: Any, emulator: Any, settings: Any, resource: str, paths: tuple[str, ...]
) -> None:
    settings.REVERB_PER_PAGE = 1

    def reads() -> int:
        return sum(emulator.requests[("GET", path)] for path in paths)

    before = reads()
    run = sync_resource(shop, resource)
    assert run.ok and not run.full
    assert reads() - before == len(paths)  # one page per stream (was every page, every run)
    before = reads()
    full = sync_resource(shop, resource, full=True)
    assert full.ok and reads() - before > len(paths)  # a full run still reads every page


def test_feedback_is_pulled_newest_first_incrementally(shop: Any) -> None:
    run = sync_resource(shop, "feedback")
    assert run.ok and not run.full  # was a complete scan of both directions on every run
