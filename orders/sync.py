"""Orders, payments and feedback: payload -> model fields (pure), and how each collection is pulled."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from backoffice.sync.engine import UNCHANGED_PAGE, WAITING, Link, MappingError, Resource, Walk
from backoffice.sync.mapping import boolean, integer, key_of, link, read_money, text, told, when
from backoffice.sync.pipeline import read_ahead

from .models import Feedback, Order, Payment

if TYPE_CHECKING:
    from backoffice.reverb.client import ReverbClient


ORDER_SOURCES: dict[str, Any] = {
    "order_number": None,
    "amount_product": "amount_product",
    "amount_shipping": "shipping",
    "amount_total": "total",
    "currency": ("amount_product", "total"),
    "tracking_code": "shipping_code",
    "web_url": "_links",
    "remote_created_at": "created_at",
    "remote_updated_at": "updated_at",
}


def lenient_amount(payload: Mapping[str, Any], key: str) -> Decimal | None:
    """A fee some orders send as a Money object and some as a bare number (`bump_fee`): its amount to
    the cent, or None when absent or not a number; never a reason to refuse the order (the payouts
    check counts None as 0)."""
    value = payload.get(key)
    if isinstance(value, Mapping):
        value = value.get("amount")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) >= 10**10:  # what the 12-digit column holds
        return None
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def map_order(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Live orders leave keys out (API-NOTES 16.2): `selling_fee` on part of them, `total`, `amount_tax`,
    `paid_at` and the address on orders cancelled before payment, `buyer_email` on half. An absent key
    is not told: its column is left as it was. `direct_checkout_payout` is what the seller got."""
    key = key_of(payload, "order_number")
    product, currency = read_money(payload, "amount_product")
    shipping, _ = read_money(payload, "shipping")
    tax, _ = read_money(payload, "amount_tax")
    total, total_currency = read_money(payload, "total")
    selling_fee, _ = read_money(payload, "selling_fee")
    processing_fee, _ = read_money(payload, "direct_checkout_fee")
    payout, _ = read_money(payload, "direct_checkout_payout")
    quantity = integer(payload, "quantity", 1)
    if quantity is not None and quantity < 0:
        raise MappingError(f"quantity must not be negative, got {quantity}")
    fields = {
        "order_number": key,
        "uuid": text(payload, "uuid", 64),
        "status": text(payload, "status", 40),
        "order_type": text(payload, "order_type", 40),
        "order_bundle_id": text(payload, "order_bundle_id", 64),
        "buyer_name": text(payload, "buyer_name", 255),
        "buyer_id": text(payload, "buyer_id", 64),
        "shipping_method": text(payload, "shipping_method", 40),
        "local_pickup": boolean(payload, "local_pickup"),
        "sku": text(payload, "sku", 255),
        "title": text(payload, "title", 500),
        "quantity": quantity,
        "product_id": text(payload, "product_id", 64),
        "amount_product": product,
        "amount_shipping": shipping,
        "amount_tax": tax,
        "amount_total": total,
        "selling_fee": selling_fee,
        "direct_checkout_fee": processing_fee,
        "direct_checkout_payout": payout,
        "bump_fee": lenient_amount(payload, "bump_fee"),
        "tax_responsible_party": text(payload, "tax_responsible_party", 40),
        "currency": currency or total_currency,
        "paid_at": when(payload, "paid_at"),
        "shipped_at": when(payload, "shipped_at"),
        "shipping_provider": text(payload, "shipping_provider", 100),
        "tracking_code": text(payload, "shipping_code", 255),
        "shipment_status": text(payload, "shipment_status", 40),
        "needs_feedback_for_buyer": boolean(payload, "needs_feedback_for_buyer"),
        "needs_feedback_for_seller": boolean(payload, "needs_feedback_for_seller"),
        "web_url": link(payload, "web"),
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }
    return key, told(payload, fields, ORDER_SOURCES)


_TIMES = {"remote_created_at": "created_at", "remote_updated_at": "updated_at"}
PAYMENT_SOURCES = {
    "order_number": ("order_number", "order_id"),
    "status": ("state", "status"),
    "currency": "amount",
    **_TIMES,
}
FEEDBACK_SOURCES = {"direction": None, **_TIMES}


