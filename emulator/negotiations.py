"""Negotiations (offers): /api/my/listings/negotiations, /api/my/negotiations/{id}[/accept|decline|counter],
and the seller's offer inside a conversation, /api/conversations/{id}/offer (a new negotiation).

Internal record (store.table("negotiations"), int id): id, listing_id, buyer {id, first_name, last_name},
buyer_address, quantity, state ("active"|"accepted"|"declined"|"expired"), offers [{price, shipping_price
(Decimals), message, initiator "buyer"|"seller", created_at}], created_at, updated_at, expires_at,
order_number (set once accepted).
JSON shape: the sound-tank fixture sanitised in API-NOTES 10.1 [3P-LIVE].
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import conversations
from .core import (
    ApiError,
    Request,
    Response,
    ValidationFailed,
    link,
    money,
    paginate,
    parse_money,
    renderer,
    route,
    simulation,
    to_decimal,
    ts,
)
from .orders import (
    ZERO,
    background_request,
    changed,
    conflict,
    listing_shipping,
    make_address,
    make_buyer,
    new_order,
    record_sale,
    render_address,
    sim_rng,
)
from .store import Store

if TYPE_CHECKING:
    from .app import Emulator

STATES = ("active", "accepted", "declined", "expired")  # [3P-LIVE sound-tank]
OFFER_LIFETIME = timedelta(hours=48)  # the fixture's offers expire about 48 h after they are made


def actionable(n: dict[str, Any]) -> bool:
    """The seller's turn: active and the last offer came from the buyer [INFERRED, API-NOTES 10.1]."""
    return n["state"] == "active" and n["offers"][-1]["initiator"] == "buyer"


def expire_if_due(store: Store, n: dict[str, Any]) -> dict[str, Any]:
    """Offers lapse lazily: an active negotiation past expires_at becomes expired when next seen."""
    if n["state"] == "active" and n["expires_at"] <= store.now():
        n["state"] = "expired"
        store.touch(n)
    return n


def _both(value: Decimal, currency: str) -> dict[str, Any]:
    # {original, display}: the offer's currency and the viewer's display currency (same here) [3P-LIVE]
    return {"original": money(value, currency), "display": money(value, currency)}


def render_negotiation(emu: Emulator, req: Request, n: dict[str, Any]) -> dict[str, Any]:
    store = emu.store
    listing = store.table("listings").get(n["listing_id"], {})
    cur = listing.get("currency") or store.currency
    buyer = n["buyer"]
    buyer_name = f"{buyer['first_name']} {buyer['last_name']}"
    shop_name = store.shop.get("name", "")
    last = n["offers"][-1]
    offers = [
        {
            "created_at": ts(o["created_at"]),
            "message": o["message"],
            "price": _both(o["price"], cur),
            "shipping_price": _both(o["shipping_price"], cur),
            "total_price": _both(o["price"] + o["shipping_price"], cur),
            "initiated_by_name": buyer_name if o["initiator"] == "buyer" else shop_name,
            # Every Reverb user has a shop, named after them by default (ours: the fixture is sanitised).
            "initiated_by_shop_name": shop_name if o["initiator"] == "seller" else buyer_name,
            "initiated_by_me": o["initiator"] == "seller",
            "initiator_type": o["initiator"],
        }
        for o in n["offers"]
    ]
    base = f"/api/my/negotiations/{n['id']}"
    links: dict[str, Any] = {
        "self": link(req.href(base)),
        "listing": link(req.href(f"/api/listings/{n['listing_id']}")),
    }
    if actionable(n):  # HATEOAS: the seller's actions only on the seller's turn
        links["accept"] = link(req.href(f"{base}/accept"), "POST")
        links["decline"] = link(req.href(f"{base}/decline"), "POST")
        links["counter"] = link(req.href(f"{base}/counter"), "POST")
    if n.get("order_number"):
        links["order"] = link(req.href(f"/api/my/orders/selling/{n['order_number']}"))  # ours
    return {
        "id": str(n["id"]),
        "state": n["state"],
        "offers_count": len(n["offers"]),
        "expires_at": ts(n["expires_at"]),
        "created_at": ts(n["created_at"]),
        "updated_at": ts(n["updated_at"]),
        "buyer_name": buyer_name,
        "buyer_id": str(buyer["id"]),
        "shop_id": str(store.shop.get("id", "")),
        "seller_name": shop_name,
        "shop_name": shop_name,
        "other_party_name": buyer_name,
        "other_party": {
            "_links": {"avatar": {"href": f"https://rvb-img.reverb.com/avatars/{buyer['id']}.jpg"}},
            "profile_slug": None,
        },
        "actionable": actionable(n),
        "you_last_initiated": last["initiator"] == "seller",
        "can_ship_to_buyer": True,
        "buyer_shipping_region_code": "US_CON",
        "buyer_address": render_address(req, n["buyer_address"]),
        "last_offered_price": _both(last["price"], cur),
        "last_offered_shipping": _both(last["shipping_price"], cur),
        "last_offered_total": _both(last["price"] + last["shipping_price"], cur),
        "offers": offers,
        "_links": links,
    }


