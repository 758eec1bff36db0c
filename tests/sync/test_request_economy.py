"""Issue 17, goal 1: with nothing changing, each scheduled pull costs one request per stream whatever the
shop's size, and a new order, refund request, offer, message or payout is in the mirror after one pull.

The emulator's tiny shop is generated "now", so its latest rows sit inside any watermark's overlap; `aged`
moves a table's history a day back (and the mirror re-reads it) so that "nothing changed" is true.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backoffice.models import SyncRun
from backoffice.sync.runner import sync_resource
from listings.models import Listing
from messaging.models import Message, Negotiation
from orders.models import Order
from payouts.models import Payout
from refunds.models import RefundRequest
from tests.orders.helpers import simulate

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def aged(emulator: Any, shop: Any, resource: str, *tables: str) -> None:
    """Every row of `tables` last changed a day ago; then a complete pull, so the mirror holds them."""
    for table in tables:
        for row in emulator.store.table(table).values():
            for name in ("created_at", "updated_at", "paid_at", "last_message_at"):
                if row.get(name) is not None:
                    row[name] -= DAY
    assert sync_resource(shop, resource, full=True).ok


def gets(emulator: Any, path: str) -> int:
    return emulator.requests[("GET", path)]


@pytest.mark.parametrize(
    "resource, table, path",
    [
        ("orders", "orders", "/api/my/orders/selling/all"),
        ("refunds", "refund_requests", "/api/my/refund_requests/selling"),
        ("payments", "payments", "/api/my/payments/selling"),
    ],
)
def test_a_date_filtered_pull_with_nothing_changed_costs_one_request(
    shop: Any, emulator: Any, settings: Any, resource: str, table: str, path: str
) -> None:
    settings.REVERB_PER_PAGE = 1  # every row in the window would cost a request
    aged(emulator, shop, resource, table)
    sync_resource(shop, resource)  # the watermark now follows an incremental run
    before = gets(emulator, path)
    run = sync_resource(shop, resource)
    assert run.ok and not run.full
    assert run.since is not None and run.since >= run.started_at - timedelta(minutes=20)  # minutes, not a day
    assert gets(emulator, path) - before == 1 and run.requests == 1


@pytest.mark.parametrize(
    "resource, path",
    [
        ("negotiations", "/api/my/listings/negotiations"),
        ("payouts", "/api/my/payouts"),
        ("conversations", "/api/my/conversations"),
    ],
)
def test_a_newest_first_pull_with_nothing_changed_costs_one_request(
    shop: Any, emulator: Any, settings: Any, resource: str, path: str
) -> None:
    settings.REVERB_PER_PAGE = 1
    assert SyncRun.objects.get(account=shop, resource=resource).full  # the first pull was complete
    before = gets(emulator, path)
    run = sync_resource(shop, resource)
    assert run.ok and not run.full and (run.created, run.updated) == (0, 0)
    assert gets(emulator, path) - before == 1  # was every page, every run
    before = gets(emulator, path)
    assert sync_resource(shop, resource, full=True).ok
    assert gets(emulator, path) - before > 1  # a full run (the nightly pass) still reads every page


def test_a_new_order_appears_after_one_pull_and_its_listing_is_reread_by_sku(
    shop: Any, emulator: Any
) -> None:
    aged(emulator, shop, "orders", "orders")
    order = simulate(emulator, "new_order")
    listing = emulator.store.table("listings")[int(order["product_id"])]
    before = gets(emulator, "/api/my/listings")
    run = sync_resource(shop, "orders")
    assert run.ok and Order.objects.filter(account=shop, order_number=order["order_number"]).exists()
    assert gets(emulator, "/api/my/listings") - before == 1  # one SKU read, never a scan
    mirrored = Listing.objects.get(account=shop, reverb_id=str(listing["id"]))
    assert mirrored.inventory == listing["inventory"]  # the sale's stock change is in the mirror
    (child,) = run.children
    assert (child.resource, child.requests, child.full) == ("listings", 1, False)


def test_a_shipped_order_does_not_reread_its_listing(shop: Any, emulator: Any) -> None:
    aged(emulator, shop, "orders", "orders")
    paid = next(o for o in emulator.store.table("orders").values() if o["status"] == "paid")
    simulate(emulator, "order_changed", order_number=paid["order_number"], status="shipped")
    before = gets(emulator, "/api/my/listings")
    run = sync_resource(shop, "orders")
    assert run.ok and run.updated == 1
    assert gets(emulator, "/api/my/listings") == before  # shipping says nothing new about the listing


def test_a_complete_orders_pull_does_not_reread_listings_one_by_one(shop: Any, emulator: Any) -> None:
    before = gets(emulator, "/api/my/listings")
    Order.objects.filter(account=shop).update(payload_hash="")  # every order "changed"
    assert sync_resource(shop, "orders", full=True).ok
    assert gets(emulator, "/api/my/listings") == before  # the listings' own complete scan covers them


def test_a_new_refund_request_appears_after_one_pull(shop: Any, emulator: Any) -> None:
    aged(emulator, shop, "refunds", "refund_requests")
    order = simulate(emulator, "new_order")
    refund = simulate(emulator, "refund_request", order_number=order["order_number"])
    assert sync_resource(shop, "refunds").ok
    assert RefundRequest.objects.filter(account=shop, reverb_id=str(refund["id"])).exists()


def test_a_new_offer_appears_after_one_pull(shop: Any, emulator: Any, settings: Any) -> None:
    settings.REVERB_PER_PAGE = 1
    offer = simulate(emulator, "offer")
    run = sync_resource(shop, "negotiations")
    assert run.ok and not run.full
    assert Negotiation.objects.filter(account=shop, reverb_id=str(offer["id"])).exists()


def test_a_message_in_the_oldest_conversation_appears_after_one_pull(
    shop: Any, emulator: Any, settings: Any
) -> None:
    settings.REVERB_PER_PAGE = 1
    oldest = min(emulator.store.table("conversations").values(), key=lambda c: c["last_message_at"])
    conversation = simulate(emulator, "message", conversation_id=oldest["id"], body="Still for sale?")
    assert sync_resource(shop, "conversations").ok
    assert Message.objects.filter(account=shop, reverb_id=str(conversation["messages"][-1]["id"])).exists()


def test_a_new_payout_appears_after_one_pull(shop: Any, emulator: Any, settings: Any) -> None:
    settings.REVERB_PER_PAGE = 1
    simulate(emulator, "new_order")
    payout = simulate(emulator, "payout")
    run = sync_resource(shop, "payouts")
    assert run.ok and not run.full
    assert Payout.objects.filter(account=shop, reverb_id=str(payout["id"])).exists()
