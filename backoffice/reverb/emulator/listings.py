"""Listings: the record, its Reverb JSON, the state rules, and the /listings endpoints (API-NOTES 5, 10).

Internal record (other modules rely on exactly these keys; `store.table("listings")`, keyed by int id):
id, sku, make, model, finish, year, title, description, condition_uuid, price (Decimal), currency,
inventory, has_inventory, offers_enabled, state (draft|live|ended|sold_out|suspended), categories
[uuid], shipping_profile_id, shipping, photos [{id, url}], preorder_info, upc, created_at,
published_at, updated_at, views, watches, bump_bid, auto_offer_percentage, sale_ids (set).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .core import Request, link, money
from .generator.catalog import CATEGORY_BY_UUID, CONDITION_DISPLAY, INVENTORY_CONDITIONS
from .store import Store

if TYPE_CHECKING:
    from .app import Emulator

# Slugs: draft/live/ended confirmed [3P-LIVE EDOS]; sold_out and suspended come from the `state` filter
# enum of GET /my/listings [OFFICIAL-SPEC]. Descriptions other than Draft/Live are ours.
STATE_DESCRIPTIONS = {
    "draft": "Draft",
    "live": "Live",
    "ended": "Ended",
    "sold_out": "Sold Out",
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


def render_listing(emu: Emulator, req: Request, record: dict[str, Any]) -> dict[str, Any]:
    """The listing JSON of API-NOTES 5.3 (sound-tank types [3P-LIVE], plugin reads [OFFICIAL-CODE])."""
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
        "edit": link(f"{req.origin}/my/selling/listings/{slug}/edit"),
        "web": link(f"{req.origin}/item/{slug}"),  # M1 reads listing._links.web.href
    }
    if state == "live":
        links["end"] = link(req.href(f"/api/my/listings/{lid}/state/end"), "PUT")
    if record["photos"]:
        links["photo"] = {"href": f"{record['photos'][0]['url']}?crop=large"}
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
        "photos": [_photo(p["url"]) for p in record["photos"]],
        "_links": links,
        # OUR extension: no source shows updated_at on listings (API-NOTES 5.3); incremental pulls use it.
        "updated_at": record["updated_at"].isoformat(timespec="seconds") if record["updated_at"] else None,
    }
    if record["published_at"] is not None:  # absent on drafts [3P-LIVE sound-tank]
        body["published_at"] = record["published_at"].isoformat(timespec="seconds")
    if record.get("preorder_info"):
        body["preorder_info"] = record["preorder_info"]
    return body


# ---- state rules other modules call (orders, refunds, negotiations) ---------------------------------


def record_sale(store: Store, listing_id: int, quantity: int) -> None:
    """An order took `quantity` units. Selling the last one leaves the listing `sold_out`, for inventory
    and one-of-a-kind conditions alike: `sold_out` is the only sold state in the spec's filter enum
    [OFFICIAL-SPEC]; EDOS calls it "sold" [3P-LIVE]. (Setting inventory 0 by hand on a used listing ends
    it instead; see `apply_inventory`.)"""
    record = store.table("listings").get(listing_id)
    if record is None:
        return
    record["inventory"] = max(record["inventory"] - quantity, 0)
    if record["inventory"] == 0 and record["state"] == "live":
        record["state"] = "sold_out"
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
    if record["inventory"] > 0 and record["state"] == "sold_out":
        record["state"] = "live"
    store.touch(record)
