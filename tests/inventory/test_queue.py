"""The stock queue: latest quantity wins, only real differences are sent, zeros first, relisting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from backoffice.audit import ApiCall
from backoffice.models import ApiUsage, ReverbAccount, SyncLogEntry
from inventory import services
from inventory.models import Source, StockIntent
from listings import editing
from listings import services as listing_services
from listings.models import Listing
from orders.models import SkuMapping
from tests.factories import ListingFactory
from tests.inventory.conftest import BRAND_NEW, emu_record, inventory_listing, puts, used_listing


def put(account: ReverbAccount, sku: str, quantity: int, source: str = Source.API) -> services.RowResult:
    return services.set_stock(account, [{"sku": sku, "quantity": quantity}], source=source).rows[0]


def test_two_updates_before_sending_make_one_put(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 7)
    put(account, listing.sku, 9)
    assert StockIntent.objects.count() == 1
    result = services.drain(account)
    assert result.sent == 1 and puts(emulator) == 1
    assert emu_record(emulator, listing)["inventory"] == 9
    intent = StockIntent.objects.get()
    assert (intent.status, intent.sent_quantity) == ("sent", 9)
    assert Listing.objects.get(pk=listing.pk).inventory == 9
    assert Listing.objects.get(pk=listing.pk).pending_changes == {}
    out = SyncLogEntry.objects.get(resource="stock.out")
    assert out.status == "success" and out.web_url == listing.web_url and out.raw["source"] == "api"
    assert ApiCall.objects.filter(action="listings.push", status="success").count() == 1


def test_only_real_differences_are_sent(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    row = put(account, listing.sku, listing.inventory)
    assert row.status == "accepted" and not row.queued
    put(account, listing.sku, listing.inventory + 1)
    put(account, listing.sku, listing.inventory)  # back to Reverb's value before sending: nothing to send
    assert services.drain(account).sent == 0 and puts(emulator) == 0
    put(account, listing.sku, 3)
    services.drain(account)
    put(account, listing.sku, 3)  # the same again: already on Reverb
    assert services.drain(account).sent == 0 and puts(emulator) == 1


def test_a_zero_overtakes_a_queue_of_500(account: ReverbAccount, emulator: Any) -> None:
    others = ListingFactory.create_batch(500, account=account, inventory=1, condition_uuid=BRAND_NEW)
    services.set_stock(account, [{"sku": x.sku, "quantity": 2} for x in others], source="feed")
    listing = inventory_listing(account)
    put(account, listing.sku, 0)
    assert services.due(account).count() == 501
    assert services.due(account).first().listing_id == listing.pk
    result = services.drain(account, limit=1)
    assert result.order == [listing.sku] and result.sent == 1
    assert emu_record(emulator, listing)["inventory"] == 0
    assert emu_record(emulator, listing)["state"] in ("sold", "sold_out")
    # the rest keep their order of arrival
    assert [i.sku for i in services.due(account)[:3]] == [x.sku for x in others[:3]]


def test_a_later_zero_moves_a_queued_change_to_the_front(account: ReverbAccount, emulator: Any) -> None:
    first, second = ListingFactory.create_batch(2, account=account, inventory=1)
    services.set_stock(account, [{"sku": first.sku, "quantity": 0}], source="api")
    services.set_stock(account, [{"sku": second.sku, "quantity": 0}], source="api")
    put(account, first.sku, 1)  # back to Reverb's value: leaves the queue
    assert [i.sku for i in services.due(account)] == [second.sku]


def test_sold_out_listing_given_stock_is_relisted(account: ReverbAccount, emulator: Any) -> None:
    sold = Listing.objects.filter(account=account, state__in=("sold", "sold_out")).first()
    record = emu_record(emulator, sold)
    put(account, sold.sku, 2 if record["has_inventory"] else 1)
    services.drain(account)
    emulator.advance(2)  # Reverb publishes a second after answering (API-NOTES 16.1.3)
    emulator.settle()
    assert emu_record(emulator, sold)["state"] == "live"
    assert StockIntent.objects.get().status == "sent"


def test_ended_listing_given_stock_is_published_again(account: ReverbAccount, emulator: Any) -> None:
    listing = used_listing(account)
    put(account, listing.sku, 0)
    services.drain(account)
    assert emu_record(emulator, listing)["state"] == "ended"
    put(account, listing.sku, 1)
    result = services.drain(account)
    emulator.advance(2)  # Reverb publishes a second after answering (API-NOTES 16.1.3)
    emulator.settle()
    assert result.relisted == 1 and emu_record(emulator, listing)["state"] == "live"
    assert "Relisted" in SyncLogEntry.objects.filter(resource="stock.out").first().message


def test_held_by_push_settings_fails_with_the_reason(account: ReverbAccount, emulator: Any) -> None:
    account.push_inventory = False
    account.save()
    listing = inventory_listing(account)
    put(account, listing.sku, 5)
    result = services.drain(account)
    assert result.failed == 1 and puts(emulator) == 0
    intent = StockIntent.objects.get()
    assert intent.status == "failed" and "push settings" in intent.last_error
    row = SyncLogEntry.objects.get(resource="stock.out")
    assert row.status == "failed" and "push settings" in row.message
    account.push_inventory = True
    account.save()
    assert services.retry([intent]) == 1
    assert services.drain(account).sent == 1 and emu_record(emulator, listing)["inventory"] == 5


def test_the_shops_quantity_goes_out_in_one_put_without_a_reread(
    account: ReverbAccount, emulator: Any
) -> None:
    """The shop's system owns the stock: its quantity is sent as it is, one PUT with the inventory only,
    no read of the listing (or its SKU) before it. (Replaces the test of the listings push's conflict
    check, which re-read the listing first: two requests per change.)"""
    listing = inventory_listing(account)
    emu_record(emulator, listing)["inventory"] = 2  # changed on Reverb since the last pull
    put(account, listing.sku, 8)
    emulator.requests.clear()
    used = ApiUsage.objects.filter(account=account).aggregate(n=Sum("requests"))["n"] or 0
    result = services.drain(account)
    assert result.sent == 1 and result.failed == 0
    assert dict(emulator.requests) == {("PUT", "/api/listings/{listing_id}"): 1}
    # drawn from the account's shared rate budget, like every request of its client
    assert ApiUsage.objects.filter(account=account).aggregate(n=Sum("requests"))["n"] == used + 1
    assert emu_record(emulator, listing)["inventory"] == 8
    call = ApiCall.objects.get(action="listings.push")
    assert call.request_summary == {"inventory": 8} and call.requests == 1
    assert '"inventory": 8' in call.curl or '"inventory":8' in call.curl


def test_a_failed_put_is_tried_again_later(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 8)
    emulator.faults.rate_5xx = 1.0
    result = services.drain(account)
    emulator.faults.rate_5xx = 0.0
    assert result.failed == 1
    intent = StockIntent.objects.get()
    assert intent.status == "queued" and intent.next_try_at > timezone.now() and intent.attempts == 1
    row = SyncLogEntry.objects.get(resource="stock.out")
    assert row.status == "failed" and "will retry" in row.message
    assert services.drain(account).sent == 0  # not due yet
    StockIntent.objects.update(next_try_at=timezone.now() - timedelta(seconds=1))
    assert services.drain(account).sent == 1 and emu_record(emulator, listing)["inventory"] == 8


def test_a_persons_pending_edits_stay_pending_and_unsent(account: ReverbAccount, emulator: Any) -> None:
    account.push_title = account.push_price = True  # the account would push them: the stock push does not
    account.save()
    listing = inventory_listing(account)
    title, price = listing.title, emu_record(emulator, listing)["price"]
    editing.record_edits(listing, {"title": "Edited, not pushed yet", "price": "1.23"})
    Listing.objects.filter(pk=listing.pk).update(pending_changes=listing.pending_changes)
    pending = dict(listing.pending_changes)
    assert set(pending) == {"title", "price"}
    quantity = listing.inventory + 3
    put(account, listing.sku, quantity)
    assert services.drain(account).sent == 1
    record = emu_record(emulator, listing)
    assert record["inventory"] == quantity
    assert record["title"] == title and record["price"] == price  # nothing else went out
    call = ApiCall.objects.get(action="listings.push")
    assert call.request_summary == {"inventory": quantity}
    listing.refresh_from_db()
    assert listing.pending_changes == pending and listing.title == title  # still waiting for the person
    assert not editing.conflicts(listing)
    # ... and the person's push sends them later, without a conflict.
    listing_services.push_listing(listing, actor=None)
    assert emu_record(emulator, listing)["title"] == "Edited, not pushed yet"


def test_queue_state_counts_and_eta(account: ReverbAccount, settings: Any) -> None:
    settings.REVERB_RATE_PER_SECOND = 2.0
    ListingFactory.create_batch(10, account=account, inventory=1, condition_uuid=BRAND_NEW)
    services.set_stock(
        account,
        [{"sku": x.sku, "quantity": 3} for x in Listing.objects.filter(sku__startswith="SKU-F")],
        source="feed",
    )
    state = services.queue_state(account)
    assert state.waiting == 10 and state.oldest is not None
    assert state.eta_seconds == 10 * services.REQUESTS_PER_SEND / 2.0


def test_reverb_sale_lowers_the_shops_quantity_without_sending(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 5)
    services.drain(account)
    services.apply_reverb_sale(listing, 2, "12345")
    intent = StockIntent.objects.get()
    assert (intent.quantity, intent.sent_quantity, intent.status, intent.source) == (
        3,
        3,
        "sent",
        "reverb_order",
    )
    put(account, listing.sku, 9)
    services.apply_reverb_sale(listing, 1, "12346")  # a sale while 9 waits: 8 goes out
    assert StockIntent.objects.get().quantity == 8


def test_a_reverb_sale_placed_before_the_put_landed_is_sent_again(
    account: ReverbAccount, emulator: Any
) -> None:
    """No re-read before the PUT: a sale Reverb took just before it was overwritten by the shop's
    quantity; when the order is seen, the lower quantity is queued again instead of taken as on Reverb."""
    listing = inventory_listing(account)
    put(account, listing.sku, 5)
    services.drain(account)
    sent_at = StockIntent.objects.get().sent_at
    services.apply_reverb_sale(listing, 1, "12347", sent_at - timedelta(seconds=30))
    intent = StockIntent.objects.get()
    assert (intent.quantity, intent.sent_quantity, intent.status) == (4, 5, "queued")
    assert services.drain(account).sent == 1 and emu_record(emulator, listing)["inventory"] == 4
    services.apply_reverb_sale(listing, 1, "12348", timezone.now())  # after the PUT: Reverb took it itself
    intent = StockIntent.objects.get()
    assert (intent.quantity, intent.sent_quantity, intent.status) == (3, 3, "sent")


def test_restock_after_refund_queues_one_more(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    intent = services.restock(listing, 1, detail="refund 77")
    assert (
        intent.quantity == listing.inventory + 1 and intent.source == "refund" and intent.status == "queued"
    )


def test_one_sku_twice_in_a_batch_the_last_row_wins(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    SkuMapping.objects.create(account=account, reverb_sku=listing.sku, shop_sku="SHOP-1")
    rows = [
        {"sku": listing.sku, "quantity": 3},
        {"sku": listing.sku, "quantity": 3},
        {"sku": "SHOP-1", "quantity": 4},
        {"sku": listing.sku, "quantity": 5},
    ]
    result = services.set_stock(account, rows, source="api")
    assert result.accepted == 4
    assert StockIntent.objects.get().quantity == 5
    services.drain(account)
    assert puts(emulator) == 1 and emu_record(emulator, listing)["inventory"] == 5
