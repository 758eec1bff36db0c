"""Seeded commerce: orders in every status, payments, feedback, refund requests, conversations, offers and
payouts, deterministic by seed and linear in size (20k orders in a few seconds).

Sold listings are made here with `make_listing` (`sold_listings(sizes)` of them, which the listings part
leaves out, so the shop has `sizes["listings"]` listings in all). A one-of-a-kind listing has one order and
is left sold out (or relisted when the order was cancelled); a multi-unit (inventory) listing may take
several orders and is left sold out or live with stock, so listings and orders agree.
Times fall in the year before midnight today (as the listings generator does), so one seed gives the same
records all day; created_at <= paid_at <= shipped_at <= updated_at <= midnight.

A shop of AGE_SHAPED_FROM orders or more is shaped by age, as live shops are: an order waits for its
tracking only for its own shipping delay of a few days (API-NOTES 16 [LIVE-DATA]: of a live shop's 50
newest orders only the 3 newest, under 3 days old, were `paid` and unshipped; every older one was shipped,
cancelled or refunded), an unpaid order lapses to cancelled after two days, a refund request is open for a
week, an offer is active for the day it was last answered in (offers expire 48 h after, section 7), and a
conversation goes unread for three days. So a big shop's deadline lists hold its last days' work, not a
share of its whole history. A smaller shop (the demo, the tests), or one sized with `backlog=1`, keeps the
mix below, spread over the year, so a few dozen orders still show every state at once.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .. import negotiations as neg
from ..conversations import add_message, new_conversation
from ..core import to_decimal
from ..orders import (
    EXPEDITED,
    STATUSES,
    add_feedback,
    make_address,
    make_buyer,
    mark_paid,
    new_order,
    order_total,
)
from ..payouts import create_payout, payable
from ..refunds import REVERB_STATES, new_refund_request
from ..store import Store
from .listings import make_listing, sold_listings

# Status mix (ours): mostly completed sales, some awaiting shipment, a tail of the rare statuses.
_WEIGHTED = (
    ("received", 30),
    ("shipped", 22),
    ("paid", 12),
    ("picked_up", 3),
    ("unpaid", 8),
    ("payment_pending", 2),
    ("pending_review", 2),
    ("blocked", 1),
    ("partially_paid", 1),
    ("refunded", 5),
    ("cancelled", 4),
)
_STATUS_POOL = tuple(s for s, w in _WEIGHTED for _ in range(w))
EXPEDITED_EVERY = 7
_AWAITING_PAYMENT = frozenset({"unpaid", "payment_pending", "pending_review", "blocked", "partially_paid"})
AGE_SHAPED_FROM = 1000  # orders: from this size the deadline states follow age (the docstring)
# Days from payment to tracking (ours, in line with the live sample: most ship in one to three days).
_SHIP_DAYS = (0.5, 1, 1, 1.5, 2, 2, 3, 5)
_UNPAID_DAYS = 2  # an unpaid order older than this lapsed (cancelled, no paid_at: as live)
_REFUND_OPEN_DAYS = 7
_UNREAD_DAYS = 3
_OFFER_OPEN_HOURS = 20  # last answered in the 20 h before midnight: still active all day (48 h lifetime)
_OPEN_REFUND_STATES = frozenset({"pending_seller_response", "conditionally_approved"})
# Free text on real orders (API-NOTES 16.2.6 [LIVE-DATA]): "Personal Collection " keeps its trailing space.
_PROVIDERS = (
    "USPS",
    "USPS",
    "UPS",
    "FedEx",
    "DHL",
    "Personal Collection ",
    "CanPar",
    "Canada Post",
    "Royal Mail",
)
_TAX_RATES = (Decimal("0.0625"), Decimal("0.0825"), Decimal("0.07"), Decimal("0.06"))
_BUYER_LINES = (
    "Is this still available?",
    "Would you ship to Canada?",
    "Any chance you'd take less?",
    "Does the case come with it?",
    "Can you send more photos of the neck?",
    "Any fret wear?",
    "What's the weight?",
    "Is the serial number visible?",
)
_SELLER_LINES = (
    "Yes, still available!",
    "Happy to, shipping would be a bit more.",
    "Sending photos now.",
    "Case included.",
    "Frets are in great shape.",
)
_REFUND_STATES = ("pending_seller_response", "conditionally_approved", "approved", "denied")
_REFUND_REASONS = (
    "buyer_return",
    "buyer_change_of_heart",
    "shipping_damage",
    "item_defective",
    "lost_shipment",
    "buyer_no_like",
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _at(anchor: datetime, rng: random.Random, min_days: float, max_days: float) -> datetime:
    return anchor - timedelta(seconds=rng.randint(int(min_days * 86400), int(max_days * 86400)))


def _advance(order: dict[str, Any], status: str, rng: random.Random, store: Store, anchor: datetime) -> None:
    """Walk an unpaid order forward to `status`, with timestamps in order and before `anchor`."""
    t = order["created_at"]
    if status == "refunded":  # delivered first; the approved full refund then makes it `refunded`
        status = "received"
    if status in _AWAITING_PAYMENT:
        order["status"] = status
    elif status == "cancelled":
        order["status"] = "cancelled"
        t += timedelta(hours=rng.randint(1, 48))
    else:
        t += timedelta(minutes=rng.randint(1, 90))
        mark_paid(store, order, t)
        if status in ("shipped", "received") and order["shipping_method"] != "local":
            t = min(t + timedelta(hours=rng.randint(6, 96)), anchor)  # a recent order shipped by now
            order.update(
                status=status,
                shipped_at=t,
                shipping_provider=rng.choice(_PROVIDERS),
                shipping_code=f"94{rng.randint(10**19, 10**20 - 1)}",
                shipment_status="in_transit" if status == "shipped" else "delivered",
            )
            if status == "received":
                t = min(t + timedelta(days=rng.randint(2, 6)), anchor)
        elif status == "picked_up" or (
            status in ("shipped", "received") and order["shipping_method"] == "local"
        ):
            t = min(t + timedelta(hours=rng.randint(2, 72)), anchor)
            order.update(status="picked_up", picked_up_at=t, shipment_status="picked_up")
    order["updated_at"] = min(t + timedelta(minutes=rng.randint(0, 600)), anchor)


def generate(store: Store, rng: random.Random, sizes: dict[str, int]) -> None:
    anchor = store.now().replace(hour=0, minute=0, second=0)  # midnight today: stable all day
    n_orders = sizes.get("orders", 0)
    buyers = [make_buyer(rng, 2_000_000 + i) for i in range(max(20, n_orders // 3 + 1))]
    addresses = [make_address(rng, 130_000_000 + i, b) for i, b in enumerate(buyers)]
    recent_days = sizes.get("recent_weeks", 0) * 7
    # `backlog=1` in the size keeps the mix at any size: a shop with a big backlog to ship at once (the
    # bulk-ship benches), not a live-shaped one.
    by_age = n_orders >= AGE_SHAPED_FROM and not sizes.get("backlog")
    sold = sold_listings(sizes)
    orders = _orders(store, rng, anchor, n_orders, buyers, addresses, sold, recent_days, by_age)
    _refund_requests(store, rng, orders, sizes.get("refund_requests", 0), anchor if by_age else None)
    _payouts(store, orders, anchor, sizes.get("payouts", 0), recent_days)
    live = [x for x in store.table("listings").values() if x["state"] == "live" and x["inventory"] > 0]
    _conversations(store, rng, anchor, sizes.get("conversations", 0), buyers, live, by_age)
    _negotiations(store, rng, anchor, sizes.get("negotiations", 0), buyers, addresses, live, by_age)


def _orders(
    store: Store,
    rng: random.Random,
    anchor: datetime,
    count: int,
    buyers: list[dict[str, Any]],
    addresses: list[dict[str, Any]],
    new_listings: int,
    recent_days: int = 0,
    by_age: bool = False,
) -> list[dict[str, Any]]:
    """`count` orders over `new_listings` newly made sold listings: the other orders go to multi-unit
    listings already sold here (never twice in one bundle)."""
    made: list[dict[str, Any]] = []
    sold = _SoldListings(new_listings)
    while len(made) < count:
        i = len(made)
        # The first orders walk through every status so even a tiny shop shows each one.
        status = STATUSES[i] if i < len(STATUSES) else rng.choice(_STATUS_POOL)
        if by_age and i > len(STATUSES):
            created = _at(anchor, rng, 0.01, 365)
            status = _status_at_age(status, (anchor - created).total_seconds() / 86400, rng)
        local = status == "picked_up" or (i % 19 == 7 and status in ("paid", "received", "cancelled"))
        if i == len(STATUSES):
            status, local = "paid", True  # a local pickup order awaiting pickup
        if not by_age or i <= len(STATUSES):
            # Awaiting-payment orders are recent; completed ones spread over the year.
            created = _at(anchor, rng, 0.1, 6) if status in _AWAITING_PAYMENT else _at(anchor, rng, 12, 365)
            if recent_days and status not in _AWAITING_PAYMENT and rng.random() < 0.7:
                created = _at(anchor, rng, 3, recent_days)  # a demo: most sales in the charts' weeks
        b = rng.randrange(len(buyers))
        bundle = 1 if i < len(STATUSES) or rng.random() > 0.06 else min(rng.randint(2, 3), count - i)
        bundle_id: str | None = None
        tax_rate = rng.choice(_TAX_RATES) if rng.random() < 0.3 else Decimal("0")
        in_bundle: set[int] = set()
        for _ in range(bundle):  # a bundle: one checkout, one order per listing, one order_bundle_id
            listing = sold.pick(store, rng, created, count - len(made), in_bundle)
            in_bundle.add(listing["id"])
            order = _one_order(
                store,
                rng,
                anchor,
                created,
                status,
                local,
                buyers[b],
                addresses[b],
                tax_rate,
                bundle_id,
                listing,
                sold,
            )
            bundle_id = order["order_bundle_id"]
            made.append(order)
    return made


def _status_at_age(status: str, age_days: float, rng: random.Random) -> str:
    """What an order drawn as `status` is at `age_days` old in a shop shaped by age (the docstring)."""
    if status in _AWAITING_PAYMENT:
        return status if age_days <= _UNPAID_DAYS else "cancelled"
    if status in ("paid", "shipped", "received", "refunded"):
        if age_days < rng.choice(_SHIP_DAYS):
            return "paid"  # not shipped yet
        return "shipped" if status == "paid" else status
    return status


class _SoldListings:
    """The listings orders sell: `budget` new ones, then multi-unit ones taking more orders."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.multi_unit: list[dict[str, Any]] = []  # made here and holding inventory: may sell again
        self.relisted: set[int] = set()  # a cancelled order put these back on sale: they stay live

    def pick(
        self, store: Store, rng: random.Random, created: datetime, orders_left: int, exclude: set[int]
    ) -> dict[str, Any]:
        # Some multi-unit listing outside this bundle? (At most len(exclude) of them are in it.)
        reusable = self.budget < orders_left and any(
            x["id"] not in exclude for x in self.multi_unit[: len(exclude) + 1]
        )
        if self.budget > 0 and (not reusable or rng.random() < self.budget / orders_left):
            self.budget -= 1
            # The last new listing holds inventory when orders must still reuse one and none can be.
            force = self.budget == 0 and orders_left > 1 and not self.multi_unit
            listing = make_listing(
                store, rng, anchor=created, inventory_item=force, state="sold", inventory=0
            )
            if listing["published_at"] and listing["published_at"] > created:
                listing["published_at"] = listing["created_at"]
            if listing["has_inventory"]:
                self.multi_unit.append(listing)
            return listing
        if not reusable:  # no budget and nothing to reuse (a degenerate size): one more listing
            return make_listing(store, rng, anchor=created, inventory_item=True, state="sold", inventory=0)
        listing = rng.choice(self.multi_unit)
        while listing["id"] in exclude:
            listing = rng.choice(self.multi_unit)
        if listing["created_at"] > created:  # listed before this (earlier) order
            listing["created_at"] = created - timedelta(seconds=rng.randint(3600, 30 * 86400))
        if listing["published_at"] and listing["published_at"] > created:
            listing["published_at"] = listing["created_at"]
        return listing


