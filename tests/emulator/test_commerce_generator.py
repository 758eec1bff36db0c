"""The commerce generator: every order status, consistent listings, refunds, offers, payouts; by seed."""

from __future__ import annotations

from collections import Counter

from emulator import Emulator
from emulator.orders import STATUSES, order_total
from emulator.refunds import REFUNDED_STATES
from emulator.refunds import STATES as REFUND_STATES


def _emulator(size: object = "demo", seed: int = 1) -> Emulator:
    return Emulator(seed=seed, size=size)


def test_every_status_and_kind_of_order() -> None:
    store = _emulator().store
    orders = list(store.table("orders").values())
    assert len(orders) == 80
    assert set(Counter(o["status"] for o in orders)) == set(STATUSES)
    local = [o for o in orders if o["shipping_method"] == "local"]
    assert local and all(o["shipping_address"] is None for o in local)
    assert all(o["shipping_address"] for o in orders if o["shipping_method"] == "shipped")
    assert any(o["status"] == "paid" for o in local)  # awaiting pickup
    bundles = Counter(o["order_bundle_id"] for o in orders)
    shared = [b for b, n in bundles.items() if n > 1]
    assert shared
    for b in shared:  # one checkout: one buyer, one listing per order
        members = [o for o in orders if o["order_bundle_id"] == b]
        assert len({o["buyer"]["id"] for o in members}) == 1
        assert len({o["listing_id"] for o in members}) == len(members)
    offers = [o for o in orders if o["order_type"] == "offer"]
    assert offers and all(
        store.table("negotiations")[o["negotiation_id"]]["state"] == "accepted" for o in offers
    )
    assert all(o["buyer"]["first_name"] and o["buyer"]["last_name"] for o in orders)


def test_timestamps_in_order_and_in_the_past_year() -> None:
    store = _emulator(size="listings=300").store
    now = store.now()
    for o in store.table("orders").values():
        chain = [o["created_at"], o["paid_at"], o["shipped_at"], o["updated_at"]]
        present = [t for t in chain if t is not None]
        assert present == sorted(present), o["order_number"]
        assert o["updated_at"] <= now and (now - o["created_at"]).days <= 366
        assert o["created_at"].utcoffset() is not None
        if o["status"] in ("shipped", "received"):
            assert o["shipped_at"] and o["shipping_code"]


def test_sold_listings_agree_with_orders() -> None:
    store = _emulator().store
    listings = store.table("listings")
    for o in store.table("orders").values():
        listing = listings[o["listing_id"]]
        assert listing["created_at"] <= o["created_at"]
        if o["status"] == "cancelled":
            assert listing["state"] == "live"
        elif listing["state"] != "sold":
            assert listing["has_inventory"] and listing["inventory"] > 0


def test_refund_requests_every_state_and_refunded_orders() -> None:
    store = _emulator().store
    requests = list(store.table("refund_requests").values())
    assert {r["state"] for r in requests} == set(REFUND_STATES)
    orders = store.table("orders")
    for o in orders.values():
        if o["status"] == "refunded":
            approved = sum(
                r["amount"]
                for r in requests
                if r["order_number"] == o["order_number"] and r["state"] in REFUNDED_STATES
            )
            assert approved == order_total(o)
        assert o["refunded"] <= order_total(o)


def test_conversations_and_negotiations() -> None:
    store = _emulator().store
    conversations = list(store.table("conversations").values())
    assert len(conversations) == 20 and any(not c["read"] for c in conversations)
    assert all(c["messages"][0]["sender"] == "buyer" for c in conversations)
    active = [n for n in store.table("negotiations").values() if n["state"] == "active"]
    assert active and all(n["expires_at"] > store.now() for n in active)
    turns = {n["offers"][-1]["initiator"] for n in active}
    assert turns == {"buyer", "seller"}


def test_payouts_add_up_to_orders_minus_fees() -> None:
    store = _emulator().store
    items = store.table("line_items")
    orders = store.table("orders")
    paid_out = set()
    for p in store.table("payouts").values():
        lines = [items[i] for i in p["line_item_ids"]]
        assert sum(li["total"] for li in lines) == p["total"] > 0
        for li in lines:
            o = orders[li["order_number"]]
            fees = li["selling_fee"] + li["processing_fee"] + li["bump_fee"] + li["tax_withheld"]
            assert li["total"] == order_total(o) - fees and fees > 0
            assert o["paid_at"] <= p["created_at"] and li["order_number"] not in paid_out
            paid_out.add(li["order_number"])
    assert len(store.table("payouts")) == 8


def test_deterministic_by_seed() -> None:
    def digest(seed: int) -> list[tuple]:
        store = _emulator(seed=seed).store
        return [
            (o["order_number"], o["status"], o["price"], o["uuid"], o["buyer"]["last_name"])
            for o in store.table("orders").values()
        ]

    assert digest(7) == digest(7)
    assert digest(7) != digest(8)


def test_a_big_shop_is_shaped_by_age_like_a_live_one() -> None:
    """From AGE_SHAPED_FROM orders, the deadline lists hold the last days' work (API-NOTES 16: only a live
    shop's newest orders await shipment), not a share of the whole year."""
    from datetime import timedelta

    from emulator.generator.commerce import _SHIP_DAYS, AGE_SHAPED_FROM

    store = _emulator(size=f"listings=1000,orders={AGE_SHAPED_FROM}").store
    now = store.now()
    orders = list(store.table("orders").values())
    walk = set(range(len(STATUSES) + 1))  # the first orders walk every status (a tiny shop's)
    shaped = [o for i, o in enumerate(sorted(orders, key=lambda o: int(o["order_number"]))) if i not in walk]
    to_ship = [o for o in shaped if o["status"] == "paid" and o["shipping_method"] != "local"]
    assert 0 < len(to_ship) < len(orders) / 50
    assert all(now - o["paid_at"] <= timedelta(days=max(_SHIP_DAYS) + 1) for o in to_ship)
    assert all(
        now - o["created_at"] <= timedelta(days=3)
        for o in shaped
        if o["paid_at"] is None and o["status"] != "cancelled"
    )
    for o in orders:  # still in order and in the past
        chain = [t for t in (o["created_at"], o["paid_at"], o["shipped_at"], o["updated_at"]) if t]
        assert chain == sorted(chain) and o["updated_at"] <= now, o["order_number"]
    refunds = store.table("refund_requests").values()
    open_refunds = [r for r in refunds if r["state"] in ("pending_seller_response", "conditionally_approved")]
    assert len(open_refunds) < len(refunds) / 5
    negotiations = list(store.table("negotiations").values())
    active = [n for n in negotiations if n["state"] == "active"]
    assert all(n["expires_at"] > now for n in active) and len(active) < len(negotiations) / 5
    unread = [c for c in store.table("conversations").values() if not c["read"]]
    assert all(now - c["messages"][-1]["created_at"] <= timedelta(days=3) for c in unread)


def test_the_demo_keeps_its_mix() -> None:
    """Below AGE_SHAPED_FROM orders nothing is reshaped: the demo shows a dozen orders to ship."""
    orders = _emulator().store.table("orders").values()
    assert sum(o["status"] == "paid" and o["shipping_method"] != "local" for o in orders) == 12


def test_a_backlog_shop_keeps_the_mix_at_any_size() -> None:
    """`backlog=1`: a big shop with a backlog to ship at once (the bulk-ship benches ask for one)."""
    orders = _emulator(size="listings=40,orders=1900,backlog=1").store.table("orders").values()
    assert sum(o["status"] == "paid" and o["shipping_method"] != "local" for o in orders) >= 200
