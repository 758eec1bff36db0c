"""The stock buffer (issue 27): hold back N units, or publish at most N, of what the shop's other channels
report; per account, with a listing's own buffer beating it; shown in the sync log, the stock queue and on
the listing page."""

from __future__ import annotations

from typing import Any

from django.test import Client
from rest_framework.test import APIClient

from backoffice.models import ReverbAccount
from inventory import services
from inventory.admin import StockIntentAdmin
from inventory.buffer import Buffer
from inventory.models import AccountStockBuffer, ListingStockBuffer, Source, StockIntent, StockSyncEntry
from listings.models import Listing
from tests.factories import AccountFactory, ListingFactory
from tests.inventory.conftest import emu_record, inventory_listing, used_listing
from tests.orders.helpers import role_user

URL = "/api/v1/stock/"


def put(account: ReverbAccount, sku: str, quantity: int) -> services.RowResult:
    return services.set_stock(account, [{"sku": sku, "quantity": quantity}], source=Source.API).rows[0]


def test_the_buffer_arithmetic() -> None:
    assert Buffer(hold_back=1).apply(5) == 4
    assert Buffer(at_most=2).apply(5) == 2
    assert Buffer(hold_back=3, at_most=1).apply(2) == 0  # never below 0
    assert Buffer(hold_back=1, at_most=10).apply(5) == 4
    assert Buffer().apply(7) == 7


def test_the_buffer_holds_under_the_stock_api(account: ReverbAccount, api: APIClient, emulator: Any) -> None:
    """The one-off is reported 1 with a buffer of 1: Reverb gets 0 and the listing ends, as Reverb does."""
    AccountStockBuffer.objects.create(account=account, hold_back=1)
    listing = used_listing(account)
    answer = api.put(URL, {"items": [{"sku": listing.sku, "quantity": 1}]}, format="json")
    row = answer.json()["rows"][0]
    assert (row["status"], row["quantity"], row["reverb_quantity"], row["queued"]) == ("accepted", 1, 0, True)
    intent = StockIntent.objects.get(listing=listing)
    assert (intent.reported, intent.quantity, intent.priority) == (1, 0, 0)  # a zero: at the front
    services.drain(account)
    record = emu_record(emulator, listing)
    assert record["inventory"] == 0 and record["state"] in ("ended", "sold", "sold_out")


def test_a_cap_publishes_at_most_n(account: ReverbAccount, emulator: Any) -> None:
    AccountStockBuffer.objects.create(account=account, publish_at_most=2)
    listing = inventory_listing(account)
    row = put(account, listing.sku, 5)
    assert (row.quantity, row.reverb_quantity) == (5, 2)
    services.drain(account)
    assert emu_record(emulator, listing)["inventory"] == 2
    put(account, listing.sku, 7)  # still over the cap: nothing new for Reverb, the report is kept
    intent = StockIntent.objects.get(listing=listing)
    assert (intent.reported, intent.quantity, intent.status) == (7, 2, "sent")


def test_a_listings_own_buffer_beats_the_accounts(account: ReverbAccount, emulator: Any) -> None:
    AccountStockBuffer.objects.create(account=account, hold_back=2, publish_at_most=3)
    listing = inventory_listing(account)
    other = Listing.objects.filter(account=account, condition_uuid=listing.condition_uuid).exclude(
        pk=listing.pk
    )[0]
    ListingStockBuffer.objects.create(listing=listing, hold_back=0)  # its own hold back; the account's cap
    assert put(account, listing.sku, 5).reverb_quantity == 3
    assert put(account, other.sku, 4).reverb_quantity == 2
    ListingStockBuffer.objects.filter(listing=listing).update(publish_at_most=10)
    assert put(account, listing.sku, 5).reverb_quantity == 5


def test_the_sync_log_rows_show_both_numbers(account: ReverbAccount, emulator: Any) -> None:
    AccountStockBuffer.objects.create(account=account, hold_back=1)
    listing = inventory_listing(account)
    put(account, listing.sku, 5)
    services.drain(account)
    received = StockSyncEntry.objects.get(resource=services.IN, sku=listing.sku)
    assert "received 5, 4 for Reverb (1 held back" in received.message
    assert (received.raw["reported"], received.raw["quantity"]) == (5, 4)
    sent = StockSyncEntry.objects.get(resource=services.OUT, sku=listing.sku)
    assert "received 5, sent 4: 1 held back by the stock buffer" in sent.message
    assert sent.quantities == "received 5, sent 4 (1 held back)"
    assert emu_record(emulator, listing)["inventory"] == 4