def _one_order(
    store: Store,
    rng: random.Random,
    anchor: datetime,
    created: datetime,
    status: str,
    local: bool,
    buyer: dict[str, Any],
    address: dict[str, Any],
    tax_rate: Decimal,
    bundle_id: str | None,
    listing: dict[str, Any],
    sold: _SoldListings,
) -> dict[str, Any]:
    quantity = _sell(listing, rng, sold)
    is_offer = listing["offers_enabled"] and rng.random() < 0.12
    price = to_decimal(listing["price"] * Decimal(rng.choice(("0.85", "0.9", "0.95")))) if is_offer else None
    order = new_order(
        store,
        listing,
        buyer,
        created_at=created,
        quantity=quantity,
        price=price,
        local_pickup=local,
        address=address,
        order_type="offer" if is_offer else "instant",
        bundle_id=bundle_id,
        tax_rate=tax_rate,
        uuid=_uuid(rng),
    )
    # Every EXPEDITED_EVERY-th shipped order is expedited (by its number, so the random stream, and with
    # it every other generated value, stays as it was).
    if not local and int(order["order_number"]) % EXPEDITED_EVERY == 0:
        order["shipping_method"] = EXPEDITED
    if listing.get("bump_bid") or rng.random() < 0.05:
        order["bump_fee"] = to_decimal(order["price"] * quantity * Decimal("0.035"))
    if is_offer:  # the accepted negotiation the order came from
        n = neg.new_negotiation(
            store,
            listing,
            buyer,
            address,
            price=order["price"],
            at=created - timedelta(hours=rng.randint(1, 40)),
            shipping=order["shipping"],
        )
        n.update(state="accepted", order_number=order["order_number"], updated_at=created)
        order["negotiation_id"] = n["id"]
    _advance(order, status, rng, store, anchor)
    _after_sale(store, rng, order, status, listing, sold)
    listing["updated_at"] = max(listing["updated_at"] or created, created)
    return order