renderer("negotiations")(render_negotiation)


def new_negotiation(
    store: Store,
    listing: dict[str, Any],
    buyer: dict[str, Any],
    address: dict[str, Any],
    *,
    price: Decimal,
    at: datetime,
    message: str = "",
    shipping: Decimal | None = None,
    initiator: str = "buyer",
) -> dict[str, Any]:
    nid = store.next_id("negotiations", start=50000000)
    record = {
        "id": nid,
        "listing_id": listing["id"],
        "buyer": buyer,
        "buyer_address": address,
        "quantity": 1,
        "state": "active",
        "created_at": at,
        "updated_at": at,
        "expires_at": at + OFFER_LIFETIME,
        "order_number": None,
        "offers": [
            {
                "price": price,
                "shipping_price": listing_shipping(store, listing) if shipping is None else shipping,
                "message": message,
                "initiator": initiator,
                "created_at": at,
            }
        ],
    }
    store.table("negotiations")[nid] = record
    return record


def add_offer(
    store: Store, n: dict[str, Any], initiator: str, price: Decimal, shipping: Decimal, message: str
) -> None:
    now = store.now()
    n["offers"].append(
        {
            "price": price,
            "shipping_price": shipping,
            "message": message,
            "initiator": initiator,
            "created_at": now,
        }
    )
    n["expires_at"] = now + OFFER_LIFETIME
    store.touch(n)


def _get(store: Store, negotiation_id: str) -> dict[str, Any]:
    n = store.table("negotiations").get(int(negotiation_id)) if negotiation_id.isdigit() else None
    if n is None:
        raise ApiError(404, "The requested resource could not be found.")
    return expire_if_due(store, n)


@route("GET", "/api/my/listings/negotiations")
def list_negotiations(emu: Emulator, req: Request) -> dict[str, Any]:
    """Rows are listings with their active negotiations nested, under `listings` [3P-LIVE EDOS]."""
    from . import listings

    store = emu.store
    by_listing: dict[int, list[dict[str, Any]]] = {}
    listings_table = store.table("listings")
    for n in store.table("negotiations").values():
        # A listing that vanished (simulate listing_deleted) takes its offers off the seller's list.
        if n["listing_id"] in listings_table and expire_if_due(store, n)["state"] == "active":
            by_listing.setdefault(n["listing_id"], []).append(n)
    rows = sorted(
        by_listing.items(), key=lambda kv: (max(n["updated_at"] for n in kv[1]), kv[0]), reverse=True
    )

    def render(row: tuple[int, list[dict[str, Any]]]) -> dict[str, Any]:
        listing_id, negotiations = row
        body = listings.render_listing(emu, req, store.table("listings")[listing_id])
        body["negotiations"] = [
            render_negotiation(emu, req, n)
            for n in sorted(negotiations, key=lambda n: n["updated_at"], reverse=True)
        ]
        return body

    return paginate(req, rows, "listings", render)


@route("GET", "/api/my/negotiations/{negotiation_id}")
def get_negotiation(emu: Emulator, req: Request, negotiation_id: str) -> dict[str, Any]:
    return render_negotiation(emu, req, _get(emu.store, negotiation_id))


