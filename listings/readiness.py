"""Pre-publish checks: what Reverb needs before it will publish a listing, checked before anything is sent.

Reverb explains a listing it will not publish only in `warnings` (API-NOTES 4.4), after the call: a Brand
New item needs a UPC or `upc_does_not_apply`, an inventory listing needs stock, and a listing without a
category, condition, price, photo or a way to ship is not one a buyer can buy. `gaps()` lists what is
missing from the values a publish would leave on Reverb, so every publish (one listing, a bulk job, a
create with publish, a stock relist) can stop with the reason instead of a call Reverb refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from . import conditions, editing

if TYPE_CHECKING:
    from .models import Listing


@dataclass(frozen=True)
class Gap:
    """One thing missing before Reverb publishes: the form field that fixes it and what to do."""

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def _positive(amount: Any) -> bool:
    try:
        return Decimal(str(amount)) > 0
    except (InvalidOperation, ValueError):
        return False


def gaps(values: Mapping[str, Any]) -> list[Gap]:
    """What is missing from `values` (condition, categories, price, photos, ships, upc,
    upc_does_not_apply, was_published, inventory, has_inventory) for Reverb to publish, in form order. A
    value of None means "not known here" and is not held against the listing."""
    found: list[Gap] = []
    condition = values.get("condition") or ""
    if not condition:
        found.append(Gap("condition", "Choose a condition."))
    if values.get("categories") is not None and not values["categories"]:
        found.append(Gap("categories", "Choose a category."))
    if not _positive(values.get("price")):
        found.append(Gap("price", "Set a price above zero."))
    if values.get("photos") is not None and not values["photos"]:
        found.append(Gap("photos", "Add at least one photo."))
    if values.get("ships") is False:
        found.append(Gap("shipping_profile_id", "Choose a shipping profile (or shipping rates on Reverb)."))
    upc_told = values.get("upc") or values.get("upc_does_not_apply") or values.get("was_published")
    if condition == conditions.BRAND_NEW and not upc_told:
        found.append(Gap("upc", 'Brand New items need a UPC, or tick "UPC does not apply".'))
    inventory = values.get("inventory")
    holds_stock = condition in conditions.INVENTORY_CONDITIONS and values.get("has_inventory")
    if holds_stock and inventory is not None and int(inventory) <= 0:
        found.append(Gap("inventory", "Set the stock above zero: Reverb publishes no stock item without it."))
    return found


def listing_gaps(listing: Listing) -> list[Gap]:
    """What `listing` lacks to be published, with its pending local edits applied (they go first)."""

    def effective(name: str) -> Any:
        return editing.effective(listing, name)

    categories = effective("categories")
    return gaps(
        {
            "condition": effective("condition"),
            # the public shape leaves categories out; the mirror's category column still says one is set
            "categories": categories or ([listing.category] if listing.category else []),
            "price": effective("price"),
            "photos": listing.images,
            "ships": True if effective("shipping_profile_id") else listing.ships,
            "upc": effective("upc"),
            "upc_does_not_apply": effective("upc_does_not_apply"),
            # Reverb published it once, so it had its UPC (Reverb does not read UPCs back, API-NOTES 5.3)
            "was_published": listing.state != "draft" or listing.published_at is not None,
            "inventory": effective("inventory"),
            "has_inventory": effective("has_inventory"),
        }
    )


def payload_gaps(body: Mapping[str, Any]) -> list[Gap]:
    """What a create body (Reverb's shape: condition {uuid}, categories [{uuid}], price {amount}) lacks."""
    condition = body.get("condition")
    price = body.get("price")
    shipping = body.get("shipping")
    return gaps(
        {
            "condition": condition.get("uuid") if isinstance(condition, Mapping) else condition,
            "categories": body.get("categories") or [],
            "price": price.get("amount") if isinstance(price, Mapping) else price,
            "photos": body.get("photos") or [],
            "ships": bool(body.get("shipping_profile_id") or (isinstance(shipping, Mapping) and shipping)),
            "upc": body.get("upc"),
            "upc_does_not_apply": body.get("upc_does_not_apply"),
            "inventory": body.get("inventory"),
            "has_inventory": body.get("has_inventory"),
        }
    )


def in_words(found: list[Gap]) -> str:
    return " ".join(gap.message for gap in found)