def _sell(listing: dict[str, Any], rng: random.Random, sold: _SoldListings) -> int:
    """The listing's state after this sale; returns the quantity sold."""
    quantity = 1
    if listing["has_inventory"] and rng.random() < 0.4:  # a multi-unit listing with stock left
        quantity = rng.choice((1, 1, 2))
        listing.update(state="live", inventory=rng.randint(1, 6))
    elif listing["id"] in sold.relisted:  # back on sale after a cancelled order: still live
        listing.update(state="live", inventory=max(listing["inventory"], 1))
    else:
        listing.update(state="sold", inventory=0)
    return quantity


def _after_sale(
    store: Store,
    rng: random.Random,
    order: dict[str, Any],
    status: str,
    listing: dict[str, Any],
    sold: _SoldListings,
) -> None:
    """What followed the order: its refund, the item back on sale, the feedback."""
    if status == "refunded":
        new_refund_request(
            store,
            order,
            amount=order_total(order),
            reason=rng.choice(_REFUND_REASONS),
            initiated_by=rng.choice(("buyer", "seller")),
            state="approved",
            at=order["updated_at"],
        )
    if status == "cancelled":  # the sale fell through: the item is back on sale
        listing.update(state="live", inventory=max(listing["inventory"], 1))
        sold.relisted.add(listing["id"])
    if order["status"] == "received":
        if rng.random() < 0.6:
            add_feedback(
                store,
                order,
                "received",
                rng.choice((5, 5, 5, 4, 3)),
                "Great seller, fast shipping!",
                order["updated_at"],
            )
        if rng.random() < 0.5:
            add_feedback(store, order, "sent", 5, "Smooth transaction, thanks!", order["updated_at"])


