"""Orders, payments and feedback: the seller side of /api/my/orders/selling, /my/payments, /my/feedback.

Internal order record (store.table("orders"), keyed by order_number, a str):
  order_number, uuid, order_bundle_id (str), order_type ("instant"|"offer"), order_source, status,
  shipping_method ("shipped"|"expedited_shipping"|"local"),
  shipment_status (None|"in_transit"|"delivered"|"picked_up"),
  listing_id (int), sku, title, photos [{id,url}], quantity, price (unit, Decimal), shipping, tax,
  tax_rate, tax_responsible_party, bump_fee (Decimals), currency, payment_method,
  buyer {id, first_name, last_name, email}, shipping_address (dict | None for local pickup),
  created_at, paid_at, shipped_at, picked_up_at, updated_at (datetimes), shipping_provider,
  shipping_code, refunded (Decimal, approved refunds), payment_id, payout_id, negotiation_id,
  feedback_for_buyer_id, feedback_for_seller_id, order_notes [str].
"""

from __future__ import annotations

import random
import uuid as uuid_lib
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import photos
from .core import (
    ApiError,
    Request,
    Response,
    ValidationFailed,
    link,
    money,
    paginate,
    parse_ts,
    renderer,
    route,
    simulation,
    to_decimal,
    ts,
)
from .fees import order_fees
from .generator.catalog import SHIPPING_PROVIDERS
from .guesses import shaped
from .store import Store

if TYPE_CHECKING:
    from .app import Emulator

ZERO = Decimal("0.00")
WEB = "https://reverb.com"  # web links point at reverb.com, API links at the host the client used

STATUSES = (
    "unpaid",
    "payment_pending",
    "pending_review",
    "blocked",
    "partially_paid",
    "paid",
    "shipped",
    "picked_up",
    "received",
    "refunded",
    "cancelled",
)  # API-NOTES 6.2 [OFFICIAL-CODE prestashop]
# The expedited `shipping_method` value (the compiled summary's, API-NOTES 6.3): shipped like "shipped".
EXPEDITED = "expedited_shipping"
PAID_STATUSES = frozenset({"paid", "shipped", "picked_up", "received", "refunded", "partially_paid"})
# Statuses in which money has changed hands and a refund can still be asked for [INFERRED].
REFUNDABLE_STATUSES = frozenset({"paid", "shipped", "picked_up", "received", "partially_paid"})
FEEDBACK_STATUSES = frozenset({"shipped", "picked_up", "received"})


# Status-conflict refusals (ship an unpaid order, ship twice...) answer 422: Reverb answers 422 to a
# state-invalid action elsewhere (ending a draft, API-NOTES 15.6; PUT /wants 4.1). Field-level problems in
# the body answer 412 with an errors hash, as the docs say for validation (API-NOTES 4.2).
CONFLICT = 422


def conflict(message: str, field: str = "state") -> ApiError:
    return ApiError(CONFLICT, message, {field: [message]})


# ---- shared helpers (refunds, payouts, negotiations import these) -------------------------------------


def order_total(order: dict[str, Any]) -> Decimal:
    return order["price"] * order["quantity"] + order["shipping"] + order["tax"]


def refundable(order: dict[str, Any]) -> Decimal:
    """Order total minus approved refunds: `fully_refundable_amount` in the refund-request example."""
    return max(order_total(order) - order.get("refunded", ZERO), ZERO)


def get_order(store: Store, order_number: str) -> dict[str, Any]:
    order = store.table("orders").get(str(order_number))
    if order is None:
        raise ApiError(404, "The requested resource could not be found.")
    return order


def date_filtered(
    req: Request, records: Iterable[dict[str, Any]], kinds: tuple[str, ...] = ("created", "updated")
) -> list[dict[str, Any]]:
    """`created_start_date`/`created_end_date`/`updated_*` filters (API-NOTES 3), inclusive bounds."""
    bounds = []
    for kind in kinds:
        start = parse_ts(req.arg(f"{kind}_start_date"), f"{kind}_start_date")
        end = parse_ts(req.arg(f"{kind}_end_date"), f"{kind}_end_date")
        if start or end:
            bounds.append((f"{kind}_at", start, end))
    if not bounds:
        return list(records)
    return [
        r for r in records if all((s is None or r[f] >= s) and (e is None or r[f] <= e) for f, s, e in bounds)
    ]


def newest_first(records: Iterable[dict[str, Any]], field: str = "created_at") -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r[field], str(r.get("id", r.get("order_number")))), reverse=True)


def render_address(req: Request, address: dict[str, Any]) -> dict[str, Any]:
    """Address object as in API-NOTES 6.4 [3P-LIVE sound-tank; OFFICIAL-CODE M1 reads]."""
    return {**address, "_links": {"self": link(req.href(f"/api/my/addresses/{address['id']}"))}}


