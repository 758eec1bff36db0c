"""Seeded listings: realistic gear, mostly live, some drafts, ended and sold out, deterministic by seed.

Fast on purpose (100k listings in a few seconds): everything per product is precomputed, and each
listing costs a handful of rng calls and one dict.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..store import Store
from .catalog import (
    B_STOCK,
    BRAND_NEW,
    CATEGORY_BY_NAME,
    MINT_INVENTORY,
    PRODUCTS,
    USED_CONDITIONS,
    Product,
)

_CAT_CHAIN = {
    p.category: [CATEGORY_BY_NAME[p.category].parent_uuid, CATEGORY_BY_NAME[p.category].uuid]
    for p in PRODUCTS
}
# Generated photos live on the emulator itself (a placeholder PNG per id): the path is stored, the listing
# renderer makes it absolute with the origin the client used (emulator/photos.py).
PHOTO_PATH = "/__emulator__/photos/{id}.png"
# State mix: mostly live (weights are ours; a real shop is mostly live listings).
_STATES = ("live",) * 14 + ("draft", "ended", "sold")
_CONDITION_MULT = {BRAND_NEW: 1.15, B_STOCK: 0.95, MINT_INVENTORY: 1.05}
_NEW_CONDITIONS = (BRAND_NEW, BRAND_NEW, B_STOCK, MINT_INVENTORY)
_MULT = {u: m for u, m in zip(USED_CONDITIONS, (0.35, 0.55, 0.7, 0.8, 0.88, 0.93, 0.98), strict=True)}
_MULT.update(_CONDITION_MULT)


def _profile_for(store: Store, product: Product) -> int | None:
    profiles = store.shop.get("shipping_profiles") or []
    if not profiles:
        return None
    if product.category.startswith("Effects") or product.category.startswith("Pro Audio"):
        return profiles[0]["id"]
    if product.category.startswith(("Amps", "Drums", "Keyboards")) and len(profiles) > 2:
        return profiles[2]["id"]
    return profiles[min(1, len(profiles) - 1)]["id"]


def sold_listings(sizes: dict[str, int]) -> int:
    """How many of the shop's `listings` the commerce part makes: the sold ones, at most half the shop.
    `sizes["listings"]` is the shop's total; the listings part makes the rest. When there are more orders
    than that, multi-unit (inventory) listings take several orders each."""
    listings, orders = sizes.get("listings", 0), sizes.get("orders", 0)
    if orders <= 0:
        return 0
    return max(1, min(orders, listings // 2))


def seller_cost(price: Decimal, listing_id: int) -> Decimal:
    """A shop-like cost: 50 to 78% of the price, from the id alone (no draw from the generator's random
    stream, so a shop with costs is otherwise the same shop)."""
    share = Decimal(50 + listing_id * 7 % 29) / 100
    return (price * share).quantize(Decimal("0.01"))


def make_listing(
    store: Store,
    rng: random.Random,
    *,
    anchor: datetime | None = None,
    inventory_item: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Insert one realistic listing record (the shape listings.py documents) and return it. Times fall in
    the year before `anchor` (default now); `overrides` replace any record key. `inventory_item` forces a
    new-gear condition (one that holds inventory)."""
    product = rng.choice(PRODUCTS)
    new = inventory_item or rng.random() < 0.35
    condition = rng.choice(_NEW_CONDITIONS) if new else rng.choice(USED_CONDITIONS)
    state = rng.choice(_STATES)
    base = rng.uniform(product.low, product.high) * _MULT[condition]
    # Shop-like prices: $1,245 for gear, $64.99 for pedals.
    price = Decimal(int(base) // 5 * 5) if base >= 200 else Decimal(int(base)) + Decimal("0.99")
    lid = overrides.get("id") or store.next_id("listings", start=40_000_000)
    created = (anchor or store.now()) - timedelta(seconds=rng.randint(3600, 365 * 86400))
    inventory = rng.choice((1, 2, 3, 5, 8, 12)) if condition in (BRAND_NEW, B_STOCK, MINT_INVENTORY) else 1
    if state == "sold":
        inventory = 0
    elif state == "draft" and condition not in (BRAND_NEW, B_STOCK, MINT_INVENTORY):
        inventory = 0  # a used draft reads back inventory 0 [3P-LIVE EDOS, API-NOTES 5.4]
    finish = rng.choice(product.finishes)
    year = rng.choice(product.years)
    title = " ".join(x for x in (year if not new else "", product.make, product.model, finish) if x)
    n_photos = rng.randint(0, 4) if state == "draft" else rng.randint(1, 6)
    record: dict[str, Any] = {
        "id": lid,
        "sku": f"SKU-{lid}",
        "make": product.make,
        "model": product.model,
        "finish": finish,
        "year": year,
        "title": title,
        "description": f"<p>{title}. {'Brand new in box.' if new else 'Plays great, see photos.'}</p>",
        "condition_uuid": condition,
        "price": price,
        "currency": store.currency,
        "inventory": inventory,
        "has_inventory": condition in (BRAND_NEW, B_STOCK, MINT_INVENTORY),
        "offers_enabled": rng.random() < 0.8,
        "state": state,
        "categories": list(_CAT_CHAIN[product.category]),
        "shipping_profile_id": _profile_for(store, product),
        "shipping": None,
        "photos": [{"id": lid * 10 + i, "url": PHOTO_PATH.format(id=lid * 10 + i)} for i in range(n_photos)],
        "preorder_info": None,
        "upc": None,
        "seller_cost": seller_cost(price, lid) if store.seller_costs else None,
        "created_at": created,
        "published_at": None if state == "draft" else created + timedelta(seconds=rng.randint(60, 86400)),
        "updated_at": None,
        "views": 0 if state == "draft" else rng.randint(0, 2500),
        "watches": 0 if state == "draft" else rng.randint(0, 40),
        "bump_bid": None,
        "auto_offer_percentage": None,
        "sale_ids": set(),
    }
    record["updated_at"] = max(record["published_at"] or created, created)
    record.update(overrides)
    store.table("listings")[record["id"]] = record
    return record


def generate(store: Store, rng: random.Random, sizes: dict[str, int]) -> None:
    # The commerce part makes the sold listings (one per one-of-a-kind sale): together, `listings`.
    count = max(0, sizes.get("listings", 0) - sold_listings(sizes))
    # Midnight today: the same seed gives the same records all day (times included).
    anchor = store.now().replace(hour=0, minute=0, second=0)
    for i in range(count):
        overrides: dict[str, Any] = {}
        if i % 97 == 13:  # a few listings without a SKU, as Reverb's sync guide warns happens
            overrides["sku"] = None
        record = make_listing(store, rng, anchor=anchor, **overrides)
        if i % 11 == 5 and record["state"] == "live":
            record["bump_bid"] = rng.choice((0.02, 0.035, 0.05))
        if i % 7 == 3 and record["offers_enabled"] and record["state"] == "live":
            record["auto_offer_percentage"] = rng.choice((5, 10, 15))
    generate_sales(store, rng, anchor)


def generate_sales(store: Store, rng: random.Random, anchor: datetime) -> None:
    """Two seller sales and one Reverb-run sale (fields per the compiled summary, API-NOTES 10.4)."""
    sales = store.table("sales")
    live = [r for r in store.table("listings").values() if r["state"] == "live"]
    specs = (
        ("seller", "Spring Pedal Sale", 15, -10, 20),
        ("seller", "Vintage Week", 10, 30, 37),
        ("reverb", "Reverb Cyber Monday", 20, -2, 5),
    )
    for kind, name, pct, start_days, end_days in specs:
        sale_id = store.next_id("sales", start=9000)
        slug = "-".join(name.lower().split())
        sale = {
            "id": sale_id,
            "slug": slug,
            "name": name,
            "code": slug.upper().replace("-", "")[:12],
            "discount_percent": pct,
            "starts_at": anchor + timedelta(days=start_days),
            "ends_at": anchor + timedelta(days=end_days),
            "kind": kind,
            "listing_ids": set(),
        }
        sales[sale_id] = sale
        if kind == "seller":
            for record in rng.sample(live, min(len(live), 5)):
                sale["listing_ids"].add(record["id"])
                record["sale_ids"].add(sale_id)
