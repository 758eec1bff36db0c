"""The seeded shop: deterministic by seed, realistic, and fast."""

from __future__ import annotations

import random
import time
from typing import Any

from emulator import Emulator
from emulator.generator import listings as gen_listings
from emulator.generator import shop as gen_shop
from emulator.generator.catalog import (
    CATEGORY_BY_UUID,
    CONDITION_DISPLAY,
    INVENTORY_CONDITIONS,
)
from emulator.store import Store

KEYS = {
    "id",
    "sku",
    "make",
    "model",
    "finish",
    "year",
    "title",
    "description",
    "condition_uuid",
    "price",
    "currency",
    "inventory",
    "has_inventory",
    "offers_enabled",
    "state",
    "categories",
    "shipping_profile_id",
    "shipping",
    "photos",
    "preorder_info",
    "upc",
    "created_at",
    "published_at",
    "updated_at",
    "views",
    "watches",
    "bump_bid",
    "auto_offer_percentage",
    "sale_ids",
}


def snapshot(emulator: Emulator) -> list[tuple[Any, ...]]:
    return [
        (r["id"], r["sku"], r["title"], r["price"], r["state"], r["inventory"], r["condition_uuid"])
        for r in emulator.store.table("listings").values()
    ]


def test_same_seed_same_shop_different_seed_differs() -> None:
    a, b, c = (Emulator(seed=seed, size="demo") for seed in (7, 7, 8))
    assert snapshot(a) == snapshot(b) and a.store.shop == b.store.shop
    assert snapshot(a) != snapshot(c)


def test_listings_are_realistic() -> None:
    store = Store()
    rng = random.Random(5)
    gen_shop.generate(store, rng, {})
    gen_listings.generate(store, rng, {"listings": 500})
    records = list(store.table("listings").values())
    assert len(records) == 500 and all(set(r) >= KEYS for r in records)
    states = {r["state"] for r in records}
    assert {"live", "draft", "ended", "sold"} <= states
    assert sum(r["state"] == "live" for r in records) > 300
    skus = [r["sku"] for r in records if r["sku"]]
    assert len(skus) == len(set(skus)) and len(skus) < len(records)  # unique, a few missing
    for r in records:
        assert r["condition_uuid"] in CONDITION_DISPLAY and r["price"] > 0
        assert all(u in CATEGORY_BY_UUID for u in r["categories"])
        if r["inventory"] > 1:
            assert r["condition_uuid"] in INVENTORY_CONDITIONS
        assert (r["published_at"] is None) == (r["state"] == "draft")
        assert r["created_at"] <= r["updated_at"]
    assert store.table("sales") and store.shop["shipping_profiles"]


def test_make_listing_overrides() -> None:
    store = Store()
    record = gen_listings.make_listing(store, random.Random(1), state="live", inventory=1, sku="OVR")
    assert store.table("listings")[record["id"]] is record and record["sku"] == "OVR"


def test_twenty_thousand_listings_generate_quickly() -> None:
    store = Store()
    rng = random.Random(1)
    started = time.perf_counter()
    gen_listings.generate(store, rng, {"listings": 20_000})
    assert len(store.table("listings")) == 20_000
    assert time.perf_counter() - started < 10  # generous: about 0.5 s on the dev box
