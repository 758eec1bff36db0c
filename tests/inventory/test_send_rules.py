"""One writer per listing, one drain per account, Reverb's answer as "on Reverb", the forced resend and
the nightly repair (issue 23). The overlap itself is tested for real in test_stock_overlap.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backoffice.models import ReconciliationFinding, ReverbAccount
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.sync.reconcile import reconcile_account
from inventory import services, tasks
from inventory.models import Source, StockIntent, StockQueue
from listings.models import Listing
from tests.factories import ListingFactory
from tests.inventory.conftest import BRAND_NEW, emu_record, inventory_listing, puts


def put(account: ReverbAccount, sku: str, quantity: int, **extra: Any) -> services.RowResult:
    return services.set_stock(account, [{"sku": sku, "quantity": quantity, **extra}], source=Source.API).rows[
        0
    ]


def brand_new(account: ReverbAccount, n: int) -> list[Listing]:
    return ListingFactory.create_batch(n, account=account, inventory=1, condition_uuid=BRAND_NEW)


def queue(account: ReverbAccount) -> list[str]:
    return [i.sku for i in services.due(account)]


def test_a_collapsed_change_keeps_its_place_in_the_queue(account: ReverbAccount, emulator: Any) -> None:
    first, second = brand_new(account, 2)
    put(account, first.sku, 40)
    put(account, second.sku, 41)
    put(account, first.sku, 42)  # the same listing again before it was sent: still ahead of `second`
    assert queue(account) == [first.sku, second.sku]
    assert StockIntent.objects.get(listing=first).quantity == 42


def test_zeros_first_then_in_order_of_arrival_even_collapsed(account: ReverbAccount, emulator: Any) -> None:
    a, b, c = brand_new(account, 3)
    put(account, a.sku, 5)
    put(account, b.sku, 6)
    put(account, c.sku, 0)
    put(account, a.sku, 7)
    assert queue(account) == [c.sku, a.sku, b.sku]


class ChangeWhileWaiting:
    """A budget that makes the send wait, during which the shop sends a newer quantity."""

    def __init__(self, account: ReverbAccount, sku: str, quantity: int) -> None:
        self.account, self.sku, self.quantity, self.done = account, sku, quantity, False

    def acquire(self, key: str, cost: int = 1) -> float:
        if not self.done:
            self.done = True
            put(self.account, self.sku, self.quantity)
        return 0.0

    def penalize(self, key: str, seconds: float) -> None:
        pass

    def paused_for(self, key: str) -> float:
        return 0.0


def test_the_quantity_sent_is_read_after_the_budget_is_granted(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 30)
    client = account.client(rate_limiter=ChangeWhileWaiting(account, listing.sku, 31))
    sent: list[bytes | None] = []
    client.send_hooks.append(lambda method, url, body: sent.append(body) if method == "PUT" else None)
    services.drain(account, client=client)
    assert sent == [b'{"inventory": 31}']  # one PUT, of the newest quantity, not 30 then 31
    intent = StockIntent.objects.get(listing=listing)
    assert (intent.status, intent.sent_quantity, emu_record(emulator, listing)["inventory"]) == (
        "sent",
        31,
        31,
    )


def test_a_change_during_the_put_is_sent_next(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 30)
    client = account.client(rate_limiter=UnlimitedRateLimiter())
    changed = []

    def during(method: str, url: str, body: bytes | None) -> None:
        if method == "PUT" and not changed:
            changed.append(put(account, listing.sku, 33))  # queued, not taken as on Reverb meanwhile

    client.send_hooks.append(during)
    result = services.drain(account, client=client)
    assert result.sent == 2 and puts(emulator) == 2
    intent = StockIntent.objects.get(listing=listing)
    assert changed[0].queued
    assert (intent.status, intent.sent_quantity, emu_record(emulator, listing)["inventory"]) == (
        "sent",
        33,
        33,
    )


def test_on_reverb_is_what_reverb_answered(account: ReverbAccount, emulator: Any, monkeypatch: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 30)
    real = services.listing_services.push_inventory

    def reverb_says_29(listing: Listing, quantity: int, **kw: Any) -> Any:
        done = real(listing, quantity, **kw)
        done.obj.inventory = 29  # Reverb's answer differs from what was sent
        return done

    monkeypatch.setattr(services.listing_services, "push_inventory", reverb_says_29)
    assert services.drain(account).failed == 1
    intent = StockIntent.objects.get(listing=listing)
    assert intent.sent_quantity == 29 and intent.status == "queued" and intent.next_try_at is not None
    assert "Reverb answered 29" in intent.last_error


def test_a_second_drain_of_the_account_returns_at_once(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 30)
    StockQueue.objects.filter(pk=account.pk).update(
        drain_token="other", drain_until=timezone.now() + timedelta(minutes=1)
    )
    result = services.drain(account)
    assert result.busy and puts(emulator) == 0
    StockQueue.objects.filter(pk=account.pk).update(drain_until=timezone.now() - timedelta(seconds=1))
    assert services.drain(account).sent == 1  # a lease that ran out (a dead worker) is taken over


def test_a_claimed_intent_is_not_sent_by_anyone_else(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 30)
    intent = StockIntent.objects.get(listing=listing)
    StockIntent.objects.filter(pk=intent.pk).update(
        claim_token="x", claimed_until=timezone.now() + timedelta(minutes=1)
    )
    assert services.send(intent) == "busy" and puts(emulator) == 0
    assert services.drain(account).sent == 0
    put(account, listing.sku, listing.inventory)  # in flight: the mirror is not taken as done
    assert StockIntent.objects.get(pk=intent.pk).status == "queued"


@pytest.fixture
def drains(monkeypatch: Any) -> list[tuple[Any, ...]]:
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        "backoffice.background.queue.enqueue_now", lambda path, *args, **kw: sent.append((path, *args))
    )
    return sent


def test_many_api_calls_ask_for_one_drain(
    account: ReverbAccount, api: Any, drains: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    first, second = inventory_listing(account), brand_new(account, 1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            answer = api.put(
                "/api/v1/stock/", {"items": [{"sku": first.sku, "quantity": 50 + n}]}, format="json"
            )
            assert answer.status_code == 200 and answer.json()["queued"] == 1
    assert drains == [("inventory.tasks.drain_account", account.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        tasks.drain_account(account.pk)  # the task starts: a change arriving now asks for one more
        put(account, second.sku, 60)
        services.request_drain(account.pk)
        services.request_drain(account.pk)
    assert len(drains) == 2


def test_force_resends_an_unchanged_quantity(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 30)
    services.drain(account)
    assert not put(account, listing.sku, 30).queued  # the same again: nothing to send
    row = put(account, listing.sku, 30, force=True)
    assert row.queued
    assert services.drain(account).sent == 1 and puts(emulator) == 2
    assert not StockIntent.objects.get(listing=listing).forced
    assert put(account, listing.sku, listing.inventory, force=True).queued  # even equal to the mirror


def test_force_through_the_api(account: ReverbAccount, api: Any, emulator: Any) -> None:
    listing = inventory_listing(account)
    body = {"items": [{"sku": listing.sku, "quantity": 121}]}
    api.put("/api/v1/stock/", body, format="json")
    services.drain(account)
    assert api.put("/api/v1/stock/", body, format="json").json()["queued"] == 0
    body["items"][0]["force"] = True
    assert api.put("/api/v1/stock/", body, format="json").json()["queued"] == 1


def test_the_night_queues_what_reverb_does_not_have(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 121)
    services.drain(account)
    with emulator.lock:  # a stale send landed last: Reverb has 56, the product says 121 is on Reverb
        emu_record(emulator, listing)["inventory"] = 56
    StockIntent.objects.update(sent_at=timezone.now() - timedelta(hours=1))
    client = account.client(rate_limiter=UnlimitedRateLimiter())
    report = reconcile_account(account, client=client, resources=["listings"], notify=False)
    intent = StockIntent.objects.get(listing=listing)
    assert (intent.status, intent.sent_quantity) == ("queued", 56)
    finding = ReconciliationFinding.objects.get(report=report, field="stock")
    assert (finding.ours, finding.theirs, finding.object_key) == ("121", "56", listing.reverb_id)
    services.drain(account, client=client)
    assert emu_record(emulator, listing)["inventory"] == 121
    assert StockIntent.objects.get(listing=listing).status == "sent"


def test_the_tick_does_not_ask_again_while_a_drain_is_pending(
    account: ReverbAccount, drains: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    put(account, inventory_listing(account).sku, 30)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tick()
        tasks.tick()
    assert drains.count(("inventory.tasks.drain_account", account.pk)) == 1
    StockQueue.objects.filter(pk=account.pk).update(drain_requested_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tick()  # a request that long unanswered is taken as lost
    assert drains.count(("inventory.tasks.drain_account", account.pk)) == 2
