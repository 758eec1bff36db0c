"""Pure mappers: payload -> model fields, from JSON fixtures (documented examples where they exist)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from backoffice.sync.engine import MappingError
from backoffice.sync.mapping import read_money, when
from listings.sync import map_listing
from messaging.sync import fetch_negotiations, map_conversation, map_message, map_negotiation
from orders.sync import map_feedback, map_order, map_payment
from payouts.sync import map_line_item, map_payout
from refunds.sync import map_refund_request
from tests.sync.fixtures import load

CDT = timezone(timedelta(hours=-5))


def test_listing():
    key, f = map_listing(load("listings/sync_listing.json"))
    assert key == "12345678"
    assert (f["sku"], f["make"], f["model"], f["finish"], f["year"]) == (
        "STRAT-60",
        "Fender",
        "Stratocaster",
        "Sunburst",
        "1960s",
    )
    assert f["state"] == "live"
    assert f["price"] == Decimal("5000.00") and f["currency"] == "USD"
    assert (f["condition_name"], f["condition_uuid"]) == ("Excellent", "df268ad1-c462-4ba6-b6db-e007e23922ea")
    assert (f["inventory"], f["has_inventory"], f["offers_enabled"]) == (1, False, True)
    assert f["published_at"] == datetime(2017, 11, 8, 18, 40, tzinfo=CDT)
    assert f["web_url"] == "https://reverb.com/item/12345678-fender-stratocaster"
    assert f["category"] == "Electric Guitars / Solid Body"
    assert f["images"] == ["https://images.reverb.com/full/1.jpg", "https://images.reverb.com/large/2.jpg"]
    # Reverb sends no updated_at on listings: not told, so the mapper leaves the column alone (was None)
    assert "remote_updated_at" not in f


def test_listing_draft_without_published_at_and_unknown_state_kept():
    payload = load("listings/sync_listing.json")
    del payload["published_at"]
    payload["state"] = {"slug": "on_layaway", "description": "Something new"}
    _, f = map_listing(payload)
    assert "published_at" not in f  # absent is "not told" (was None); a new row gets the default None
    assert f["state"] == "on_layaway"


def test_orders_docs_example():
    order = load("orders/sync_docs_example_page.json")["orders"][0]
    key, f = map_order(order)
    assert key == f["order_number"] == "2"
    assert f["amount_product"] == Decimal("95.00")
    assert f["amount_shipping"] == Decimal("8.00")
    assert f["amount_tax"] == Decimal("0.00")  # "display": "FREE" is only display
    assert f["amount_total"] == Decimal("103.00") and f["currency"] == "USD"
    assert f["buyer_name"] == "Some Buyer" and f["buyer_id"] == "1"
    assert f["remote_created_at"] == datetime(2017, 11, 8, 23, 38, 29, tzinfo=UTC)
    assert f["remote_created_at"].tzinfo is not None
    # absent in the truncated example: not told, left out (was "" and 1); a new row gets the defaults
    assert "status" not in f and "quantity" not in f


def test_full_order():
    key, f = map_order(load("orders/sync_full_order.json"))
    assert key == "1001"
    assert (f["status"], f["order_bundle_id"], f["product_id"], f["sku"]) == (
        "paid",
        "555",
        "12345678",
        "STRAT-60",
    )
    assert (f["shipping_provider"], f["tracking_code"]) == ("UPS", "1Z999AA10123456784")
    assert f["selling_fee"] == Decimal("62.28") and f["direct_checkout_payout"] == Decimal("1238.95")
    assert f["needs_feedback_for_buyer"] is True
    assert f["web_url"] == "https://reverb.com/my/selling/orders/1001"


def test_order_bump_fee_and_tax_party_are_columns():
    """The payouts check reads them in SQL, where `raw` (json text) would be parsed per order."""
    docs = load("orders/docs_retrieve_orders_example.json")["orders"]
    f = map_order(next(o for o in docs if "tax_responsible_party" in o))[1]
    assert f["tax_responsible_party"] == "reverb"
    f = map_order(load("orders/sync_full_order.json"))[1]
    assert f["bump_fee"] == Decimal("0.00") and "tax_responsible_party" not in f  # absent: not told


@pytest.mark.parametrize(
    ("bump", "expected"),
    [
        ({"amount": "2.50", "currency": "USD"}, Decimal("2.50")),
        ("1.25", Decimal("1.25")),
        (3, Decimal("3.00")),
        ("1.005", Decimal("1.01")),
        ({"amount": None}, None),
        ("free", None),
        (True, None),
        ("1e12", None),  # beyond the column: dropped, the order still lands
        ("NaN", None),
    ],
)
def test_a_bump_fee_of_any_shape_never_refuses_the_order(bump, expected):
    payload = load("orders/sync_full_order.json")
    payload["bump_fee"] = bump
    assert map_order(payload)[1]["bump_fee"] == expected


def test_order_unknown_status_kept():
    payload = load("orders/sync_full_order.json")
    payload["status"] = "awaiting_moon_landing"
    assert map_order(payload)[1]["status"] == "awaiting_moon_landing"


def test_refund_request_docs_example():
    rr = load("refund_requests/sync_docs_example_page.json")["refund_requests"][0]
    key, f = map_refund_request(rr)
    assert key == "47"
    assert f["state"] == "conditionally_approved"
    assert f["amount"] == Decimal("87.00") and f["currency"] == "USD"
    assert (f["reason"], f["initiated_by"], f["refund_type"]) == ("buyer_return", "buyer", "full")
    assert f["order_number"] == "290"  # from the nested order


def test_payout_docs_example_takes_id_from_line_items_link():
    payout = load("payouts/sync_docs_example_page.json")["payouts"][0]
    assert "id" not in payout
    key, f = map_payout(payout)
    assert key == "54"
    assert f["total"] == Decimal("11.88") and f["currency"] == "USD"
    assert f["line_items_url"] == "https://api.reverb.com/api/my/payouts/54/line_items"


def test_payout_without_id_or_link_is_malformed():
    payout = load("payouts/sync_docs_example_page.json")["payouts"][0]
    del payout["_links"]
    with pytest.raises(MappingError, match="line_items"):
        map_payout(payout)


def test_line_item():
    item = {**load("payouts/sync_line_items_page.json")["line_items"][0], "payout_id": "54"}
    key, f = map_line_item(item)
    assert key == "54:1001"  # no id in the (inferred) shape: payout + order number
    assert f["fees"] == Decimal("105.67")
    assert f["amount_product"] == Decimal("1200.00") and f["amount_total"] == Decimal("1238.95")
    assert (f["payout_reverb_id"], f["order_number"]) == ("54", "1001")


class FakePage:
    def __init__(self, items):
        self.items = items


class FakeClient:
    def __init__(self, pages):
        self._pages = pages

    def negotiations(self):
        return iter(FakePage(p) for p in self._pages)


def test_negotiations_flattened_from_listings():
    listings = load("negotiations/sync_listings_with_negotiations.json")["listings"]
    (rows,) = list(fetch_negotiations(FakeClient([listings]), None))
    key, f = map_negotiation(rows[0])
    assert key == "53447768"
    assert f["listing_reverb_id"] == "12345678"
    assert f["last_offered_price"] == Decimal("4500.00") and f["currency"] == "USD"
    assert f["last_offered_total"] == Decimal("4545.00")
    assert (f["state"], f["actionable"], f["buyer_name"], f["offers_count"]) == (
        "active",
        True,
        "Grace Hopper",
        1,
    )
    assert f["expires_at"] == datetime(2026, 3, 26, 16, 15, 12, tzinfo=CDT)


def test_conversation_and_messages():
    conv = load("conversations/sync_conversation_detail.json")
    key, f = map_conversation(conv)
    assert key == "901"
    assert (f["subject"], f["unread"], f["other_party_name"], f["listing_reverb_id"]) == (
        "Is the Strat still available?",
        True,
        "Ada Lovelace",
        "12345678",
    )
    mkey, mf = map_message({**conv["messages"][1], "conversation_id": 901})
    assert mkey == "5002"
    assert (mf["conversation_reverb_id"], mf["body"], mf["sender_name"]) == ("901", "Yes!", "Gear Shop")
    assert mf["sent_at"] == datetime(2026, 10, 3, 12, tzinfo=CDT)


def test_payment_and_feedback():
    key, f = map_payment(load("payments/sync_payment.json"))
    assert key == "7001" and f["amount"] == Decimal("1344.62") and f["order_number"] == "1001"
    assert f["status"] == "paid"
    key, f = map_feedback(load("feedback/sync_feedback_received.json"))
    assert key == "8001" and f["direction"] == "received" and f["rating"] == 5


def test_money():
    assert read_money({"p": {"amount": "12.50", "currency": "EUR"}}, "p") == (Decimal("12.50"), "EUR")
    assert read_money({"p": {"amount_cents": 1250, "currency": "USD"}}, "p") == (Decimal("12.5"), "USD")
    assert read_money({"p": {"original": {"amount": "3.00", "currency": "CAD"}, "display": {}}}, "p") == (
        Decimal("3.00"),
        "CAD",
    )
    assert read_money({}, "p") == (None, "")
    assert isinstance(read_money({"p": {"amount": "0.10"}}, "p")[0], Decimal)


@pytest.mark.parametrize("bad", [{"amount": "lots"}, {"amount": "NaN"}, "12.00", {"currency": "USD"}])
def test_money_malformed(bad):
    with pytest.raises(MappingError, match="price"):
        read_money({"price": bad}, "price")


def test_times_are_aware():
    assert when({"t": "2017-11-08T18:38:29-05:00"}, "t").utcoffset() == timedelta(hours=-5)
    assert when({"t": "2015-01-01T12:00-00:00"}, "t") == datetime(2015, 1, 1, 12, tzinfo=UTC)
    assert when({"t": "2017-05-12"}, "t") == datetime(2017, 5, 12, tzinfo=UTC)
    with pytest.raises(MappingError, match="t is not a timestamp"):
        when({"t": "yesterday"}, "t")


@pytest.mark.parametrize(
    ("mapper", "fixture", "breakage", "reason"),
    [
        (map_listing, "listings/sync_listing.json", {"id": None}, "id is missing"),
        (map_listing, "listings/sync_listing.json", {"price": {"amount": "five"}}, "price.amount"),
        (map_listing, "listings/sync_listing.json", {"inventory": "many"}, "inventory must be an integer"),
        (map_order, "orders/sync_full_order.json", {"order_number": ""}, "order_number is missing"),
        (map_order, "orders/sync_full_order.json", {"paid_at": "soon"}, "paid_at is not a timestamp"),
        (map_refund_request, "refund_requests/sync_docs_example_page.json", {"id": {"x": 1}}, "id must be"),
        (map_feedback, "feedback/sync_feedback_received.json", {"rating": 11}, "rating must be"),
    ],
)
def test_malformed_records_raise_mapping_error(mapper, fixture, breakage, reason):
    payload = load(fixture)
    if "refund_requests" in payload:
        payload = payload["refund_requests"][0]
    payload = {**copy.deepcopy(payload), **breakage}
    with pytest.raises(MappingError, match=reason):
        mapper(payload)


def test_non_object_payload_is_malformed():
    with pytest.raises(MappingError, match="expected an object"):
        map_listing(["not", "a", "listing"])


# ---- live shapes (API-NOTES 16 [LIVE-DATA]) -------------------------------------------------------------


def test_public_listing_shape_leaves_the_seller_fields_untold():
    """GET /listings/{id} has no sku, slug, updated_at (API-NOTES 16.1.1): the mapper must not map them
    to "" (which would blank the mirror), only leave them out."""
    key, f = map_listing(load("listings/live_public_listing.json"))
    assert key == "91978727"
    for name in ("sku", "slug", "remote_updated_at"):
        assert name not in f, name
    assert f["state"] == "live" and f["title"] and f["price"] == Decimal("1499.00") and f["currency"] == "GBP"


def test_sold_and_unknown_listing_states_are_kept_as_sent():
    payload = load("listings/sync_listing.json")
    payload["state"] = {"slug": "sold", "description": "Sold"}
    assert map_listing(payload)[1]["state"] == "sold"


def test_order_cancelled_before_payment_maps_without_totals():
    """No total, amount_tax, paid_at, shipping_address or shipping_method (API-NOTES 16.2.3)."""
    key, f = map_order(load("orders/live_cancelled_unpaid.json"))
    assert key == "77000001" and f["status"] == "cancelled"
    for name in ("amount_total", "amount_tax", "paid_at", "shipping_method", "selling_fee"):
        assert name not in f, name
    assert f["currency"] == "GBP" and f["amount_product"] == Decimal("120.00")


def test_live_paid_order_takes_the_payout_when_fees_are_missing_or_zero():
    """selling_fee absent and direct_checkout_fee "0.00" while a fee was withheld (API-NOTES 16.2.1):
    direct_checkout_payout is mapped; a numeric tax_rate and a free-text provider do not break it."""
    key, f = map_order(load("orders/live_paid_order.json"))
    assert "selling_fee" not in f and f["direct_checkout_fee"] == Decimal("0.00")
    assert f["direct_checkout_payout"] == Decimal("520.61") and f["amount_total"] == Decimal("612.50")
    assert f["shipping_provider"] == "Personal Collection "
    assert f["currency"] == "GBP"


def test_shipping_profile_id_is_read_from_either_shape():
    """/my/listings rows say shipping_profile_id; GET /listings/{id} says shipping_profile {id: "15655"}
    (API-NOTES 16.1.1): a listing re-read the public way must not look like it lost its profile."""
    from listings.editing import _profile
    from listings.models import Listing

    assert _profile(Listing(raw=load("listings/live_public_listing.json"))) == "15655"
    assert _profile(Listing(raw=load("listings/sync_listing.json"))) == "210"
    assert _profile(Listing(raw={})) == ""
