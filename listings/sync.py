"""Listings: payload -> Listing fields (pure), and how the collection is pulled.

Reverb has no updated-since filter on /my/listings (API-NOTES 3): every run is a complete scan of
`state=all` with hash-skip, which is also the reconciliation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backoffice.sync.engine import LIVE, Resource, Walk
from backoffice.sync.mapping import boolean, integer, key_of, link, read_money, slug_or_text, text, told, when
from backoffice.sync.pipeline import read_ahead

from .models import Listing

if TYPE_CHECKING:
    from backoffice.reverb.client import ReverbClient

PHOTO_SIZES = ("full", "large_crop", "small_crop", "thumbnail")


def photo_urls(payload: Mapping[str, Any]) -> list[str]:
    urls = []
    for photo in payload.get("photos") or []:
        links = photo.get("_links") if isinstance(photo, Mapping) else None
        for size in PHOTO_SIZES:
            href = (links or {}).get(size, {}).get("href") if isinstance(links, Mapping) else None
            if href:
                urls.append(str(href))
                break
    return urls


def ships(payload: Mapping[str, Any]) -> bool:
    """Whether the listing has a way to ship: a shipping profile (`shipping_profile_id` on seller rows,
    `shipping_profile.id` on the public shape, API-NOTES 16.1.1), shipping rates, or local pickup."""
    if payload.get("shipping_profile_id") not in (None, ""):
        return True
    profile = payload.get("shipping_profile")
    if isinstance(profile, Mapping) and profile.get("id") not in (None, ""):
        return True
    shipping = payload.get("shipping")
    return isinstance(shipping, Mapping) and bool(shipping.get("rates") or shipping.get("local"))


# Listing fields read from a payload key of another name (`told`): the rest use their own name.
LISTING_SOURCES = {
    "condition_name": "condition",
    "condition_uuid": "condition",
    "currency": ("price", "listing_currency"),
    "web_url": "_links",
    "category": "categories",
    "images": "photos",
    "ships": ("shipping_profile_id", "shipping_profile", "shipping"),
    "remote_created_at": "created_at",
    "remote_updated_at": "updated_at",
}


def map_listing(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Both shapes: a /my/listings row (seller fields) and GET /listings/{id}, the public shape without
    sku, slug, updated_at (API-NOTES 16.1.1): fields whose key is absent are left out, not blanked.
    Any state slug is kept as sent (`sold`, and ones the product does not know)."""
    key = key_of(payload)
    price, currency = read_money(payload, "price")
    condition = payload.get("condition") if isinstance(payload.get("condition"), Mapping) else {}
    categories = payload.get("categories") or []
    first_category = categories[0] if categories and isinstance(categories[0], Mapping) else {}
    fields = {
        "sku": text(payload, "sku", 255),
        "title": text(payload, "title", 500),
        "make": text(payload, "make", 255),
        "model": text(payload, "model", 255),
        "finish": text(payload, "finish", 255),
        "year": text(payload, "year", 50),
        "condition_name": text(condition, "display_name", 100),
        "condition_uuid": text(condition, "uuid", 64),
        "state": slug_or_text(payload, "state"),
        "price": price,
        "currency": currency or text(payload, "listing_currency", 3),
        "inventory": integer(payload, "inventory"),
        "has_inventory": boolean(payload, "has_inventory"),
        "offers_enabled": boolean(payload, "offers_enabled"),
        "published_at": when(payload, "published_at"),
        "slug": text(payload, "slug", 255),
        "web_url": link(payload, "web"),
        "category": text(first_category, "full_name", 255),
        "images": photo_urls(payload),
        "ships": ships(payload),
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),  # our emulator's extension; absent on Reverb
    }
    kept = told(payload, fields, LISTING_SOURCES)
    # Reverb's `seller_cost` (seller rows only, API-NOTES 5.3) sets the local cost when the shop uses it; null
    # or absent keeps the cost set here (form, CSV, stock API).
    if isinstance(payload.get("seller_cost"), Mapping):
        cost, _ = read_money(payload, "seller_cost")
        if cost is not None:
            kept["cost"] = cost
    return key, kept


def fetch_listings(client: ReverbClient, since: datetime | None) -> Iterable[Sequence[dict[str, Any]]]:
    return read_ahead(client, (page.items for page in client.my_listings(state="all")))


LISTINGS = Resource(
    name="listings",
    model=Listing,
    mapper=map_listing,
    fetch=fetch_listings,
    first_work=(Walk("live listings", "listings", lambda c: c.my_listings(state="live"), phase=LIVE),),
    description="/my/listings?state=all, complete scan every run",
)
RESOURCES = [LISTINGS]