def _refund_requests(
    store: Store, rng: random.Random, orders: list[dict[str, Any]], count: int, by_age: datetime | None
) -> None:
    """`count` requests over shipped orders, every state in turn; with `by_age` (the anchor), a request
    is open only in its first week (older ones were answered: approved or denied)."""
    eligible = [
        o for o in orders if o["status"] in ("shipped", "received", "picked_up") and not o["refunded"]
    ]
    rng.shuffle(eligible)
    for i, o in enumerate(eligible[:count]):
        # Every state, the ones only Reverb sets last (the tiny shop's 3 requests keep the first three).
        state = (*_REFUND_STATES, *REVERB_STATES)[i % (len(_REFUND_STATES) + len(REVERB_STATES))]
        if (
            by_age
            and state in _OPEN_REFUND_STATES
            and o["updated_at"] < by_age - timedelta(days=_REFUND_OPEN_DAYS)
        ):
            state = "approved" if i % 2 else "denied"
        full = order_total(o)
        amount = full if rng.random() < 0.6 or state != "approved" else to_decimal(full * Decimal("0.3"))
        at = o["updated_at"]
        new_refund_request(
            store,
            o,
            amount=amount,
            reason=rng.choice(_REFUND_REASONS),
            initiated_by="buyer",
            state=state,
            at=at,
            note="" if state == "pending_seller_response" else "Thanks",
        )
        o["updated_at"] = at


