"""Listings: the record, its Reverb JSON, the state rules, and the /listings endpoints (API-NOTES 5, 10).

Internal record (other modules rely on exactly these keys; `store.table("listings")`, keyed by int id):
id, sku, make, model, finish, year, title, description, condition_uuid, price (Decimal), currency,
inventory, has_inventory, offers_enabled, state (draft|live|ended|sold|suspended), categories
[uuid], shipping_profile_id, shipping, photos [{id, url}], preorder_info, upc, created_at,
published_at, updated_at, views, watches, bump_bid, auto_offer_percentage, sale_ids (set).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
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
    parse_money,
    renderer,
    route,
    settler,
    simulation,
    to_decimal,
)
from .generator.catalog import (
    BRAND_NEW,
    CATEGORY_BY_UUID,
    CONDITION_BY_NAME,
    CONDITION_DISPLAY,
    INVENTORY_CONDITIONS,
)
from .store import Store

if TYPE_CHECKING:
    from .app import Emulator

# Slugs: draft/live/ended confirmed [3P-LIVE EDOS]; a sold listing's slug is `sold` (API-NOTES 16.1.2:
# EDOS, RIFF, sound-tank); `sold_out` is only a filter value of GET /my/listings?state=. `suspended` comes
# from that filter enum [OFFICIAL-SPEC]. Descriptions other than Draft/Live are ours.
WEB = "https://reverb.com"  # web links point at reverb.com, API links at the host the client used
STATE_DESCRIPTIONS = {
    "draft": "Draft",
    "live": "Live",
    "ended": "Ended",
    "sold": "Sold",
    "suspended": "Suspended",
}


@lru_cache(maxsize=65536)
def listing_slug(listing_id: int, make: str, model: str) -> str:
    """`12345678-fender-stratocaster` (API-NOTES 5.3)."""
    words = re.sub(r"[^a-z0-9]+", "-", f"{make} {model}".lower()).strip("-")
    return f"{listing_id}-{words}" if words else str(listing_id)


def holds_inventory(record: dict[str, Any]) -> bool:
    """Only Brand New, B-Stock and Mint (with inventory) hold quantity > 1 and relist (API-NOTES 5.4)."""
    return record["condition_uuid"] in INVENTORY_CONDITIONS


def _shipping(store: Store, record: dict[str, Any]) -> dict[str, Any] | None:
    shipping = record.get("shipping")
    if shipping is None and record.get("shipping_profile_id") is not None:
        profile = next(
            (p for p in store.shop.get("shipping_profiles", ()) if p["id"] == record["shipping_profile_id"]),
            None,
        )
        shipping = profile and {"local": profile.get("local", False), "rates": profile["rates"]}
    if shipping is None:
        return None
    currency = record["currency"]
    # Rate keys from sound-tank's Listing type [3P-LIVE, API-NOTES 5.3].
    return {
        "local": bool(shipping.get("local")),
        "rates": [
            {
                "region_code": r["region_code"],
                "rate": money(r["rate"], currency),
                "carrier_calculated": False,
                "regional": False,
                "destination_postal_code_needed": False,
            }
            for r in shipping.get("rates", ())
        ],
        "free_expedited_shipping": False,
    }


def _photo(url: str) -> dict[str, Any]:
    # Crop link names from sound-tank's PhotoLinks [3P-LIVE]; the crop URL scheme is ours.
    return {
        "_links": {
            "large_crop": {"href": f"{url}?crop=large"},
            "small_crop": {"href": f"{url}?crop=small"},
            "full": {"href": url},
            "thumbnail": {"href": f"{url}?crop=thumb"},
        }
    }


# Keys only the seller's own collection (/my/listings rows, write answers) carries; GET /listings/{id}
# answers the public shape without them, even to the owner (API-NOTES 16.1.1 [LIVE-DATA]).
SELLER_ONLY_KEYS = ("sku", "slug", "shipping_profile_id", "updated_at", "seller_cost")


def _profile_ref(store: Store, profile_id: int | None) -> dict[str, Any] | None:
    """`shipping_profile: {"id": "15655", "name": ...}`, the id a string (API-NOTES 16.1.1)."""
    if profile_id is None:
        return None
    profile = next((p for p in store.shop.get("shipping_profiles", ()) if p["id"] == profile_id), None)
    return {"id": str(profile_id), "name": (profile or {}).get("name", "")}


def render_public_listing(emu: Emulator, req: Request, record: dict[str, Any]) -> dict[str, Any]:
    """GET /listings/{id}: the public listing shape (API-NOTES 16.1.1): no seller fields, a
    `shipping_profile {id, name}`, and `draft`, `live`, `is_my_listing`, `videos`."""
    body = {k: v for k, v in render_listing(emu, req, record).items() if k not in SELLER_ONLY_KEYS}
    profile = _profile_ref(emu.store, record["shipping_profile_id"])
    if profile is not None:
        body["shipping_profile"] = profile
    body.update(
        draft=record["state"] == "draft", live=record["state"] == "live", is_my_listing=True, videos=[]
    )
    return body


def render_listing(emu: Emulator, req: Request, record: dict[str, Any]) -> dict[str, Any]:
    """The seller's listing JSON of API-NOTES 5.3 (sound-tank types [3P-LIVE], plugin reads
    [OFFICIAL-CODE]): rows of /my/listings and write answers."""
    store = emu.store
    lid = record["id"]
    slug = listing_slug(lid, record["make"], record["model"])
    currency = record["currency"]
    price = money(record["price"], currency)
    state = record["state"]
    self_href = req.href(f"/api/listings/{lid}")
    links: dict[str, Any] = {
        "self": link(self_href),
        "update": link(self_href, "PUT"),  # PrestaShop takes the slug from this href's last segment
        "edit": link(f"{WEB}/my/selling/listings/{slug}/edit"),
        "web": link(f"{WEB}/item/{slug}"),  # M1 reads listing._links.web.href
    }
    if state == "live":
        links["end"] = link(req.href(f"/api/my/listings/{lid}/state/end"), "PUT")
    if record["photos"]:
        links["photo"] = {"href": f"{photos.absolute(record['photos'][0]['url'], req.origin)}?crop=large"}
    body: dict[str, Any] = {
        "id": lid,
        "make": record["make"],
        "model": record["model"],
        "finish": record["finish"],
        "year": record["year"],
        "title": record["title"],
        "description": record["description"],
        "sku": record["sku"],
        "shop_name": store.shop.get("name", ""),
        "slug": slug,
        "created_at": record["created_at"].isoformat(timespec="seconds"),
        "condition": {
            "uuid": record["condition_uuid"],
            "display_name": CONDITION_DISPLAY.get(record["condition_uuid"], ""),
        },
        "price": price,
        "buyer_price": price,
        "seller_price": price,
        # sound-tank's seller type; null unless the shop keeps its costs on Reverb (Store.seller_costs)
        "seller_cost": None if record.get("seller_cost") is None else money(record["seller_cost"], currency),
        "listing_currency": currency,
        "inventory": record["inventory"],
        "has_inventory": record["has_inventory"],
        "offers_enabled": record["offers_enabled"],
        "auction": False,
        "categories": [
            {"uuid": u, "full_name": CATEGORY_BY_UUID[u].full_name if u in CATEGORY_BY_UUID else ""}
            for u in record["categories"]
        ],
        "state": {"slug": state, "description": STATE_DESCRIPTIONS.get(state, state.title())},
        "shipping_profile_id": record["shipping_profile_id"],
        "shipping": _shipping(store, record),
        "stats": {"views": record["views"], "watches": record["watches"]},
        "photos": [_photo(photos.absolute(p["url"], req.origin)) for p in record["photos"]],
        "_links": links,
        # OUR extension: no source shows updated_at on listings (API-NOTES 5.3); incremental pulls use it.
        "updated_at": record["updated_at"].isoformat(timespec="seconds") if record["updated_at"] else None,
    }
    if record["published_at"] is not None:  # absent on drafts [3P-LIVE sound-tank]
        body["published_at"] = record["published_at"].isoformat(timespec="seconds")
    if record.get("preorder_info"):
        body["preorder_info"] = record["preorder_info"]
    return body


def preorder_from(value: Any) -> dict[str, Any] | None:
    """A listing's pre-order info from a request body: `lead_time: 0` without a ship date removes it
    [compiled reference "Managing inventory and pre-orders"]; so do null and {} [INFERRED]."""
    if not isinstance(value, dict) or not value:
        return None
    if str(value.get("lead_time", "")).strip() in ("0", "0.0") and not value.get("ship_date"):
        return None
    return value


# ---- state rules other modules call (orders, refunds, negotiations) ---------------------------------


def record_sale(store: Store, listing_id: int, quantity: int) -> None:
    """An order took `quantity` units. Selling the last one leaves the listing `sold`, for inventory
    and one-of-a-kind conditions alike (API-NOTES 16.1.2; `sold_out` is the filter value that finds
    it). (Setting inventory 0 by hand on a used listing ends
    it instead; see `apply_inventory`.)"""
    record = store.table("listings").get(listing_id)
    if record is None:
        return
    record["inventory"] = max(record["inventory"] - quantity, 0)
    if record["inventory"] == 0 and record["state"] == "live":
        record["state"] = "sold"
    store.touch(record)


def restock(store: Store, listing_id: int, quantity: int) -> None:
    """A cancelled or refunded order puts units back; a sold-out listing relists (API-NOTES 5.4)."""
    record = store.table("listings").get(listing_id)
    if record is None:
        return
    cap = None if holds_inventory(record) else 1  # one-of-a-kind items never hold more than one
    record["inventory"] = (
        record["inventory"] + quantity if cap is None else min(record["inventory"] + quantity, cap)
    )
    if record["inventory"] > 0 and record["state"] == "sold":
        record["state"] = "live"
    store.touch(record)


# ---- lookups -----------------------------------------------------------------------------------------

_SLUG_ID = re.compile(r"^(\d+)")
DEFAULT_REQ_ORIGIN = "http://127.0.0.1:8765"  # links in simulation-triggered webhooks


def find_listing(store: Store, id_or_slug: str | int) -> dict[str, Any]:
    """`/listings/{slug|id}`: "40000001" and "40000001-fender-stratocaster" both work (API-NOTES 5.1)."""
    m = _SLUG_ID.match(str(id_or_slug))
    record = store.table("listings").get(int(m.group(1))) if m else None
    if record is None:
        raise ApiError(404, "The requested resource could not be found.")
    return record


def _sku_index(store: Store) -> dict[str, list[int]]:
    """SKU -> listing ids, built lazily and rebuilt when the table's size changes; the write paths here
    keep it current. Keeps `?sku=` O(1) for a sync that looks every product up (PrestaShop does)."""
    table = store.table("listings")
    cached = getattr(store, "_listing_sku_index", None)
    if cached is None or cached[0] != len(table):
        index: dict[str, list[int]] = {}
        for r in table.values():
            if r["sku"]:
                index.setdefault(r["sku"], []).append(r["id"])
        cached = (len(table), index)
        store._listing_sku_index = cached  # type: ignore[attr-defined]
    return cached[1]


def _insert(store: Store, record: dict[str, Any]) -> None:
    """Add a record to the table and the SKU index without a full rebuild."""
    index = _sku_index(store)  # fresh before the insert
    table = store.table("listings")
    table[record["id"]] = record
    store._listing_sku_index = (len(table), index)  # type: ignore[attr-defined]
    _reindex_sku(store, record, None)


def _remove(store: Store, record: dict[str, Any]) -> None:
    index = _sku_index(store)
    table = store.table("listings")
    table.pop(record["id"], None)
    store._listing_sku_index = (len(table), index)  # type: ignore[attr-defined]
    if record["sku"] and record["id"] in index.get(record["sku"], ()):
        index[record["sku"]].remove(record["id"])


def _reindex_sku(store: Store, record: dict[str, Any], old_sku: str | None) -> None:
    index = _sku_index(store)
    if old_sku and record["id"] in index.get(old_sku, ()):
        index[old_sku].remove(record["id"])
    if record["sku"] and record["id"] not in index.setdefault(record["sku"], []):
        index[record["sku"]].append(record["id"])


def _emit(emu: Emulator, req: Request, topic: str, record: dict[str, Any]) -> None:
    emu.emit(topic, render_listing(emu, req, record))


# ---- create / update -----------------------------------------------------------------------------------

CURRENCIES = frozenset({"USD", "CAD", "EUR", "GBP", "AUD", "JPY", "NZD", "MXN"})  # [OFFICIAL-SPEC] enum
END_REASONS = ("not_sold", "reverb_sale")  # [OFFICIAL-SPEC] enum
_TEXT_FIELDS = ("title", "description", "finish", "year", "sku", "upc")
MSG_BLANK = "can't be blank"
# Error texts are ours; the shape {message, errors: {field: [text]}} is Reverb's (API-NOTES 4.2).
MSG_INVENTORY = "can only be more than 1 for Brand New, B-Stock and Mint (with inventory) items"


def _condition_uuid(value: Any) -> str | None:
    """`{"uuid": ...}` [OFFICIAL-SPEC], or the older display-name string, e.g. "Brand New" [M1]."""
    raw = value.get("uuid") if isinstance(value, dict) else value
    if not isinstance(raw, str):
        return None
    if raw in CONDITION_DISPLAY:
        return raw
    return CONDITION_BY_NAME.get(raw.strip().lower())


def _category_uuids(body: dict[str, Any], errors: dict[str, list[str]]) -> list[str] | None:
    if "categories" in body:
        raw = [c.get("uuid") if isinstance(c, dict) else c for c in body["categories"] or []]
    elif "category_uuids" in body:  # the older M1 form (API-NOTES 5.2)
        raw = list(body["category_uuids"] or [])
    else:
        return None
    unknown = [u for u in raw if u not in CATEGORY_BY_UUID]
    if unknown:
        errors.setdefault("categories", []).append(f"{unknown[0]} is not a valid category")
    return [u for u in raw if u in CATEGORY_BY_UUID]


def _shipping_from(value: Any, errors: dict[str, list[str]]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors["shipping"] = ["is invalid"]
        return None
    rates = []
    for rate in value.get("rates") or []:
        try:
            rates.append(
                {
                    "region_code": str(rate["region_code"]),
                    "rate": to_decimal(
                        rate["rate"]["amount"] if isinstance(rate["rate"], dict) else rate["rate"]
                    ),
                }
            )
        except (KeyError, TypeError, ArithmeticError, ValueError):
            errors["shipping"] = ["rates need a region_code and a rate {amount, currency}"]
    return {"local": bool(value.get("local")), "rates": rates}


def _apply_photos(store: Store, record: dict[str, Any], urls: Any, method: str | None) -> None:
    """Photos append by default; `photo_upload_method: override_position` puts them in the sent order
    (API-NOTES 5.2). A URL already on the listing keeps its image id (originals match [3P-LIVE EDOS])."""
    if not isinstance(urls, list):
        return
    existing = {p["url"]: p for p in record["photos"]}
    sent = [photos.stored(u) for u in urls if isinstance(u, str) and u]
    if method == "override_position":
        ordered = [existing.get(u) or {"id": store.next_id("images"), "url": u} for u in sent]
        kept = {p["url"] for p in ordered}
        record["photos"] = ordered + [p for p in record["photos"] if p["url"] not in kept]
    else:
        record["photos"] = record["photos"] + [
            {"id": store.next_id("images"), "url": u} for u in dict.fromkeys(sent) if u not in existing
        ]


# Sent as any truthy/falsy value, stored as a bool (upc_does_not_apply is an extra key: see the publish rule).
_FLAGS = ("upc_does_not_apply", "offers_enabled", "has_inventory")


def _apply(store: Store, record: dict[str, Any], body: dict[str, Any], *, creating: bool) -> None:
    """Copy the sent fields onto `record` (only sent fields change, API-NOTES 5.1), or raise 412 with
    every problem at once."""
    errors: dict[str, list[str]] = {}
    _apply_item(store, record, body, errors, creating=creating)
    _apply_selling(store, record, body, errors)
    if not errors.get("inventory") and record["inventory"] > 1 and not holds_inventory(record):
        errors["inventory"] = [MSG_INVENTORY]
    if errors:
        raise ValidationFailed(errors)
    if not holds_inventory(record):
        # A used item is one of a kind: has_inventory false; a used draft reads back inventory 0 whatever
        # was sent [3P-LIVE EDOS, API-NOTES 5.4]; a live one holds its single unit.
        record["has_inventory"] = False
        if record["state"] == "draft":
            record["inventory"] = 0
    if "photos" in body:
        _apply_photos(store, record, body["photos"], body.get("photo_upload_method"))


def _apply_item(
    store: Store,
    record: dict[str, Any],
    body: dict[str, Any],
    errors: dict[str, list[str]],
    *,
    creating: bool,
) -> None:
    """What the item is: make, model, the text fields, condition and price (the first four a create must
    send)."""
    for name in ("make", "model"):
        if name in body or creating:
            value = str(body.get(name) or "").strip()
            if not value:
                errors[name] = [MSG_BLANK]
            record[name] = value
    for name in _TEXT_FIELDS:
        if name in body:
            value = body[name]
            record[name] = None if value is None and name in ("sku", "upc") else str(value or "")
    if "condition" in body or creating:
        condition = _condition_uuid(body.get("condition"))
        if condition is None:
            errors["condition"] = [MSG_BLANK if body.get("condition") in (None, "", {}) else "is not valid"]
        else:
            record["condition_uuid"] = condition
    if "price" in body or creating:
        _apply_price(store, record, body.get("price"), errors)


def _apply_selling(
    store: Store, record: dict[str, Any], body: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    """How it sells: categories, the flags, shipping, preorder and inventory."""
    categories = _category_uuids(body, errors)
    if categories is not None:
        record["categories"] = categories
    for name in _FLAGS:
        if name in body:
            record[name] = bool(body[name])
    if "shipping_profile_id" in body:
        _apply_shipping_profile(store, record, body["shipping_profile_id"], errors)
    if "shipping" in body:
        record["shipping"] = _shipping_from(body["shipping"], errors)
    if "preorder_info" in body:
        record["preorder_info"] = preorder_from(body["preorder_info"])
    if "inventory" in body:
        _apply_inventory(record, body["inventory"], errors)


def _apply_price(store: Store, record: dict[str, Any], price: Any, errors: dict[str, list[str]]) -> None:
    """The sent `price` (and its currency) onto `record`, or its problems into `errors`."""
    if price in (None, "", {}):
        errors["price"] = [MSG_BLANK]
        return
    try:
        record["price"] = parse_money(price, "price", store.currency)
    except ApiError as exc:
        errors.update(exc.errors or {})
    if "price" not in errors and record["price"] <= 0:
        errors["price"] = ["must be greater than 0"]
    currency = price.get("currency") if isinstance(price, dict) else None
    if currency:
        if currency not in CURRENCIES:
            errors.setdefault("price", []).append("currency is not a valid currency")
        else:
            record["currency"] = currency


def _apply_shipping_profile(
    store: Store, record: dict[str, Any], raw: Any, errors: dict[str, list[str]]
) -> None:
    ids = {p["id"] for p in store.shop.get("shipping_profiles", ())}
    try:
        profile_id = None if raw in (None, "") else int(raw)  # the spec types it a string
    except (TypeError, ValueError):
        profile_id = -1
    if profile_id is not None and profile_id not in ids:
        errors["shipping_profile_id"] = ["is not one of your shipping profiles"]
    record["shipping_profile_id"] = profile_id


def _apply_inventory(record: dict[str, Any], raw: Any, errors: dict[str, list[str]]) -> None:
    try:
        inventory = int(raw)
    except (TypeError, ValueError):
        inventory = -1
    if inventory < 0:
        errors["inventory"] = ["must be a whole number, 0 or more"]
    else:
        record["inventory"] = inventory


def _publish(store: Store, record: dict[str, Any]) -> list[str]:
    """`publish: true`: a draft goes live, and an ended or sold listing revives, used conditions included
    [3P-LIVE EDOS]. Publishing is asynchronous (API-NOTES 16.1.3): the answer still shows the old state
    and the listing reads live about `PUBLISH_DELAY` later (`settle_publishing`). Returns warnings: the
    only place Reverb explains a listing it will not publish (API-NOTES 4.4)."""
    if record["state"] == "live":
        return []
    if record["state"] not in ("draft", "ended", "sold"):
        raise ApiError(422, f"A {record['state']} listing cannot be published.")
    if (
        record["state"] == "draft"
        and record["condition_uuid"] == BRAND_NEW
        and not record.get("upc")
        and not record.get("upc_does_not_apply")
    ):
        return ["Brand New items need a valid UPC (or upc_does_not_apply) to be published."]  # [3P-LIVE]
    if holds_inventory(record) and record["inventory"] <= 0:
        raise ValidationFailed({"inventory": ["must be greater than 0 to publish"]})
    record["_publish"] = True  # scheduled by the caller once the record has its id
    return []


def _schedule_publish(emu: Emulator, record: dict[str, Any]) -> None:
    if record.pop("_publish", False):
        emu.store.pending_publish[record["id"]] = emu.store.now() + timedelta(seconds=emu.publish_delay)


@settler
def settle_publishing(emu: Emulator) -> None:
    """Listings whose publish is due go live now (the emulator's clock), with the listings/publish hook."""
    store = emu.store
    if not store.pending_publish:
        return
    now = store.now()
    table = store.table("listings")
    for listing_id, due in list(store.pending_publish.items()):
        if due > now:
            continue
        del store.pending_publish[listing_id]
        record = table.get(listing_id)
        if record is None or record["state"] not in ("draft", "ended", "sold"):
            continue
        if not holds_inventory(record):
            record["inventory"] = 1
        elif record["inventory"] <= 0:
            continue
        record["state"] = "live"
        if record["published_at"] is None:
            record["published_at"] = now
        store.touch(record)
        _emit(emu, _sim_request(), "listings/publish", record)


def _inventory_rules(record: dict[str, Any]) -> None:
    """Inventory 0 ends a live listing: a used one `ended`, an inventory one `sold` (API-NOTES 16.1.2);
    an inventory listing relists when its inventory rises again [compiled summary; 3P-LIVE EDOS]."""
    if record["state"] == "live" and record["inventory"] == 0:
        record["state"] = "sold" if holds_inventory(record) else "ended"
    elif record["state"] == "sold" and record["inventory"] > 0 and holds_inventory(record):
        record["state"] = "live"


def new_record(store: Store) -> dict[str, Any]:
    """An empty draft with every key of the internal record."""
    return {
        "id": 0,
        "sku": None,
        "make": "",
        "model": "",
        "finish": "",
        "year": "",
        "title": "",
        "description": "",
        "condition_uuid": "",
        "price": Decimal("0.00"),
        "currency": store.currency,
        "inventory": 1,
        "has_inventory": False,
        "offers_enabled": True,
        "state": "draft",
        "categories": [],
        "shipping_profile_id": None,
        "shipping": None,
        "photos": [],
        "preorder_info": None,
        "upc": None,
        "created_at": None,
        "published_at": None,
        "updated_at": None,
        "views": 0,
        "watches": 0,
        "bump_bid": None,
        "auto_offer_percentage": None,
        "sale_ids": set(),
    }


def _envelope(
    emu: Emulator, req: Request, record: dict[str, Any], message: str, warnings: list[str], status: int = 200
) -> Response:
    """The listing write envelope {message, listing, warnings?} (API-NOTES 4.4 [OFFICIAL-CODE prestashop])."""
    body: dict[str, Any] = {"message": message, "listing": render_listing(emu, req, record)}
    if warnings:
        body["warnings"] = warnings
    return Response(status, body)


DUPLICATE_SKU = "A listing with sku {sku} already exists."  # RIFF matches "sku" + "already exists"


@route("POST", "/api/listings")
def create_listing(emu: Emulator, req: Request) -> Response:
    """A draft, published a second later when `publish` is true (API-NOTES 5.1, 16.1.3). A second
    listing with an existing SKU is refused with 422 (API-NOTES 16.1.4 [3P-LIVE RIFF]); a publish the
    listing does not qualify for answers 422 yet leaves the draft, its id in the body (RIFF reads
    `listing.id` there); with photos to fetch the answer is 202 (sound-tank accepts 201 or 202)."""
    store, body = emu.store, req.json
    sku = body.get("sku")
    if sku not in (None, ""):
        table = store.table("listings")
        if any(i in table for i in _sku_index(store).get(str(sku), ())):
            raise ApiError(422, DUPLICATE_SKU.format(sku=sku), {"sku": ["already exists"]})
    record = new_record(store)
    _apply(store, record, body, creating=True)
    if holds_inventory(record) and "has_inventory" not in body:
        record["has_inventory"] = True
    if not record["title"]:  # Reverb builds one from the fields [INFERRED]
        record["title"] = " ".join(
            x for x in (record["year"], record["make"], record["model"], record["finish"]) if x
        )
    record["id"] = store.next_id("listings", start=40_000_000)
    record["created_at"] = store.now()
    try:
        warnings = _publish(store, record) if body.get("publish") else []
    except ApiError as exc:
        warnings, refusal = [], exc
    else:
        refusal = None
    store.touch(record)
    _insert(store, record)
    if refusal is not None or warnings:
        message = refusal.message if refusal is not None else " ".join(warnings)
        errors = refusal.errors if refusal is not None else {"publish": warnings}
        raise ApiError(422, message, errors, extra={"listing": render_listing(emu, req, record)})
    _schedule_publish(emu, record)
    sent_photos = [u for u in body.get("photos") or [] if isinstance(u, str) and u]
    return _envelope(emu, req, record, "Listing created.", warnings, 202 if sent_photos else 201)


@route("GET", "/api/listings/{listing_id}")
def get_listing(emu: Emulator, req: Request, listing_id: str) -> dict[str, Any]:
    return render_public_listing(emu, req, find_listing(emu.store, listing_id))


@route("PUT", "/api/listings/{listing_id}")
def update_listing(emu: Emulator, req: Request, listing_id: str) -> Response:
    store, body = emu.store, req.json
    record = find_listing(store, listing_id)
    staged = dict(record)  # apply to a copy so a 412 changes nothing
    old_state, old_inventory, old_sku = record["state"], record["inventory"], record["sku"]
    _apply(store, staged, body, creating=False)
    if "inventory" in body:
        _inventory_rules(staged)
    warnings = _publish(store, staged) if body.get("publish") else []
    record.update(staged)
    _schedule_publish(emu, record)
    store.touch(record)
    if record["sku"] != old_sku:
        _reindex_sku(store, record, old_sku)
    if old_state != record["state"] or old_inventory != record["inventory"]:
        _emit(emu, req, "listings/update", record)  # "only on listing state and inventory changes"
    return _envelope(emu, req, record, "Listing updated.", warnings)


@route("DELETE", "/api/listings/{listing_id}")
def delete_listing(emu: Emulator, req: Request, listing_id: str) -> Response:
    """Only drafts delete. A published one is a 400 with a message: EDOS saw 400 in the sandbox, not
    the 406 Reverb's guide names [3P-LIVE EDOS CHANGELOG 0.1.1; API-NOTES 4.3]."""
    record = find_listing(emu.store, listing_id)
    if record["state"] != "draft":
        raise ApiError(400, "Only draft listings can be deleted. End this listing instead.")
    _remove(emu.store, record)
    return Response(200, {"message": "Draft deleted."})  # body shape ours: no source shows it


@route("PUT", "/api/my/listings/{listing_id}/state/end")
def end_listing(emu: Emulator, req: Request, listing_id: str) -> Response:
    """`reason` (not_sold | reverb_sale) is required [OFFICIAL-SPEC]; a draft answers 422 [3P-LIVE EDOS];
    success has an empty body [3P-LIVE EDOS]."""
    record = find_listing(emu.store, listing_id)
    reason = req.json.get("reason")
    if reason in (None, ""):
        raise ApiError(412, "reason is missing", {"reason": ["is missing"]})  # missing param: 412 (4.2)
    if reason not in END_REASONS:
        raise ApiError(400, "reason does not have a valid value")
    if record["state"] == "draft":
        raise ApiError(422, "A draft cannot be ended. Delete it instead.")
    if record["state"] != "live":
        raise ApiError(422, f"This listing is not live ({record['state']}).")
    record["state"] = "ended"
    record["end_reason"] = reason  # extra key, for the state view
    emu.store.touch(record)
    _emit(emu, req, "listings/update", record)
    return Response(200, None)


# ---- collections -------------------------------------------------------------------------------------

LISTING_STATES = ("all", "draft", "ended", "live", "ordered", "sold_out", "suspended", "seller_unavailable")


def _matches(record: dict[str, Any], words: list[str]) -> bool:
    text = f"{record['title']} {record['make']} {record['model']} {record['sku'] or ''}".lower()
    return all(w in text for w in words)


@route("GET", "/api/my/listings")
def my_listings(emu: Emulator, req: Request) -> dict[str, Any]:
    """Live by default, `state=all` for every state; `sku` exact; `query` words (API-NOTES 5.1). Order:
    creation order (ours; no source states the order). A SKU lookup also defaults to live, so a client
    checking for a draft it may have created must send state=all, as EDOS does [3P-LIVE]."""
    store = emu.store
    table = store.table("listings")
    state = req.arg("state") or "live"
    if state not in LISTING_STATES:
        raise ApiError(400, "state does not have a valid value")
    sku = req.arg("sku")
    if sku is not None:
        items = [table[i] for i in _sku_index(store).get(sku, ()) if i in table and table[i]["sku"] == sku]
    else:
        items = list(table.values())
    if state == "seller_unavailable":
        items = items if store.vacation else []
    elif state == "ordered":
        items = []  # ours: listings with a pending order; the emulator keeps none in that state
    elif state == "sold_out":  # the filter value; the listings it finds read `sold` (API-NOTES 16.1.2)
        items = [r for r in items if r["state"] == "sold"]
    elif state != "all":
        items = [r for r in items if r["state"] == state]
    query = (req.arg("query") or "").strip().lower()
    if query:
        words = query.split()
        items = [r for r in items if _matches(r, words)]
    return paginate(req, items, "listings", lambda r: render_listing(emu, req, r))


@route("GET", "/api/my/listings/drafts")
def my_drafts(emu: Emulator, req: Request) -> dict[str, Any]:
    items = [r for r in emu.store.table("listings").values() if r["state"] == "draft"]
    return paginate(req, items, "listings", lambda r: render_listing(emu, req, r))


# ---- images ------------------------------------------------------------------------------------------


@route("GET", "/api/listings/{listing_id}/images")
def listing_images(emu: Emulator, req: Request, listing_id: str) -> dict[str, Any]:
    """{"images": [{id, url, ...}]} [3P-LIVE sound-tank/EDOS]; `position` is ours."""
    record = find_listing(emu.store, listing_id)
    return {
        "images": [{"id": p["id"], "url": p["url"], "position": i} for i, p in enumerate(record["photos"])]
    }


@route("DELETE", "/api/listings/{listing_id}/images/{image_id}")
def delete_image(emu: Emulator, req: Request, listing_id: str, image_id: str) -> Response:
    record = find_listing(emu.store, listing_id)
    kept = [p for p in record["photos"] if str(p["id"]) != image_id]
    if len(kept) == len(record["photos"]):
        raise ApiError(404, "The requested resource could not be found.")
    record["photos"] = kept
    emu.store.touch(record)
    return Response(200, None)  # empty body: ours, no source shows one


# ---- bumps (API-NOTES 10.3) --------------------------------------------------------------------------

BUMP_TIERS = (0.01, 0.02, 0.035, 0.05, 0.075, 0.1)  # ours: the summary says "percent tiers", no values


@route("GET", "/api/listings/{listing_id}/bump")
def get_bump(emu: Emulator, req: Request, listing_id: str) -> dict[str, Any]:
    """`bids` always, `bump_v2_stats` only once the listing has been bumped [compiled summary]; the
    fields inside both are ours (the summary names impressions, sold count, cost and sales)."""
    record = find_listing(emu.store, listing_id)
    body: dict[str, Any] = {
        "bids": [
            {"bid": b, "display": f"{b * 100:g}%", "selected": record["bump_bid"] == b} for b in BUMP_TIERS
        ]
    }
    if record["bump_bid"] is not None or record.get("ever_bumped"):
        body["bump_v2_stats"] = {
            "impressions": record["views"] * 3,
            "views": record["views"],
            "sold": 0,
            "cost": money(0, record["currency"]),
            "sales": money(0, record["currency"]),
            "bid": record["bump_bid"],
        }
    return body


def _products(store: Store, body: dict[str, Any]) -> list[dict[str, Any]]:
    products = body.get("products")
    if not isinstance(products, list) or not products:
        raise ApiError(412, "products is missing", {"products": ["is missing"]})
    return [find_listing(store, p) for p in products]


@route("PUT", "/api/bump/v2/bids")
def set_bump(emu: Emulator, req: Request) -> Response:
    body = req.json
    records = _products(emu.store, body)
    try:
        bid = float(body.get("bid"))
    except (TypeError, ValueError):
        raise ApiError(412, "bid is missing", {"bid": ["is missing"]}) from None
    if not 0 < bid <= 0.5:
        raise ValidationFailed({"bid": ["must be between 0 and 0.5 (a fraction: 0.035 is 3.5%)"]})
    for record in records:
        record["bump_bid"] = bid
        record["ever_bumped"] = True
        emu.store.touch(record)
    return Response(200, None)  # body shape not documented; empty, like the DELETE [compiled summary]


@route("DELETE", "/api/bump/v2/bids")
def remove_bump(emu: Emulator, req: Request) -> Response:
    for record in _products(emu.store, req.json):
        record["bump_bid"] = None
        emu.store.touch(record)
    return Response(200, None)  # "The response body is empty on success" [compiled summary]


# ---- sales (API-NOTES 10.4) --------------------------------------------------------------------------

SALE_CHUNK = 25  # at most 25 listing ids per request [compiled summary]
NOT_AUTHORIZED = {"message": "You are not authorized to perform this action.", "error_type": None}


def render_sale(emu: Emulator, req: Request, sale: dict[str, Any]) -> dict[str, Any]:
    """Fields from the compiled summary (id, slug, name, code, discount_percent, starts_at, ends_at,
    _links); the link names and `listings_count` are ours."""
    return {
        "id": sale["id"],
        "slug": sale["slug"],
        "name": sale["name"],
        "code": sale["code"],
        "discount_percent": sale["discount_percent"],
        "starts_at": sale["starts_at"].isoformat(),
        "ends_at": sale["ends_at"].isoformat(),
        "listings_count": len(sale["listing_ids"]),
        "_links": {
            "self": link(req.href(f"/api/sales/{sale['slug']}")),
            "listings": link(req.href(f"/api/sales/{sale['id']}/listings")),
            "web": link(f"{WEB}/sales/{sale['slug']}"),
        },
    }


def _sales(emu: Emulator, req: Request, kind: str) -> dict[str, Any]:
    sales = [s for s in emu.store.table("sales").values() if s["kind"] == kind]
    return {"sales": [render_sale(emu, req, s) for s in sales]}  # root key ours


@route("GET", "/api/sales/seller")
def seller_sales(emu: Emulator, req: Request) -> dict[str, Any]:
    return _sales(emu, req, "seller")


@route("GET", "/api/sales/reverb")
def reverb_sales(emu: Emulator, req: Request) -> dict[str, Any]:
    return _sales(emu, req, "reverb")


@route("GET", "/api/listings/{listing_id}/sales")
def listing_sales(emu: Emulator, req: Request, listing_id: str) -> dict[str, Any]:
    record = find_listing(emu.store, listing_id)
    sales = emu.store.table("sales")
    return {"sales": [render_sale(emu, req, sales[i]) for i in sorted(record["sale_ids"]) if i in sales]}


def _sale_listings(emu: Emulator, req: Request, sale_id: str, adding: bool) -> dict[str, Any]:
    """Preferred Sellers only [3P-LIVE EDOS] (403 with Reverb's not-authorized body otherwise); at most 25
    ids (412 beyond, ours: the limit is documented, the refusal is not); a per-listing `results` array
    [compiled summary] whose item fields are ours."""
    store = emu.store
    if not store.preferred_seller:
        raise ApiError(403, NOT_AUTHORIZED["message"], extra={"error_type": None})
    sale = store.table("sales").get(int(sale_id)) if sale_id.isdigit() else None
    if sale is None:
        raise ApiError(404, "The requested resource could not be found.")
    ids = req.json.get("listing_ids")
    if not isinstance(ids, list) or not ids:
        raise ApiError(412, "listing_ids is missing", {"listing_ids": ["is missing"]})
    if len(ids) > SALE_CHUNK:
        raise ValidationFailed({"listing_ids": [f"can hold at most {SALE_CHUNK} listings per request"]})
    table = store.table("listings")
    results = []
    for raw in ids:
        record = table.get(int(raw)) if str(raw).isdigit() else None
        if record is None:
            results.append({"listing_id": raw, "success": False, "errors": ["Listing not found"]})
            continue
        if adding:
            sale["listing_ids"].add(record["id"])
            record["sale_ids"].add(sale["id"])
        else:
            sale["listing_ids"].discard(record["id"])
            record["sale_ids"].discard(sale["id"])
        store.touch(record)
        results.append({"listing_id": record["id"], "success": True, "errors": []})
    return {"results": results}


@route("POST", "/api/sales/{sale_id}/listings")
def add_to_sale(emu: Emulator, req: Request, sale_id: str) -> dict[str, Any]:
    return _sale_listings(emu, req, sale_id, adding=True)


@route("DELETE", "/api/sales/{sale_id}/listings")
def remove_from_sale(emu: Emulator, req: Request, sale_id: str) -> dict[str, Any]:
    return _sale_listings(emu, req, sale_id, adding=False)


# ---- direct offers (API-NOTES 10.2) ------------------------------------------------------------------


def _direct_offers_allowed(emu: Emulator) -> None:
    """Reverb's documented body [OFFICIAL-DOC manage-direct-offers]; the 403 status is inferred."""
    if not emu.store.direct_offers_enabled:
        raise ApiError(403, NOT_AUTHORIZED["message"], extra={"error_type": None})


def render_auto_offer(req: Request, record: dict[str, Any]) -> dict[str, Any]:
    """Exactly the documented example's keys [OFFICIAL-DOC]. With no direct offer set, the percentage and
    price are null (ours: no source shows that case)."""
    pct = record["auto_offer_percentage"]
    price = None if pct is None else money(record["price"] * (100 - pct) / 100, record["currency"])
    return {
        "offer_percentage": pct,
        "offer_price": price,
        "message": None,
        "_links": {"listing": link(req.href(f"/api/listings/{record['id']}"))},
    }


@route("GET", "/api/listings/{listing_id}/auto_offer")
def get_auto_offer(emu: Emulator, req: Request, listing_id: str) -> dict[str, Any]:
    _direct_offers_allowed(emu)
    return render_auto_offer(req, find_listing(emu.store, listing_id))


@route("POST", "/api/listings/{listing_id}/auto_offer")
def set_auto_offer(emu: Emulator, req: Request, listing_id: str) -> dict[str, Any]:
    _direct_offers_allowed(emu)
    record = find_listing(emu.store, listing_id)
    raw = req.json.get("offer_percentage")
    if raw in (None, ""):
        raise ApiError(412, "offer_percentage is missing", {"offer_percentage": ["is missing"]})
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | str)
        or not str(raw).isdigit()
        or not 1 <= int(raw) <= 99
    ):
        raise ValidationFailed({"offer_percentage": ["must be a whole number from 1 to 99"]})
    record["auto_offer_percentage"] = int(raw)
    emu.store.touch(record)
    return render_auto_offer(req, record)  # response body ours: the doc shows only the GET