def test_a_reverb_sale_and_a_refund_restock_count_from_the_reported_quantity(
    account: ReverbAccount, emulator: Any
) -> None:
    AccountStockBuffer.objects.create(account=account, hold_back=1)
    listing = inventory_listing(account)
    put(account, listing.sku, 5)
    services.apply_reverb_sale(listing, 1, "1001")
    intent = StockIntent.objects.get(listing=listing)
    assert (intent.reported, intent.quantity) == (4, 3)
    intent = services.restock(listing, 1)  # the item came back: the shop has 5 again, Reverb gets 4
    assert (intent.reported, intent.quantity) == (5, 4)


def test_the_buffer_is_shown_in_the_queue_and_on_the_listing_page(
    account: ReverbAccount, admin_client: Any, emulator: Any
) -> None:
    AccountStockBuffer.objects.create(account=account, hold_back=1)
    listing = inventory_listing(account)
    put(account, listing.sku, 5)
    assert StockIntentAdmin.buffer_held(None, StockIntent.objects.get()) == "5 reported, 1 held back"
    page = admin_client.get(f"/admin/listings/listing/{listing.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Reverb gets 4 of the 5 reported: 1 held back" in text
    assert f"/admin/inventory/listingstockbuffer/add/?listing={listing.pk}" in text
    queue = admin_client.get("/admin/inventory/stockintent/")
    assert "5 reported, 1 held back" in queue.content.decode()


def test_managers_edit_the_buffers_in_the_admin(account: ReverbAccount, strict_membership: None) -> None:
    manager = role_user("m", "Manager")
    account.members.add(manager)
    client = Client()
    client.force_login(manager)
    listing = inventory_listing(account)
    added = client.post(
        "/admin/inventory/accountstockbuffer/add/",
        {"account": account.pk, "hold_back": "1", "publish_at_most": ""},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert AccountStockBuffer.objects.get(account=account).hold_back == 1
    form = client.get(f"/admin/inventory/listingstockbuffer/add/?listing={listing.pk}")
    assert form.status_code == 200
    added = client.post(
        "/admin/inventory/listingstockbuffer/add/",
        {"listing": listing.pk, "hold_back": "", "publish_at_most": "2"},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    own = ListingStockBuffer.objects.get(listing=listing)
    assert (own.hold_back, own.publish_at_most) == (None, 2)
    assert put(account, listing.sku, 5).reverb_quantity == 2
    elsewhere = ListingFactory(account=AccountFactory(name="other-shop"))
    refused = client.post(
        "/admin/inventory/listingstockbuffer/add/", {"listing": elsewhere.pk, "hold_back": "1"}
    )
    assert refused.status_code == 200 and not ListingStockBuffer.objects.filter(listing=elsewhere).exists()


def test_a_changed_buffer_applies_to_what_was_reported_already(
    account: ReverbAccount, admin_client: Any, emulator: Any
) -> None:
    listing = inventory_listing(account)
    put(account, listing.sku, 5)
    services.drain(account)
    assert emu_record(emulator, listing)["inventory"] == 5
    admin_client.post(
        "/admin/inventory/accountstockbuffer/add/",
        {"account": account.pk, "hold_back": "1", "publish_at_most": ""},
    )
    intent = StockIntent.objects.get(listing=listing)
    assert (intent.reported, intent.quantity, intent.status, intent.source) == (5, 4, "queued", "person")
    logged = StockSyncEntry.objects.filter(resource=services.IN, sku=listing.sku).order_by("-id")[0]
    assert logged.message.startswith("stock buffer changed: received 5, 4 for Reverb")
    services.drain(account)
    assert emu_record(emulator, listing)["inventory"] == 4
    own = ListingStockBuffer.objects.create(listing=listing, hold_back=0)
    admin_client.post(f"/admin/inventory/listingstockbuffer/{own.pk}/delete/", {"post": "yes"})
    assert StockIntent.objects.get(listing=listing).quantity == 4  # the account's again: unchanged
    admin_client.post("/admin/inventory/listingstockbuffer/add/", {"listing": listing.pk, "hold_back": "0"})
    assert StockIntent.objects.get(listing=listing).quantity == 5