def _payouts(
    store: Store, orders: list[dict[str, Any]], anchor: datetime, count: int, recent_days: int = 0
) -> None:
    """Oldest payable orders, in `count` payouts of consecutive paid_at, each paid two days later; with
    `recent_days`, only orders paid in those days (the demo's payouts spread over its recent weeks)."""
    if count <= 0:
        return
    since = anchor - timedelta(days=recent_days) if recent_days else None
    due = sorted(
        (
            o
            for o in orders
            if payable(o)
            and o["paid_at"] < anchor - timedelta(days=5)
            and (since is None or o["paid_at"] >= since)
        ),
        key=lambda o: o["paid_at"],
    )
    due = due[: max(len(due) * 7 // 10, min(len(due), count))]
    count = min(count, len(due))
    for k in range(count):  # `count` payouts of near-equal size
        chunk = due[k * len(due) // count : (k + 1) * len(due) // count]
        create_payout(store, chunk, min(chunk[-1]["paid_at"] + timedelta(days=2), anchor))


def _conversations(
    store: Store,
    rng: random.Random,
    anchor: datetime,
    count: int,
    buyers: list[dict[str, Any]],
    live: list[dict[str, Any]],
    by_age: bool = False,
) -> None:
    for i in range(count):
        listing = rng.choice(live) if live and i % 5 else None
        start = _at(anchor, rng, 0.5, 120)
        c = new_conversation(store, rng.choice(buyers), listing, start)
        t = start
        for k in range(rng.randint(1, 6)):
            sender = "buyer" if k % 2 == 0 else "seller"
            lines = _BUYER_LINES if sender == "buyer" else _SELLER_LINES
            add_message(store, c, sender, rng.choice(lines), t)
            t = min(t + timedelta(minutes=rng.randint(5, 900)), anchor)
        if not c["read"] and rng.random() < 0.3:  # the seller read it but has not answered yet
            c["read"] = True
        if by_age and t < anchor - timedelta(days=_UNREAD_DAYS):
            c["read"] = True  # the shop reads its messages within days


def _negotiations(
    store: Store,
    rng: random.Random,
    anchor: datetime,
    count: int,
    buyers: list[dict[str, Any]],
    addresses: list[dict[str, Any]],
    live: list[dict[str, Any]],
    by_age: bool = False,
) -> None:
    offerable = [x for x in live if x["offers_enabled"]] or live
    for i in range(count):
        if not offerable:
            return
        listing = offerable[(i * 7919) % len(offerable)]
        b = rng.randrange(len(buyers))
        state = "active" if i % 10 != 9 else ("declined" if i % 20 == 9 else "expired")  # a few finished
        # Active offers were last touched in the 20 h before midnight, so they expire after now (48 h);
        # lapsed ones were last touched days ago.
        last_at = _at(anchor, rng, 1 / 24, 20 / 24) if state != "expired" else _at(anchor, rng, 3, 30)
        if by_age:  # offers over two months: active only if answered in the last day (the docstring)
            last_at = _at(anchor, rng, 1 / 24, 60)
            hours = (anchor - last_at).total_seconds() / 3600
            state = (
                "active"
                if hours <= _OFFER_OPEN_HOURS
                else ("expired" if hours > 48 and i % 3 else "declined")
            )
        rounds = rng.randint(1, 3)  # odd: the buyer spoke last, the seller's turn; even: the buyer's turn
        first_at = last_at - timedelta(hours=6 * (rounds - 1))
        asking = Decimal(listing["price"])
        n = neg.new_negotiation(
            store,
            listing,
            buyers[b],
            addresses[b],
            at=first_at,
            price=to_decimal(asking * Decimal(rng.choice(("0.7", "0.75", "0.8")))),
            message=rng.choice(("Would you take this?", "Cash offer, quick sale", "")),
        )
        for r in range(1, rounds):
            initiator = "seller" if r % 2 else "buyer"
            step = Decimal("0.9") if initiator == "seller" else Decimal("0.84")
            t = first_at + timedelta(hours=6 * r)
            n["offers"].append(
                {
                    "price": to_decimal(asking * step),
                    "shipping_price": n["offers"][0]["shipping_price"],
                    "message": "",
                    "initiator": initiator,
                    "created_at": t,
                }
            )
        n.update(state=state, updated_at=last_at, expires_at=last_at + neg.OFFER_LIFETIME)
        if state == "expired":
            n["updated_at"] = n["expires_at"]  # it lapsed then