@route("DELETE", "/api/listings/{listing_id}/auto_offer")
def delete_auto_offer(emu: Emulator, req: Request, listing_id: str) -> Response:
    _direct_offers_allowed(emu)
    record = find_listing(emu.store, listing_id)
    record["auto_offer_percentage"] = None
    emu.store.touch(record)
    return Response(200, None)  # empty body: ours


# ---- emulator state and simulations ------------------------------------------------------------------


@renderer("listings")
def _render_listing_state(emu: Emulator, req: Request, record: dict[str, Any]) -> dict[str, Any]:
    return render_listing(emu, req, record)


@renderer("sales")
def _render_sale_state(emu: Emulator, req: Request, sale: dict[str, Any]) -> dict[str, Any]:
    return {**render_sale(emu, req, sale), "kind": sale["kind"], "listing_ids": sorted(sale["listing_ids"])}


def _sim_request() -> Request:
    return Request("POST", "/", {}, {}, b"", DEFAULT_REQ_ORIGIN)


@simulation("listing_changed")
def sim_listing_changed(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """Someone edits a listing on reverb.com behind the mirror's back: {listing_id, price?, title?,
    inventory?, state?}. Inventory follows the same rules as an API update."""
    store, req = emu.store, _sim_request()
    record = find_listing(store, params.get("listing_id", ""))
    old_state, old_inventory = record["state"], record["inventory"]
    if "price" in params:
        record["price"] = to_decimal(
            params["price"]["amount"] if isinstance(params["price"], dict) else params["price"]
        )
    if "title" in params:
        record["title"] = str(params["title"])
    if "inventory" in params:
        record["inventory"] = max(int(params["inventory"]), 0)
        _inventory_rules(record)
    if "state" in params:
        if params["state"] not in STATE_DESCRIPTIONS:
            raise ApiError(400, f"state must be one of {', '.join(STATE_DESCRIPTIONS)}")
        record["state"] = params["state"]
        if record["state"] == "live" and record["published_at"] is None:
            record["published_at"] = store.now()
    store.touch(record)
    if old_state != record["state"] or old_inventory != record["inventory"]:
        _emit(emu, req, "listings/update", record)
    return render_listing(emu, req, record)


@simulation("listing_deleted")
def sim_listing_deleted(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """A listing vanishes (removed by Reverb support, say): later GETs answer 404."""
    record = find_listing(emu.store, params.get("listing_id", ""))
    _remove(emu.store, record)
    return {"deleted": record["id"]}