def map_payment(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Shape is the emulator's (API-NOTES 11.2: not found in any source)."""
    key = key_of(payload)
    amount, currency = read_money(payload, "amount")
    order_number = text(payload, "order_number", 64) or text(payload, "order_id", 64)
    fields = {
        "order_number": order_number,
        "status": text(payload, "state", 40) or text(payload, "status", 40),
        "payment_method": text(payload, "payment_method", 60),
        "amount": amount,
        "currency": currency,
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }
    return key, told(payload, fields, PAYMENT_SOURCES)


def map_feedback(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Shape is the emulator's (API-NOTES 10.5). `role` is who is rated: the seller on feedback we
    received, the buyer on feedback we sent. Our fetcher adds `_direction` when a row lacks both."""
    key = key_of(payload)
    role = text(payload, "role")
    direction = {"seller": "received", "buyer": "sent"}.get(role) or text(payload, "_direction")
    rating = integer(payload, "rating")
    if rating is not None and not 0 <= rating <= 5:
        raise MappingError(f"rating must be 0..5, got {rating}")
    fields = {
        "direction": direction,
        "order_number": text(payload, "order_number", 64),
        "rating": rating,
        "message": text(payload, "message"),
        "author_name": text(payload, "author_name", 255),
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }
    return key, told(payload, fields, FEEDBACK_SOURCES)


def fetch_orders(client: ReverbClient, since: datetime | None) -> Iterable[Sequence[dict[str, Any]]]:
    return read_ahead(client, (page.items for page in client.orders(kind="all", updated_start=since)))


# Order statuses that move a listing's stock (PrestaShop's mapping, API-NOTES 6.2): a sale, or a restock.
# A shipped, picked-up or received order says nothing new about its listing.
STOCK_STATUSES = frozenset(
    {
        "unpaid",
        "payment_pending",
        "pending_review",
        "partially_paid",
        "paid",
        "cancelled",
        "refunded",
        "blocked",
    }
)


def fetch_listings_of_orders(client: ReverbClient, orders: list[dict[str, Any]]) -> Iterator[Sequence[dict]]:
    """The listing of each new or changed order whose status moves stock, re-read by SKU with its seller
    fields (`/my/listings?sku=...&state=all`, API-NOTES 16.1.1): Reverb has no updated-since filter on
    listings, and "most users sync inventory by polling the orders endpoint" (API-NOTES 3). One request
    per such order; a listing Reverb no longer has is left to the nightly reconciliation."""
    from backoffice.reverb.errors import NotFoundError

    for order in orders:
        listing_id = str(order.get("product_id") or "")
        if not listing_id or order.get("status") not in STOCK_STATUSES:
            continue
        try:
            yield [client.seller_listing(listing_id, str(order.get("sku") or ""))]
        except NotFoundError:
            continue


def fetch_payments(client: ReverbClient, since: datetime | None) -> Iterable[Sequence[dict[str, Any]]]:
    """Incremental: the swagger documents updated_start_date on /my/payments/selling (API-NOTES 16.3)."""
    return read_ahead(client, (page.items for page in client.payments(updated_start=since)))


def fetch_feedback(client: ReverbClient, since: datetime | None) -> Iterator[Sequence[dict[str, Any]]]:
    """Received, then sent, each newest first: an incremental run ends a direction at its first page
    that changed nothing (the runner sends UNCHANGED_PAGE)."""
    for direction in ("received", "sent"):
        pages = client.feedback_received() if direction == "received" else client.feedback_sent()
        for page in pages:
            if (yield with_direction(page.items, direction)) == UNCHANGED_PAGE:
                break


def with_direction(rows: Sequence[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    """Feedback rows of one direction ("received" or "sent"), noted on each row that does not say it."""
    return [row if "role" in row else {**row, "_direction": direction} for row in rows]


ORDER_LINK = Link(field="order", key_field="order_number", target="orders.Order")

ORDERS = Resource(
    name="orders",
    model=Order,
    mapper=map_order,
    fetch=fetch_orders,
    incremental=True,
    links=(Link(field="listing", key_field="product_id", target="listings.Listing"),),
    incremental_children=(("listings", fetch_listings_of_orders),),
    # First the shipping queue (a ship-by deadline), then the orders waiting on their buyer.
    first_work=(
        Walk("orders awaiting shipment", "orders", lambda c: c.orders("awaiting_shipment")),
        Walk("unpaid orders", "orders", lambda c: c.orders("unpaid"), phase=WAITING),
    ),
    description="/my/orders/selling/all, updated_start_date = last success - overlap; the listing of "
    "each new or changed sale or restock re-read by SKU",
)
PAYMENTS = Resource(
    name="payments",
    model=Payment,
    mapper=map_payment,
    fetch=fetch_payments,
    incremental=True,
    links=(ORDER_LINK,),
    description="/my/payments/selling, updated_start_date = last success - overlap",
)
FEEDBACK = Resource(
    name="feedback",
    model=Feedback,
    mapper=map_feedback,
    fetch=fetch_feedback,
    incremental=True,
    newest_first=True,
    links=(ORDER_LINK,),
    description="/my/feedback/received and /sent, newest first until an unchanged page",
)
RESOURCES = [ORDERS, PAYMENTS, FEEDBACK]