def _require_turn(n: dict[str, Any], action: str) -> None:
    if n["state"] != "active":
        raise conflict(f"This offer is {n['state']} and can no longer be {action}.")
    if not actionable(n):
        raise conflict(
            f"It is the buyer's turn: your last counter-offer is awaiting a reply; it cannot be {action}."
        )


@route("POST", "/api/my/negotiations/{negotiation_id}/accept")
def accept(emu: Emulator, req: Request, negotiation_id: str) -> dict[str, Any]:
    store = emu.store
    n = _get(store, negotiation_id)
    _require_turn(n, "accepted")
    listing = store.table("listings").get(n["listing_id"])
    if listing is None or listing.get("state") != "live" or int(listing.get("inventory", 0)) < n["quantity"]:
        raise conflict("The listing is no longer available, so this offer cannot be accepted.", "listing")
    last = n["offers"][-1]
    message = str(req.json.get("message") or "")
    # An accepted offer makes an order, unpaid until the buyer checks out [API-NOTES 10.1, INFERRED].
    order = new_order(
        store,
        listing,
        n["buyer"],
        created_at=store.now(),
        quantity=n["quantity"],
        price=last["price"],
        shipping=last["shipping_price"],
        address=n["buyer_address"],
        order_type="offer",
    )
    order["negotiation_id"] = n["id"]
    if message:
        order["order_notes"].append(message)
    record_sale(store, listing["id"], n["quantity"])
    n.update(state="accepted", order_number=order["order_number"])
    store.touch(n)
    changed(emu, order, "orders/create")
    return render_negotiation(emu, req, n)  # the accept response is undocumented (API-NOTES 15.2): ours


@route("POST", "/api/my/negotiations/{negotiation_id}/decline")
def decline(emu: Emulator, req: Request, negotiation_id: str) -> dict[str, Any]:
    n = _get(emu.store, negotiation_id)
    _require_turn(n, "declined")
    n["state"] = "declined"
    emu.store.touch(n)
    return render_negotiation(emu, req, n)  # response undocumented: ours


@route("POST", "/api/my/negotiations/{negotiation_id}/counter")
def counter(emu: Emulator, req: Request, negotiation_id: str) -> dict[str, Any]:
    """Body [OFFICIAL-SPEC]: {price{amount,currency} required, shipping_price?, message?}."""
    store = emu.store
    n = _get(store, negotiation_id)
    _require_turn(n, "countered")
    listing = store.table("listings").get(n["listing_id"], {})
    price, shipping = _offer_amounts(store, req.json, listing, n["offers"][-1]["shipping_price"])
    add_offer(store, n, "seller", price, shipping, str(req.json.get("message") or ""))
    return render_negotiation(emu, req, n)  # response undocumented: ours


def _offer_amounts(
    store: Store, data: dict[str, Any], listing: dict[str, Any], default_shipping: Decimal
) -> tuple[Decimal, Decimal]:
    """(price, shipping) of a seller's offer body (a counter's, or an offer in a conversation: "same body
    as negotiation counter", API-NOTES 9), or 412 with every field's errors."""
    errors: dict[str, list[str]] = {}
    for key in ("price", "shipping_price"):
        value = data.get(key)
        if isinstance(value, dict) and value.get("currency") not in (None, store.currency):
            errors[key] = [f"currency must be {store.currency}"]
    price = _offer_price(store, data, listing, errors)
    shipping = _offer_shipping(store, data, default_shipping, errors)
    if errors:
        raise ValidationFailed(errors)
    return price, shipping


def _offer_price(
    store: Store, data: dict[str, Any], listing: dict[str, Any], errors: dict[str, list[str]]
) -> Decimal:
    """The offer's price (ZERO when refused, its problems into `errors`)."""
    if data.get("price") in (None, ""):
        errors.setdefault("price", ["is required"])
        return ZERO
    if "price" in errors:
        return ZERO
    try:
        price = parse_money(data["price"], "price", store.currency)
    except ValidationFailed as exc:
        errors.update(exc.errors)  # type: ignore[arg-type]
        return ZERO
    if price <= 0:
        errors["price"] = ["must be greater than 0"]
    elif listing.get("price") is not None and price > to_decimal(listing["price"]):
        # An offer above the asking price makes no sense; Reverb's exact rule is unknown (ours).
        errors["price"] = ["cannot be more than the listing price"]
    return price


