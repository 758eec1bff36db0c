"""The one-minute tick: drains the queue, watches the mirror, fetches due feeds, sends due events."""

from __future__ import annotations

from typing import Any

from backoffice.background import schedules
from backoffice.models import ReverbAccount
from inventory import services, tasks
from inventory.models import SeenState, StockFeed, StockIntent
from tests.inventory.conftest import emu_record, inventory_listing


def test_the_tick_is_scheduled() -> None:
    assert "inventory.tasks.tick" in {spec.func for spec in schedules.SCHEDULES}


def test_tick_drains_watches_and_fetches(
    account: ReverbAccount, emulator: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WORKER_BACKEND = "inline"
    listing = inventory_listing(account)
    services.set_stock(account, [{"sku": listing.sku, "quantity": 7}], source="api")
    feed = StockFeed.objects.create(name="broken", account=account, url="ftp://example.com/x.csv")
    with django_capture_on_commit_callbacks(execute=True):  # enqueue runs on commit
        tasks.tick()
    assert StockIntent.objects.get().status == "sent" and emu_record(emulator, listing)["inventory"] == 7
    assert SeenState.objects.filter(account=account, kind="_cursor").exclude(state="").exists()
    feed.refresh_from_db()
    assert feed.last_status == "failed" and "Only http and https" in feed.last_error


def test_a_disabled_account_is_not_drained(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    services.set_stock(account, [{"sku": listing.sku, "quantity": 7}], source="api")
    account.enabled = False
    account.save()
    assert tasks.drain_account(account.pk).startswith(account.name)
    assert StockIntent.objects.get().status == "queued"
