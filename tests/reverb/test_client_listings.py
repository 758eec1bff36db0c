"""Every listings-side client method against the emulator: listings, images, bumps, sales, direct
offers, and the reference lists (conditions, categories, regions, shipping profiles)."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.reverb.client import ReverbClient, money_object
from backoffice.reverb.errors import DuplicateSkuError, ReverbError, ValidationError
from tests.factories import new_listing
from tests.reverb.conftest import recording_client, require


def live_ids(emulator: Any) -> list[int]:
    return [r["id"] for r in emulator.store.table("listings").values() if r["state"] == "live"]


def test_my_listings_by_state_sku_and_query(client: ReverbClient, emulator: Any) -> None:
    require("GET", "/api/my/listings")
    everything = [row for page in client.my_listings(per_page=5) for row in page.items]
    assert len(everything) == len(emulator.store.table("listings"))
    live = [row for page in client.my_listings(state="live") for row in page.items]
    assert live and all(row["state"]["slug"] == "live" for row in live)
    sku = everything[0]["sku"]
    [page] = list(client.my_listings(sku=sku))
    assert [row["sku"] for row in page.items] == [sku] and page.total == 1
    make = everything[0]["make"]
    assert all(
        make.lower() in f"{r['title']} {r['make']}".lower()
        for p in client.my_listings(query=make)
        for r in p.items
    )


def test_find_listing_by_sku_none_one_and_duplicates(client: ReverbClient, emulator: Any) -> None:
    require("POST", "/api/listings")
    assert client.find_listing_by_sku("NO-SUCH-SKU") is None
    created = client.create_listing(new_listing("DUP-1"))["listing"]
    assert client.find_listing_by_sku("DUP-1")["id"] == created["id"]
    # Reverb refuses a second listing with a SKU (API-NOTES 16.1.4; it was accepted before) ...
    with pytest.raises(ValidationError, match="already exists"):
        client.create_listing(new_listing("DUP-1"))
    # ... yet a shop can hold two (made on the website, or before the rule): the lookup still says so.
    from emulator.listings import _insert

    twin = {**emulator.store.table("listings")[created["id"]], "id": created["id"] + 1000, "sale_ids": set()}
    _insert(emulator.store, twin)
    second = {"id": twin["id"]}
    with pytest.raises(DuplicateSkuError) as info:
        client.find_listing_by_sku("DUP-1")
    assert isinstance(info.value, ReverbError)
    assert sorted(info.value.listing_ids) == sorted([created["id"], second["id"]])
    with pytest.raises(ValueError):
        client.find_listing_by_sku("")


def test_create_update_publish_end_and_delete(client: ReverbClient, emulator: Any) -> None:
    envelope = client.create_listing(new_listing("LIFE-1", title="1962 Fender Stratocaster"))
    assert set(envelope) >= {"message", "listing"}
    listing = envelope["listing"]
    assert listing["state"]["slug"] == "draft" and listing["sku"] == "LIFE-1"
    drafts = [row["id"] for page in client.drafts() for row in page.items]
    assert listing["id"] in drafts

    updated = client.update_listing(listing["id"], {"price": money_object("1199.5", "USD")})
    assert updated["listing"]["price"]["amount"] == "1199.50"
    assert client.get_listing(listing["id"])["price"]["amount"] == "1199.50"

    published = client.publish_listing(listing["id"])
    assert published["listing"]["state"]["slug"] == "draft"  # asynchronous (API-NOTES 16.1.3): was live
    emulator.advance(2)
    assert client.get_listing(listing["id"])["state"]["slug"] == "live"
    with pytest.raises(ValueError):
        client.end_listing(listing["id"], "bored")
    with pytest.raises(ValidationError):  # only drafts delete (emulator answers 400, as EDOS saw)
        client.delete_draft(listing["id"])
    client.end_listing(listing["id"], "not_sold")
    assert client.get_listing(listing["id"])["state"]["slug"] == "ended"

    draft = client.create_listing(new_listing("LIFE-2"))["listing"]
    client.delete_draft(draft["id"])
    assert client.find_listing_by_sku("LIFE-2") is None


def test_create_with_publish_refused_still_leaves_a_draft(client: ReverbClient) -> None:
    """A 422 on create can leave a draft (API-NOTES 16.1.4 [3P-LIVE RIFF]); was 201 with warnings."""
    brand_new = {"uuid": "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"}
    with pytest.raises(ValidationError, match="UPC"):
        client.create_listing(new_listing("BN-1", condition=brand_new, publish=True))
    left = client.find_listing_by_sku("BN-1")
    assert left is not None and left["state"]["slug"] == "draft"


def test_images_list_delete_and_reorder(client: ReverbClient, emulator: Any) -> None:
    listing_id = next(r["id"] for r in emulator.store.table("listings").values() if len(r["photos"]) >= 3)
    images = client.listing_images(listing_id)
    assert len(images) >= 3 and {"id", "url"} <= set(images[0])
    urls = [image["url"] for image in images]
    client.reorder_images(listing_id, list(reversed(urls)))
    assert [image["url"] for image in client.listing_images(listing_id)] == list(reversed(urls))
    client.delete_image(listing_id, images[0]["id"])
    assert images[0]["id"] not in [image["id"] for image in client.listing_images(listing_id)]


def test_reorder_sends_override_position(emulator: Any) -> None:
    client, recorder = recording_client()
    listing_id = live_ids(emulator)[0]
    urls = [i["url"] for i in client.listing_images(listing_id)]
    client.reorder_images(listing_id, urls)
    assert b'"photo_upload_method": "override_position"' in recorder.sent[-1].body
    assert recorder.sent[-1].method == "PUT"


def test_bump_get_set_remove(client: ReverbClient, emulator: Any) -> None:
    first, second = live_ids(emulator)[:2]
    assert "bids" in client.get_bump(first)
    client.set_bump([first, second], 0.035)
    bump = client.get_bump(first)
    assert bump["bump_v2_stats"]["bid"] == 0.035
    assert next(b for b in bump["bids"] if b["selected"])["bid"] == 0.035
    client.remove_bump([first, second])
    assert client.get_bump(second)["bump_v2_stats"]["bid"] is None


def test_sales_and_chunks_of_25(client: ReverbClient, emulator: Any) -> None:
    sales = client.seller_sales()["sales"]
    assert sales and all("discount_percent" in s for s in sales)
    assert client.reverb_sales()["sales"]
    sale_id = sales[0]["id"]
    ids = list(emulator.store.table("listings"))
    ids = (ids * 3)[:30]  # 30 ids: two requests (25 + 5), repeats are harmless
    before = client.request_count
    results = client.add_to_sale(sale_id, ids)
    assert client.request_count - before == 2
    assert len(results) == 30 and all(r["success"] for r in results)
    assert sale_id in [s["id"] for s in client.listing_sales(ids[0])["sales"]]
    removed = client.remove_from_sale(sale_id, ids[:3])
    assert [r["listing_id"] for r in removed] == ids[:3]
    assert sale_id not in [s["id"] for s in client.listing_sales(ids[0])["sales"]]


def test_auto_offer_get_set_delete(client: ReverbClient, emulator: Any) -> None:
    listing_id = live_ids(emulator)[0]
    assert set(client.get_auto_offer(listing_id)) >= {"offer_percentage", "offer_price", "_links"}
    offer = client.set_auto_offer(listing_id, 10)
    assert offer["offer_percentage"] == 10
    assert client.get_auto_offer(listing_id)["offer_percentage"] == 10
    client.delete_auto_offer(listing_id)
    assert client.get_auto_offer(listing_id)["offer_percentage"] is None


def test_reference_lists(client: ReverbClient) -> None:
    conditions = client.conditions()
    assert {"uuid", "display_name"} <= set(conditions[0])
    assert any(c["uuid"] == "df268ad1-c462-4ba6-b6db-e007e23922ea" for c in conditions)
    assert client.categories()[0]["uuid"]
    assert client.categories_flat()[0]["uuid"]
    assert client.shipping_regions()[0]["code"]


def test_shipping_profiles_read_the_shop_id_when_not_given(client: ReverbClient) -> None:
    profiles = client.shipping_profiles()
    assert profiles and {"id", "name"} <= set(profiles[0])
    assert client.shipping_profiles(client.get_shop()["id"]) == profiles