def _offer_shipping(
    store: Store, data: dict[str, Any], default_shipping: Decimal, errors: dict[str, list[str]]
) -> Decimal:
    """The offer's shipping price: the default when not sent (ZERO when refused, its problems into
    `errors`)."""
    if data.get("shipping_price") in (None, ""):
        return default_shipping
    if "shipping_price" in errors:
        return ZERO
    try:
        return parse_money(data["shipping_price"], "shipping_price", store.currency)
    except ValidationFailed as exc:
        errors.update(exc.errors)  # type: ignore[arg-type]
        return ZERO


@route("POST", "/api/conversations/{conversation_id}/offer")
def conversation_offer(emu: Emulator, req: Request, conversation_id: str) -> Response:
    """The seller makes an offer inside a conversation about a listing [OFFICIAL-SPEC path; API-NOTES 9:
    "same body as negotiation counter"]. It opens a negotiation with the conversation's buyer, the buyer's
    turn, listed with the seller's other active negotiations. Refusals and the answer are ours [INFERRED]:
    no listing, a listing no longer for sale, an active negotiation with this buyer on it (answer that one).
    """
    store = emu.store
    c = conversations.conversation_record(store, conversation_id)
    listing = store.table("listings").get(c["listing_id"]) if c["listing_id"] is not None else None
    if listing is None:
        raise conflict("This conversation is not about a listing, so no offer can be made in it.", "listing")
    if listing.get("state") != "live" or int(listing.get("inventory", 0)) < 1:
        raise conflict("The listing is no longer available, so no offer can be made on it.", "listing")
    if any(
        expire_if_due(store, n)["state"] == "active"
        and n["listing_id"] == listing["id"]
        and str(n["buyer"]["id"]) == str(c["buyer"]["id"])
        for n in list(store.table("negotiations").values())
    ):
        raise conflict("There is already an active offer with this buyer on this listing.", "negotiation")
    price, shipping = _offer_amounts(store, req.json, listing, listing_shipping(store, listing))
    address = make_address(
        sim_rng(store, "conversation_offer"), store.next_id("addresses", start=500000), c["buyer"]
    )
    n = new_negotiation(
        store,
        listing,
        c["buyer"],
        address,
        price=price,
        at=store.now(),
        message=str(req.json.get("message") or ""),
        shipping=shipping,
        initiator="seller",
    )
    return Response(201, render_negotiation(emu, req, n))  # the response is undocumented: ours


@simulation("offer")
def simulate_offer(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """A buyer makes a new offer: {listing_id?, price?} (default 85% of the asking price)."""
    store = emu.store
    listings = store.table("listings")
    if params.get("listing_id") is not None:
        listing = listings.get(int(params["listing_id"]))
    else:
        listing = next(
            (
                x
                for x in listings.values()
                if x.get("state") == "live"
                and x.get("offers_enabled", True)
                and int(x.get("inventory", 0)) > 0
            ),
            None,
        )
    if listing is None or listing.get("state") != "live":
        raise ApiError(422, "no live listing to make an offer on")
    price = (
        to_decimal(params["price"])
        if params.get("price")
        else to_decimal(Decimal(listing["price"]) * Decimal("0.85"))
    )
    rng = sim_rng(store, "offer")
    buyer = make_buyer(rng, 900000 + store.next_id("buyers"))
    address = make_address(rng, store.next_id("addresses", start=500000), buyer)
    n = new_negotiation(
        store,
        listing,
        buyer,
        address,
        price=price,
        at=store.now(),
        message=str(params.get("message", "Would you take this?")),
    )
    return render_negotiation(emu, background_request(emu), n)


@simulation("counter")
def simulate_counter(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """The buyer counters the seller's counter: {negotiation_id, price}."""
    store = emu.store
    n = _get(store, str(params.get("negotiation_id", "")))
    if n["state"] != "active" or actionable(n):
        raise ApiError(422, "the buyer can counter only an active negotiation awaiting the buyer")
    price = to_decimal(params.get("price") or n["offers"][-1]["price"])
    add_offer(store, n, "buyer", price, n["offers"][-1]["shipping_price"], str(params.get("message", "")))
    return render_negotiation(emu, background_request(emu), n)