def background_request(emu: Emulator) -> Request:
    """A request-shaped context for rendering outside a request (webhooks, simulations)."""
    return Request("GET", "/", {}, {}, b"", getattr(emu, "origin", "http://127.0.0.1:8765"))


def sim_rng(store: Store, name: str) -> random.Random:
    """Deterministic randomness for simulations: a fresh stream per simulated event."""
    return random.Random(f"{name}:{store.next_id('simulations')}")


FIRST_NAMES = (
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Jamie",
    "Riley",
    "Avery",
    "Quinn",
    "Dana",
    "Chris",
    "Pat",
    "Robin",
    "Lee",
    "Drew",
    "Kim",
    "Jesse",
    "Cameron",
    "Skyler",
)
LAST_NAMES = (
    "Nguyen",
    "Smith",
    "Garcia",
    "Johnson",
    "Okafor",
    "Müller",
    "Rossi",
    "Kowalski",
    "Brown",
    "Silva",
    "Patel",
    "Kim",
    "Lopez",
    "Dubois",
    "Hughes",
    "Novak",
    "Tanaka",
    "Olsen",
    "Reyes",
    "Park",
)
CITIES = (
    ("Orlando", "FL", "32811"),
    ("Chicago", "IL", "60614"),
    ("Austin", "TX", "78701"),
    ("Nashville", "TN", "37203"),
    ("Portland", "OR", "97205"),
    ("Brooklyn", "NY", "11211"),
    ("Denver", "CO", "80205"),
    ("Seattle", "WA", "98103"),
    ("Atlanta", "GA", "30307"),
    ("Minneapolis", "MN", "55408"),
)


def make_buyer(rng: random.Random, buyer_id: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "id": buyer_id,
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{buyer_id}@example.com",
    }


def make_address(rng: random.Random, address_id: int, buyer: dict[str, Any]) -> dict[str, Any]:
    city, region, postal = rng.choice(CITIES)
    phone = f"{rng.randint(200, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"
    return {
        "id": address_id,
        "name": f"{buyer['first_name']} {buyer['last_name']}",
        "street_address": f"{rng.randint(1, 9999)} {rng.choice(('Oak', 'Elm', 'Main', 'Lake', 'Hill'))} St",
        "extended_address": rng.choice(("", "", f"Apt {rng.randint(1, 40)}")),
        "locality": city,
        "region": region,
        "postal_code": postal,
        "country_code": "US",
        "phone": f"({phone[:3]}) {phone[3:6]}-{phone[6:]}",
        "unformatted_phone": phone,
        "display_location": f"{city}, {region}, United States",
        "primary": True,
        "complete_shipping_address": True,
    }


def new_order(
    store: Store,
    listing: dict[str, Any],
    buyer: dict[str, Any],
    *,
    created_at: datetime,
    quantity: int = 1,
    price: Decimal | None = None,
    shipping: Decimal | None = None,
    local_pickup: bool = False,
    address: dict[str, Any] | None = None,
    order_type: str = "instant",
    bundle_id: str | None = None,
    tax_rate: Decimal = ZERO,
    order_number: str | None = None,
    uuid: str | None = None,
) -> dict[str, Any]:
    """An unpaid order record for a listing (does not touch inventory: callers call record_sale)."""
    number = order_number or str(store.next_id("orders", start=100000))
    unit = to_decimal(listing["price"] if price is None else price)
    ship = (
        ZERO
        if local_pickup
        else to_decimal(listing_shipping(store, listing) if shipping is None else shipping)
    )
    tax = to_decimal((unit * quantity + ship) * tax_rate)
    order = {
        "order_number": number,
        "uuid": uuid or str(uuid_lib.uuid4()),
        "order_bundle_id": bundle_id or number,
        "order_type": order_type,
        "order_source": "reverb",
        "status": "unpaid",
        "shipping_method": "local" if local_pickup else "shipped",
        "shipment_status": None,
        "listing_id": listing["id"],
        "sku": listing.get("sku"),
        "title": listing.get("title", ""),
        "photos": list(listing.get("photos") or [])[:1],
        "quantity": quantity,
        "price": unit,
        "shipping": ship,
        "tax": tax,
        "tax_rate": tax_rate,
        "tax_responsible_party": "reverb" if tax else "seller",
        "bump_fee": ZERO,
        "currency": listing.get("currency") or store.currency,
        "payment_method": "credit_card",
        "buyer": buyer,
        "shipping_address": None if local_pickup else address,
        "created_at": created_at,
        "paid_at": None,
        "shipped_at": None,
        "picked_up_at": None,
        "updated_at": created_at,
        "shipping_provider": None,
        "shipping_code": None,
        "refunded": ZERO,
        "payment_id": None,
        "payout_id": None,
        "negotiation_id": None,
        "feedback_for_buyer_id": None,
        "feedback_for_seller_id": None,
        "order_notes": [],
    }
    store.table("orders")[number] = order
    return order


def listing_shipping(store: Store, listing: dict[str, Any]) -> Decimal:
    """The first (domestic) rate of the listing's own shipping or its shop shipping profile; the listing
    side owns that shape ({local, rates [{region_code, rate}]}). Local-only listings ship free."""
    shipping = listing.get("shipping")
    if shipping is None and listing.get("shipping_profile_id") is not None:
        shipping = next(
            (p for p in store.shop.get("shipping_profiles", ()) if p["id"] == listing["shipping_profile_id"]),
            None,
        )
    rates = (shipping or {}).get("rates") or []
    if rates:
        rate = rates[0].get("rate")
        return to_decimal(rate.get("amount") if isinstance(rate, dict) else rate)
    return ZERO if shipping and shipping.get("local") else Decimal("25.00")


def mark_paid(store: Store, order: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The buyer pays: status paid, a payment record. Returns the payment."""
    order["status"] = "paid"
    order["paid_at"] = at
    payment_id = store.next_id("payments")
    payment = {
        "id": payment_id,
        "order_number": order["order_number"],
        "amount": order_total(order),
        "currency": order["currency"],
        "payment_method": order["payment_method"],
        "state": "paid",
        "refunded": ZERO,
        "created_at": at,
        "updated_at": at,
    }
    store.table("payments")[payment_id] = payment
    order["payment_id"] = payment_id
    return payment


# ---- rendering ------------------------------------------------------------------------------------------


def _m(value: Decimal, currency: str) -> dict[str, Any]:
    return money(value, currency)


def _tax_money(value: Decimal, currency: str) -> dict[str, Any]:
    body = money(value, currency)
    if value == 0:
        body["display"] = "FREE"  # the orders example shows a zero tax as FREE [OFFICIAL-DOC retrieve-orders]
    return body


def shippable(order: dict[str, Any]) -> bool:
    return order["status"] == "paid" and order["shipping_method"] != "local" and order["shipped_at"] is None


def awaiting_pickup(order: dict[str, Any]) -> bool:
    return order["status"] == "paid" and order["shipping_method"] == "local"


def needs_feedback_for_buyer(order: dict[str, Any]) -> bool:
    return order["status"] in FEEDBACK_STATUSES and order["feedback_for_buyer_id"] is None


def needs_feedback_for_seller(order: dict[str, Any]) -> bool:
    return order["status"] in FEEDBACK_STATUSES and order["feedback_for_seller_id"] is None


def _photo(photo: dict[str, Any], origin: str) -> dict[str, Any]:
    # [3P-LIVE sound-tank] photos: [{_links:{large_crop, small_crop, full, thumbnail}}]
    url = photos.absolute(photo.get("url", ""), origin)
    return {"_links": {size: {"href": url} for size in ("large_crop", "small_crop", "full", "thumbnail")}}


def _remaining_inventory(store: Store, order: dict[str, Any]) -> int:
    listing = store.table("listings").get(order["listing_id"])
    return int(listing.get("inventory", 0)) if listing else 0


# The buyer's currency of an order paid from abroad, and its rate from the shop's (ours: rates invented).
PRESENTMENT = (("CAD", Decimal("1.36")), ("EUR", Decimal("0.92")), ("GBP", Decimal("0.79")))


def _quirks(order_number: str) -> int:
    """A stable per-order number choosing which live quirks an order shows (API-NOTES 16.2)."""
    return zlib.crc32(order_number.encode())


def _presentment(o: dict[str, Any], quirks: int) -> tuple[str, Decimal]:
    """`presentment_*` carry the buyer's currency (API-NOTES 16.2.4): a quarter of the orders abroad."""
    if quirks % 4 != 1:
        return o["currency"], Decimal(1)
    currency, rate = PRESENTMENT[(quirks // 4) % len(PRESENTMENT)]
    return (currency, rate) if currency != o["currency"] else (o["currency"], Decimal(1))


def render_order(emu: Emulator, req: Request, o: dict[str, Any]) -> dict[str, Any]:
    """Order JSON: the fields of the docs example [OFFICIAL-DOC retrieve-orders] plus those sound-tank and
    the freightcom DTO carry (API-NOTES 6.4), shaped as the live orders show them (API-NOTES 16.2
    [LIVE-DATA]): `selling_fee` absent on part of the orders and `direct_checkout_fee` "0.00" on others
    while `direct_checkout_payout` still says what the seller got; a numeric `tax_rate`; orders cancelled
    before payment without total, tax, paid_at, address (and sometimes shipping_method); `buyer_email`
    absent on about half; `presentment_*` in the buyer's currency; `mark_picked_up` on every order.
    `amount_product` is the unit price and `amount_product_subtotal` price x quantity: ours, the example
    has quantity 1 so both match."""
    quirks = _quirks(o["order_number"])
    body = {**_order_money(o, quirks), **_order_fields(emu, req, o), "_links": _order_links(req, o)}
    if o["shipping_address"] is not None:  # local pickup orders carry no address (M1 CHANGELOG 0.4.9)
        # the id is a string on live orders (API-NOTES 16.2.2 [LIVE-DATA]; a number in the docs example)
        body["shipping_address"] = {
            **render_address(req, o["shipping_address"]),
            "id": str(o["shipping_address"]["id"]),
        }
    _live_quirks(body, o, quirks, o["currency"])
    return body


def _order_links(req: Request, o: dict[str, Any]) -> dict[str, Any]:
    n = o["order_number"]
    links: dict[str, Any] = {
        "self": link(req.href(f"/api/my/orders/selling/{n}")),
        "listing": link(req.href(f"/api/listings/{o['listing_id']}")),
        "payments": link(req.href("/api/my/payments/selling", order_id=n)),
        "feedback_for_buyer": link(req.href(f"/api/orders/{n}/feedback/buyer")),
        "feedback_for_seller": link(req.href(f"/api/orders/{n}/feedback/seller")),
        "start_conversation": link(req.href("/api/my/conversations")),
        "web": link(f"{WEB}/my/selling/orders/{n}"),
        "web_listing": link(f"{WEB}/item/{o['listing_id']}"),
        "contact_buyer": {"web": link(f"{WEB}/my/messages/new?order_id={n}")},
        "refund_requests": link(req.href(f"/api/my/orders/selling/{n}/refund_requests"), "POST"),
    }
    if o["photos"]:
        links["photo"] = link(photos.absolute(o["photos"][0].get("url", ""), req.origin))
    links["conversation"] = link(req.href("/api/my/conversations", order_id=n))
    if o["shipped_at"] and o["shipping_code"]:
        links["web_tracking"] = link(f"{WEB}/tracking/{o['shipping_provider']}/{o['shipping_code']}")
    # Links do not say what is allowed (API-NOTES 16.2.5): `ship` on paid orders and on refunded ones not
    # shipped, `mark_picked_up` on every order whatever its status.
    if shippable(o) or (o["status"] == "refunded" and o["shipped_at"] is None):
        links["ship"] = link(req.href(f"/api/my/orders/selling/{n}/ship"), "POST")
    links["mark_picked_up"] = link(req.href(f"/api/my/orders/selling/{n}/mark_picked_up"), "POST")
    return links


def _order_money(o: dict[str, Any], quirks: int) -> dict[str, Any]:
    """The order's amounts in the shop's currency, and `presentment_*` in the buyer's."""
    cur = o["currency"]
    subtotal = o["price"] * o["quantity"]
    total = order_total(o)
    fees = order_fees(o)
    payout = total - fees.total - fees.tax_withheld - o["bump_fee"]
    buyer_cur, rate = _presentment(o, quirks)
    return {
        "amount_product": _m(o["price"], cur),
        "amount_product_subtotal": _m(subtotal, cur),
        "shipping": _m(o["shipping"], cur),
        "amount_tax": _tax_money(o["tax"], cur),
        "total": _m(total, cur),
        # presentment_*: the buyer's currency (API-NOTES 16.2.4); order money is the shop's.
        "presentment_amount_product": _m(o["price"] * rate, buyer_cur),
        "presentment_amount_product_subtotal": _m(subtotal * rate, buyer_cur),
        "presentment_amount_shipping": _m(o["shipping"] * rate, buyer_cur),
        "presentment_amount_tax": _tax_money(to_decimal(o["tax"] * rate), buyer_cur),
        "presentment_amount_total": _m(total * rate, buyer_cur),
        "selling_fee": _m(fees.selling_fee, cur),
        "bump_fee": _m(o["bump_fee"], cur),
        "direct_checkout_fee": _m(fees.processing_fee, cur),  # payment processing (API-NOTES 11.1)
        "tax_on_fees": _m(ZERO, cur),
        "direct_checkout_payout": _m(payout, cur),
        # As in the nested order of the refund-request example [OFFICIAL-DOC manage-refund-requests]:
        # total minus approved refunds.
        "fully_refundable_amount": _m(refundable(o), cur),
    }


def _order_fields(emu: Emulator, req: Request, o: dict[str, Any]) -> dict[str, Any]:
    """The buyer, the state and the item: every field but the money and the links."""
    buyer = o["buyer"]
    return {
        "buyer_id": buyer["id"],  # an int in the orders example (a string in the refund example's order)
        "buyer_name": f"{buyer['first_name']} {buyer['last_name']}",
        "buyer_first_name": buyer["first_name"],
        "buyer_last_name": buyer["last_name"],
        "buyer_email": buyer.get("email"),
        "created_at": ts(o["created_at"]),
        "order_number": o["order_number"],
        "needs_feedback_for_buyer": needs_feedback_for_buyer(o),
        "needs_feedback_for_seller": needs_feedback_for_seller(o),
        "order_bundle_id": o["order_bundle_id"],
        "order_type": o["order_type"],
        "order_source": o["order_source"],
        "status": o["status"],
        "shipping_method": o["shipping_method"],
        "shipment_status": o["shipment_status"],
        "local_pickup": o["shipping_method"] == "local",
        "paid_at": ts(o["paid_at"]),
        "shipped_at": ts(o["shipped_at"]),
        "shipping_date": o["shipped_at"].date().isoformat() if o["shipped_at"] else None,  # a bare date
        "updated_at": ts(o["updated_at"]),
        "quantity": o["quantity"],
        "sku": o["sku"],
        "title": o["title"],
        "shop_name": emu.store.shop.get("name", ""),
        "product_id": str(o["listing_id"]),
        "uuid": o["uuid"],
        "remaining_listing_inventory": _remaining_inventory(emu.store, o),
        "tax_rate": float(o["tax_rate"]),  # a number: 0.125 (API-NOTES 16.2.2)
        "shipping_taxed": bool(o["tax"]),
        "tax_responsible_party": o["tax_responsible_party"],
        "payment_method": o["payment_method"],
        "shipping_provider": o["shipping_provider"],
        "shipping_code": o["shipping_code"],
        "order_notes": list(o["order_notes"]),
        "photos": [_photo(p, req.origin) for p in o["photos"]],
    }


def _live_quirks(body: dict[str, Any], o: dict[str, Any], quirks: int, cur: str) -> None:
    """What the live orders show and the docs do not (API-NOTES 16.2 [LIVE-DATA]), stable per order."""
    if quirks % 50 >= 21:  # selling_fee present on 21 of 50 UK orders
        body.pop("selling_fee")
    if quirks % 3 == 0:  # "0.00" (FREE) while a fee is still withheld: the payout stays the truth
        body["direct_checkout_fee"] = _tax_money(ZERO, cur)
    if (quirks >> 8) % 2:  # absent on 26 of 50; a relay address when present
        body.pop("buyer_email")
    elif body.get("buyer_email"):
        body["buyer_email"] = f"{o['uuid'][:16]}@private-relay.reverb.com"
    if body["shipment_status"] is None:
        body["shipment_status"] = "unknown"
    if o["status"] == "cancelled" and o["paid_at"] is None:
        for key in ("total", "amount_tax", "paid_at", "shipping_address", "presentment_amount_total"):
            body.pop(key, None)
        if (quirks >> 4) % 2:
            body.pop("shipping_method")


def changed(emu: Emulator, order: dict[str, Any], topic: str = "orders/update") -> None:
    """Record a change: updated_at moves (incremental pulls see it) and the webhook is queued."""
    emu.store.touch(order)
    emu.emit(topic, render_order(emu, background_request(emu), order))


# ---- orders endpoints -----------------------------------------------------------------------------------


def _newest_first_orders(store: Store) -> list[dict[str, Any]]:
    """All orders, newest first, cached: created_at never changes and orders are never deleted, so the
    order only changes when the table grows. Keeps paging through 20k orders cheap."""
    table = store.table("orders")
    cached = getattr(store, "_orders_newest_first", None)
    if cached is None or cached[0] != len(table):
        cached = (len(table), newest_first(table.values()))
        store._orders_newest_first = cached  # type: ignore[attr-defined]
    return cached[1]


def _newest_first_cached(store: Store, name: str, direction: str | None = None) -> list[dict[str, Any]]:
    """Payments, or one direction's feedback, newest first, cached like the orders: rows are only ever
    added, and created_at (and a feedback's direction) never change, so the order only changes when the
    table grows. Callers must not mutate the returned list."""
    table = store.table(name)
    caches = store.__dict__.setdefault("_newest_first_cache", {})
    key = (name, direction)
    cached = caches.get(key)
    if cached is None or cached[0] != len(table) or cached[1] is not table:
        rows = (
            table.values()
            if direction is None
            else [r for r in table.values() if r["direction"] == direction]
        )
        cached = (len(table), table, newest_first(rows))
        caches[key] = cached
    return cached[2]


def _list_orders(
    emu: Emulator, req: Request, keep: Callable[[dict[str, Any]], bool] | None
) -> dict[str, Any]:
    everything = _newest_first_orders(emu.store)
    orders = date_filtered(req, everything if keep is None else [o for o in everything if keep(o)])
    # Root-relative pagination hrefs, as the US page shows (API-NOTES 16.2.8).
    return paginate(req, orders, "orders", lambda o: render_order(emu, req, o), relative=True)


@route("GET", "/api/my/orders/selling/all")
def list_all(emu: Emulator, req: Request) -> dict[str, Any]:
    return _list_orders(emu, req, None)


@route("GET", "/api/my/orders/selling/awaiting_shipment")
def list_awaiting_shipment(emu: Emulator, req: Request) -> dict[str, Any]:
    return _list_orders(emu, req, shippable)


@route("GET", "/api/my/orders/selling/unpaid")
def list_unpaid(emu: Emulator, req: Request) -> dict[str, Any]:
    return _list_orders(emu, req, lambda o: o["status"] == "unpaid")


@route("GET", "/api/my/orders/selling/by_uuid/{uuid}")
def get_by_uuid(emu: Emulator, req: Request, uuid: str) -> dict[str, Any]:
    for order in emu.store.table("orders").values():
        if order["uuid"] == uuid:
            return render_order(emu, req, order)
    raise ApiError(404, "The requested resource could not be found.")


@route("GET", "/api/my/orders/selling/{order_number}")
def get_one(emu: Emulator, req: Request, order_number: str) -> dict[str, Any]:
    return render_order(emu, req, get_order(emu.store, order_number))


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in (1, "1", "true", "True"):
        return True  # PrestaShop sends 1 (API-NOTES 7.1)
    if value in (0, "0", "false", "False"):
        return False
    return None


@route("POST", "/api/my/orders/selling/{order_number}/ship")
def ship(emu: Emulator, req: Request, order_number: str) -> dict[str, Any]:
    order = get_order(emu.store, order_number)
    data = req.json
    errors: dict[str, list[str]] = {}
    provider = data.get("provider")
    if not provider:
        errors["provider"] = ["is required"]
    elif provider not in SHIPPING_PROVIDERS:
        errors["provider"] = [f"must be one of {', '.join(SHIPPING_PROVIDERS)}"]
    if not str(data.get("tracking_number") or "").strip():
        errors["tracking_number"] = ["is required"]
    if "send_notification" not in data:
        errors["send_notification"] = ["is required"]
    elif _truthy(data["send_notification"]) is None:
        errors["send_notification"] = ["must be true or false"]
    if errors:
        raise ValidationFailed(errors)
    if order["shipping_method"] == "local":
        raise conflict("This order is for local pickup and cannot be shipped; mark it picked up instead.")
    if order["shipped_at"] is not None:
        raise conflict("This order has already been shipped.")
    if order["status"] != "paid":
        raise conflict(f"Only paid orders can be shipped; this order is {order['status']}.")
    now = emu.store.now()
    order.update(
        status="shipped",
        shipped_at=now,
        shipping_provider=provider,
        shipping_code=str(data["tracking_number"]).strip(),
        shipment_status="in_transit",
    )
    changed(emu, order)
    # The ship response body is not documented (API-NOTES 7.1); we answer the updated order (ours).
    return render_order(emu, req, order)


@route("POST", "/api/my/orders/selling/{order_number}/mark_picked_up")
def mark_picked_up(emu: Emulator, req: Request, order_number: str) -> dict[str, Any]:
    order = get_order(emu.store, order_number)
    data = req.json
    if order["shipping_method"] != "local":
        raise conflict("Only local pickup orders can be marked picked up.")
    if order["status"] != "paid":
        raise conflict(
            f"Only paid orders awaiting pickup can be marked picked up; this one is {order['status']}."
        )
    now = emu.store.now()
    when = now
    if data.get("date"):  # "Date the item was picked up"; PrestaShop sends "Y-m-d H:i:s" (API-NOTES 6.1)
        when = parse_ts(str(data["date"]), "date") or now
        if when.tzinfo is None:
            when = when.replace(tzinfo=now.tzinfo)
    order.update(status="picked_up", picked_up_at=when, shipment_status="picked_up")
    changed(emu, order)
    return render_order(emu, req, order)  # response body undocumented: the order (ours)


# ---- payments -------------------------------------------------------------------------------------------


def render_payment(emu: Emulator, req: Request, p: dict[str, Any]) -> dict[str, Any]:
    # shape a guess (see `guesses`): no source shows a payment (API-NOTES 11.2 "Shapes NOT FOUND").
    cur = p["currency"]
    return shaped(
        emu,
        "payments",
        {
            "id": p["id"],
            "order_number": p["order_number"],
            "state": p["state"],
            "amount": money(p["amount"], cur),
            "amount_refunded": money(p["refunded"], cur),
            "payment_method": p["payment_method"],
            "created_at": ts(p["created_at"]),
            "updated_at": ts(p["updated_at"]),
            "_links": {
                "self": link(req.href(f"/api/my/payments/selling/{p['id']}")),
                "order": link(req.href(f"/api/my/orders/selling/{p['order_number']}")),
            },
        },
    )


@route("GET", "/api/my/payments/selling")
def list_payments(emu: Emulator, req: Request) -> dict[str, Any]:
    # Newest first, from the cached order (date_filtered keeps it; a filter only drops rows).
    payments: Iterable[dict[str, Any]] = _newest_first_cached(emu.store, "payments")
    order_id = req.arg("order_id")
    if order_id:  # the spec's `order_id`; Reverb's order ids are the order numbers (API-NOTES 6.1)
        payments = [p for p in payments if p["order_number"] == order_id]
    return paginate(req, date_filtered(req, payments), "payments", lambda p: render_payment(emu, req, p))


@route("GET", "/api/my/payments/selling/{payment_id}")
def get_payment(emu: Emulator, req: Request, payment_id: str) -> dict[str, Any]:
    payment = emu.store.table("payments").get(int(payment_id)) if payment_id.isdigit() else None
    if payment is None:
        raise ApiError(404, "The requested resource could not be found.")
    return render_payment(emu, req, payment)


# ---- feedback -------------------------------------------------------------------------------------------
# Feedback record: {id, order_number, direction: "sent" (seller about buyer) | "received" (buyer about
# seller), rating 1..5, message, author_name, recipient_name, created_at, updated_at}.


def render_feedback(emu: Emulator, req: Request, f: dict[str, Any]) -> dict[str, Any]:
    # shape ours: feedback JSON NOT FOUND in any source (API-NOTES 10.5).
    return {
        "id": f["id"],
        "order_number": f["order_number"],
        "rating": f["rating"],
        "message": f["message"],
        "role": "seller" if f["direction"] == "received" else "buyer",  # the role of who is rated
        "author_name": f["author_name"],
        "recipient_name": f["recipient_name"],
        "created_at": ts(f["created_at"]),
        "updated_at": ts(f["updated_at"]),
        "_links": {
            "self": link(req.href(f"/api/feedback/{f['id']}")),
            "order": link(req.href(f"/api/my/orders/selling/{f['order_number']}")),
        },
    }


def _feedback_list(emu: Emulator, req: Request, direction: str) -> dict[str, Any]:
    rows = _newest_first_cached(emu.store, "feedback", direction)
    return paginate(req, rows, "feedback", lambda f: render_feedback(emu, req, f))


@route("GET", "/api/my/feedback/received")
def feedback_received(emu: Emulator, req: Request) -> dict[str, Any]:
    return _feedback_list(emu, req, "received")


@route("GET", "/api/my/feedback/sent")
def feedback_sent(emu: Emulator, req: Request) -> dict[str, Any]:
    return _feedback_list(emu, req, "sent")


def add_feedback(
    store: Store, order: dict[str, Any], direction: str, rating: int, message: str, at: datetime
) -> dict[str, Any]:
    buyer = f"{order['buyer']['first_name']} {order['buyer']['last_name']}"
    shop = store.shop.get("name", "")
    fid = store.next_id("feedback")
    record = {
        "id": fid,
        "order_number": order["order_number"],
        "direction": direction,
        "rating": rating,
        "message": message,
        "author_name": shop if direction == "sent" else buyer,
        "recipient_name": buyer if direction == "sent" else shop,
        "created_at": at,
        "updated_at": at,
    }
    store.table("feedback")[fid] = record
    order["feedback_for_buyer_id" if direction == "sent" else "feedback_for_seller_id"] = fid
    return record


def _order_feedback(emu: Emulator, req: Request, order_id: str, field: str) -> dict[str, Any]:
    order = get_order(emu.store, order_id)
    fid = order[field]
    if fid is None:
        raise ApiError(404, "No feedback has been left for this order yet.")
    return render_feedback(emu, req, emu.store.table("feedback")[fid])


@route("GET", "/api/orders/{order_id}/feedback/buyer")
def get_feedback_for_buyer(emu: Emulator, req: Request, order_id: str) -> dict[str, Any]:
    return _order_feedback(emu, req, order_id, "feedback_for_buyer_id")


@route("GET", "/api/orders/{order_id}/feedback/seller")
def get_feedback_for_seller(emu: Emulator, req: Request, order_id: str) -> dict[str, Any]:
    return _order_feedback(emu, req, order_id, "feedback_for_seller_id")


@route("POST", "/api/orders/{order_id}/feedback/buyer")
def leave_feedback_for_buyer(emu: Emulator, req: Request, order_id: str) -> Response:
    order = get_order(emu.store, order_id)
    data = req.json
    errors: dict[str, list[str]] = {}
    rating = data.get("rating")
    if isinstance(rating, str) and rating.isdigit():
        rating = int(rating)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        errors["rating"] = ["must be an integer from 1 to 5"]
    message = str(data.get("message") or "").strip()
    if not message:
        errors["message"] = ["can't be blank"]
    if errors:
        raise ValidationFailed(errors)
    if not needs_feedback_for_buyer(order):
        raise conflict("This order does not need feedback for the buyer.", "order")
    record = add_feedback(emu.store, order, "sent", int(rating), message, emu.store.now())
    changed(emu, order)
    return Response(201, render_feedback(emu, req, record))


# ---- renderers for GET /__emulator__/state/<collection> --------------------------------------------------

renderer("orders")(render_order)
renderer("payments")(render_payment)
renderer("feedback")(render_feedback)


# ---- simulations (the buyer side) ------------------------------------------------------------------------


def _pick_live_listing(store: Store, listing_id: Any, quantity: int) -> dict[str, Any]:
    listings = store.table("listings")
    if listing_id is not None:
        listing = listings.get(int(listing_id))
        if listing is None:
            raise ApiError(404, f"no listing {listing_id}")
    else:
        listing = next(
            (
                x
                for x in listings.values()
                if x.get("state") == "live" and int(x.get("inventory", 0)) >= quantity
            ),
            None,
        )
        if listing is None:
            raise ApiError(422, "no live listing with inventory to sell")
    if listing.get("state") != "live" or int(listing.get("inventory", 0)) < quantity:
        raise ApiError(422, f"listing {listing['id']} is not live with {quantity} in stock")
    return listing


def record_sale(store: Store, listing_id: int, quantity: int) -> None:
    from . import listings  # the listings side owns inventory rules (inventory 0 ends a listing)

    listings.record_sale(store, listing_id, quantity)


@simulation("new_order")
def simulate_new_order(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """A buyer buys a live listing: {listing_id?, quantity?, local_pickup?, paid?: true}."""
    store = emu.store
    quantity = int(params.get("quantity", 1))
    listing = _pick_live_listing(store, params.get("listing_id"), quantity)
    rng = sim_rng(store, "new_order")
    buyer = make_buyer(rng, 900000 + store.next_id("buyers"))
    local = bool(params.get("local_pickup", False))
    address = None if local else make_address(rng, store.next_id("addresses", start=500000), buyer)
    now = store.now()
    order = new_order(
        store, listing, buyer, created_at=now, quantity=quantity, local_pickup=local, address=address
    )
    record_sale(store, listing["id"], quantity)
    if params.get("paid", True):
        mark_paid(store, order, now)
    changed(emu, order, "orders/create")
    if order["payment_id"]:
        emu.emit(
            "payments/create",
            render_payment(emu, background_request(emu), store.table("payments")[order["payment_id"]]),
        )
    return render_order(emu, background_request(emu), order)


@simulation("payment")
def simulate_payment(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """An unpaid order gets paid: {order_number}."""
    order = get_order(emu.store, str(params.get("order_number", "")))
    if order["status"] not in {"unpaid", "payment_pending", "pending_review", "partially_paid"}:
        raise ApiError(422, f"order {order['order_number']} is {order['status']}, not awaiting payment")
    payment = mark_paid(emu.store, order, emu.store.now())
    emu.emit("payments/create", render_payment(emu, background_request(emu), payment))
    changed(emu, order)
    return render_order(emu, background_request(emu), order)


ORDER_FIELDS_SETTABLE = ("status", "shipment_status", "shipping_provider", "shipping_code", "order_notes")


@simulation("order_changed")
def simulate_order_changed(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """A change behind the mirror's back (support cancels, the carrier delivers...):
    {order_number, status?, shipment_status?, shipping_provider?, shipping_code?, order_notes?}."""
    order = get_order(emu.store, str(params.get("order_number", "")))
    if "status" in params and params["status"] not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}")
    for key in ORDER_FIELDS_SETTABLE:
        if key in params:
            order[key] = params[key]
    changed(emu, order)
    return render_order(emu, background_request(emu), order)
