"""The emulator's listing endpoints, through a real requests session (API-NOTES 4, 5, 10)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from backoffice.reverb.transport import new_session
from emulator.generator.catalog import BRAND_NEW, MINT_INVENTORY
from tests.conftest import EMULATOR_API_URL as API
from tests.conftest import EMULATOR_TOKEN

from .shape import assert_same_shape

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reverb"
EXCELLENT = "df268ad1-c462-4ba6-b6db-e007e23922ea"


def fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text())
    data.pop("_source", None)
    return data


@pytest.fixture
def s(emulator: Any) -> requests.Session:
    session = new_session()
    session.headers.update(
        {
            "Authorization": f"Bearer {EMULATOR_TOKEN}",
            "Accept-Version": "3.0",
            "Accept": "application/hal+json",
            "Content-Type": "application/hal+json",
        }
    )
    session.emulator = emulator  # type: ignore[attr-defined]
    return session


_SKUS = itertools.count(1)


def body(**overrides: Any) -> dict[str, Any]:
    data = {
        "make": "Fender",
        "model": "Stratocaster",
        "title": "Fender Stratocaster",
        "sku": f"T-{next(_SKUS)}",  # unique: Reverb refuses a second listing with a SKU (API-NOTES 16.1.4)
        "price": {"amount": "1200.00", "currency": "USD"},
        "condition": {"uuid": EXCELLENT},
    }
    data.update(overrides)
    return data


def create(s: requests.Session, **overrides: Any) -> dict[str, Any]:
    """Create; with `publish`, wait (on the emulator's clock) for the asynchronous publish to land and
    return the seller's row as /my/listings reads it then (API-NOTES 16.1.3)."""
    r = s.post(f"{API}/listings", json=body(**overrides))
    assert r.status_code in (201, 202), r.text
    listing = r.json()["listing"]
    if not overrides.get("publish"):
        return listing
    assert listing["state"]["slug"] == "draft"  # the answer still says draft
    return settled(s, listing["id"])


def settled(s: requests.Session, listing_id: int) -> dict[str, Any]:
    """The seller's row of a listing once a pending publish has landed."""
    s.emulator.advance(2)  # type: ignore[attr-defined]
    rows = s.get(f"{API}/my/listings", params={"state": "all", "per_page": 50}).json()
    pages = [rows]
    while "next" in pages[-1]["_links"]:
        pages.append(s.get(pages[-1]["_links"]["next"]["href"]).json())
    return next(x for p in pages for x in p["listings"] if x["id"] == listing_id)


def listings_in(emulator: Any, state: str) -> list[dict[str, Any]]:
    return [r for r in emulator.store.table("listings").values() if r["state"] == state]


# ---- create ------------------------------------------------------------------------------------------


def test_create_makes_a_draft_in_the_write_envelope(s: requests.Session) -> None:
    r = s.post(f"{API}/listings", json=body())
    assert r.status_code == 201
    data = r.json()
    assert_same_shape(fixture("listings/write_envelope.json"), data)
    listing = data["listing"]
    assert listing["state"] == {"slug": "draft", "description": "Draft"}
    assert "published_at" not in listing and "end" not in listing["_links"]
    assert listing["inventory"] == 0 and listing["has_inventory"] is False  # a used draft reads back 0
    assert listing["slug"] == f"{listing['id']}-fender-stratocaster"


def test_create_with_publish_goes_live_a_moment_later(s: requests.Session, emulator: Any) -> None:
    """Publishing is asynchronous (API-NOTES 16.1.3): was immediate before."""
    hooks: list[Any] = []
    emulator.emit = lambda topic, payload: hooks.append((topic, payload["id"]))
    r = s.post(f"{API}/listings", json=body(publish=True))
    assert r.status_code == 201 and r.json()["listing"]["state"]["slug"] == "draft"
    lid = r.json()["listing"]["id"]
    assert s.get(f"{API}/listings/{lid}").json()["state"]["slug"] == "draft" and hooks == []
    listing = settled(s, lid)
    assert listing["state"]["slug"] == "live" and listing["inventory"] == 1 and "published_at" in listing
    assert listing["_links"]["end"]["href"].endswith(f"/my/listings/{listing['id']}/state/end")
    assert hooks == [("listings/publish", listing["id"])]


def test_create_refuses_missing_fields_with_a_412_errors_hash(s: requests.Session) -> None:
    r = s.post(f"{API}/listings", json={"title": "nothing else"})
    assert r.status_code == 412
    data = r.json()
    assert_same_shape(fixture("listings/validation_412.json"), data, maps=["$.errors"])
    assert set(data["errors"]) == {"make", "model", "price", "condition"}


def test_create_refuses_bad_price_and_condition(s: requests.Session) -> None:
    r = s.post(f"{API}/listings", json=body(price={"amount": "abc"}, condition={"uuid": "nope"}))
    assert r.status_code == 412 and set(r.json()["errors"]) == {"price", "condition"}
    r = s.post(f"{API}/listings", json=body(price={"amount": "0"}))
    assert r.status_code == 412 and "price" in r.json()["errors"]


def test_used_condition_cannot_hold_more_than_one(s: requests.Session) -> None:
    r = s.post(f"{API}/listings", json=body(inventory=3))
    assert r.status_code == 412 and list(r.json()["errors"]) == ["inventory"]


def test_inventory_condition_holds_quantity(s: requests.Session) -> None:
    listing = create(s, condition={"uuid": BRAND_NEW}, inventory=5, upc_does_not_apply=True, publish=True)
    assert listing["inventory"] == 5 and listing["has_inventory"] is True
    assert listing["condition"]["display_name"] == "New"  # responses say New [3P-LIVE sound-tank]


def test_brand_new_without_upc_is_refused_yet_leaves_a_draft(s: requests.Session, emulator: Any) -> None:
    """A 422 on create can still leave a draft, its id in the body (API-NOTES 16.1.4): was 201 + warnings."""
    sent = body(condition={"uuid": BRAND_NEW}, inventory=2, publish=True)
    r = s.post(f"{API}/listings", json=sent)
    assert r.status_code == 422 and "UPC" in r.json()["message"]
    left = r.json()["listing"]
    assert (
        left["state"]["slug"] == "draft"
        and emulator.store.table("listings")[left["id"]]["sku"] == sent["sku"]
    )
    assert settled(s, left["id"])["state"]["slug"] == "draft"


def test_a_second_listing_with_the_same_sku_is_refused(s: requests.Session, emulator: Any) -> None:
    """API-NOTES 16.1.4 [3P-LIVE RIFF]: duplicate SKUs were accepted before."""
    first = create(s, sku="DUP-1")
    before = len(emulator.store.table("listings"))
    r = s.post(f"{API}/listings", json=body(sku="DUP-1"))
    assert r.status_code == 422
    assert "sku" in r.json()["message"].lower() and "already exists" in r.json()["message"]
    assert len(emulator.store.table("listings")) == before and first["id"] in emulator.store.table("listings")


def test_create_with_photos_answers_202(s: requests.Session) -> None:
    """Photos are fetched in the background: 202 (API-NOTES 16.1.4, sound-tank accepts 201 or 202)."""
    assert s.post(f"{API}/listings", json=body(photos=["https://e.com/p.jpg"])).status_code == 202
    assert s.post(f"{API}/listings", json=body()).status_code == 201


def test_older_request_forms_are_accepted(s: requests.Session) -> None:
    listing = create(
        s, condition="Mint (with inventory)", price=950, inventory=2, category_uuids=[], publish=True
    )
    assert listing["condition"]["uuid"] == MINT_INVENTORY and listing["price"]["amount"] == "950.00"


def test_requests_without_a_valid_token_are_401(emulator: Any) -> None:
    session = new_session()
    assert session.get(f"{API}/my/listings").status_code == 401
    r = session.get(f"{API}/my/listings", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and "message" in r.json()
    legacy = session.get(
        f"{API}/my/listings", headers={"X-Auth-Token": EMULATOR_TOKEN, "Accept-Version": "3.0"}
    )  # API-NOTES 2
    assert legacy.status_code == 200
    unversioned = session.get(f"{API}/my/listings", headers={"X-Auth-Token": EMULATOR_TOKEN})
    assert unversioned.status_code == 400 and "Accept-Version" in unversioned.json()["message"]


# ---- read --------------------------------------------------------------------------------------------


def test_listing_shape_matches_api_notes_5_3(s: requests.Session) -> None:
    listing = create(
        s,
        condition={"uuid": BRAND_NEW},
        inventory=5,
        upc="012345678905",
        publish=True,
        photos=["https://example.com/a.jpg"],
        shipping_profile_id=None,
        categories=[{"uuid": s.get(f"{API}/categories/flat").json()["categories"][1]["uuid"]}],
        shipping={
            "local": True,
            "rates": [{"region_code": "US_CON", "rate": {"amount": "45", "currency": "USD"}}],
        },
    )
    got = s.get(f"{API}/my/listings", params={"sku": listing["sku"]}).json()["listings"][0]
    expected = fixture("listings/listing.json")
    expected["shipping_profile_id"] = None  # null matches any type; a profile id is a number
    assert_same_shape(expected, got)  # the seller's row keeps the seller fields
    assert isinstance(got["updated_at"], str)  # our extension


def test_get_listing_is_the_public_shape(s: requests.Session, emulator: Any) -> None:
    """API-NOTES 16.1.1 [LIVE-DATA]: GET /listings/{id} has no seller fields, even for the owner, and a
    `shipping_profile {id (a string), name}`. Before, it answered the seller's row."""
    record = next(r for r in listings_in(emulator, "live") if r["shipping_profile_id"] is not None)
    got = s.get(f"{API}/listings/{record['id']}").json()
    for key in ("sku", "slug", "shipping_profile_id", "updated_at", "seller_cost"):
        assert key not in got, key
    assert (
        got["shipping_profile"]["id"] == str(record["shipping_profile_id"])
        and got["shipping_profile"]["name"]
    )
    assert got["live"] is True and got["draft"] is False and got["is_my_listing"] is True
    row = s.get(f"{API}/my/listings", params={"sku": record["sku"]}).json()["listings"][0]
    assert row["sku"] == record["sku"] and row["shipping_profile_id"] == record["shipping_profile_id"]
    assert "slug" in row and "updated_at" in row


def test_per_page_is_clamped_to_50(s: requests.Session) -> None:
    """API-NOTES 16.1.5 [3P-LIVE PostHog]; was 100."""
    page = s.get(f"{API}/my/listings", params={"state": "all", "per_page": 100}).json()
    assert page["per_page"] == 50 and len(page["listings"]) == min(50, page["total"])


def test_get_by_id_or_slug_and_404(s: requests.Session, emulator: Any) -> None:
    record = listings_in(emulator, "live")[0]
    row = s.get(f"{API}/my/listings", params={"sku": record["sku"]}).json()["listings"][0]
    assert s.get(f"{API}/listings/{row['slug']}").json()["id"] == record["id"]
    missing = s.get(f"{API}/listings/1")
    assert missing.status_code == 404 and "message" in missing.json()


def test_my_listings_defaults_to_live_and_filters(s: requests.Session, emulator: Any) -> None:
    live = s.get(f"{API}/my/listings", params={"per_page": 100}).json()
    assert live["total"] == len(listings_in(emulator, "live"))
    assert {x["state"]["slug"] for x in live["listings"]} == {"live"}
    every = s.get(f"{API}/my/listings", params={"state": "all", "per_page": 100}).json()
    assert every["total"] == len(emulator.store.table("listings"))
    drafts = s.get(f"{API}/my/listings/drafts").json()
    assert drafts["total"] == len(listings_in(emulator, "draft"))
    assert s.get(f"{API}/my/listings", params={"state": "bogus"}).status_code == 400


def test_my_listings_sku_is_exact_and_sees_drafts(s: requests.Session) -> None:
    draft = create(s, sku="EXACT-1")
    create(s, sku="EXACT-10")
    assert s.get(f"{API}/my/listings", params={"sku": "EXACT-1"}).json()["total"] == 0  # live by default
    found = s.get(f"{API}/my/listings", params={"sku": "EXACT-1", "state": "all"}).json()
    assert found["total"] == 1 and found["listings"][0]["id"] == draft["id"]
    assert s.get(f"{API}/my/listings", params={"sku": "NOPE"}).json()["total"] == 0


def test_my_listings_query(s: requests.Session) -> None:
    create(s, make="Zzyzx", model="Oddball", publish=True)
    found = s.get(f"{API}/my/listings", params={"query": "zzyzx oddball"}).json()
    assert found["total"] == 1


def test_pagination_links_keep_other_query_params(s: requests.Session) -> None:
    first = s.get(f"{API}/my/listings", params={"state": "all", "per_page": 5}).json()
    assert_same_shape(fixture("listings/my_listings_page.json"), first)
    assert "prev" not in first["_links"]
    nxt = first["_links"]["next"]["href"]
    assert "state=all" in nxt and "page=2" in nxt and "per_page=5" in nxt
    second = s.get(nxt).json()
    assert "state=all" in second["_links"]["prev"]["href"] and second["current_page"] == 2
    last = s.get(
        f"{API}/my/listings", params={"state": "all", "per_page": 5, "page": first["total_pages"]}
    ).json()
    assert "next" not in last["_links"]
    ids = [x["id"] for x in first["listings"]] + [x["id"] for x in second["listings"]]
    assert len(set(ids)) == 10


# ---- update ------------------------------------------------------------------------------------------


def test_put_changes_only_sent_fields_and_moves_updated_at(s: requests.Session, emulator: Any) -> None:
    listing = create(s, publish=True, finish="Sunburst")
    s.post("http://reverb.test/__emulator__/clock", json={"advance_seconds": 120})
    r = s.put(f"{API}/listings/{listing['id']}", json={"price": {"amount": "999.00", "currency": "USD"}})
    assert r.status_code == 200
    got = r.json()["listing"]
    assert (
        got["price"]["amount"] == "999.00"
        and got["finish"] == "Sunburst"
        and got["title"] == listing["title"]
    )
    assert got["updated_at"] > listing["updated_at"]


def test_put_validation_changes_nothing(s: requests.Session) -> None:
    listing = create(s, publish=True)
    r = s.put(f"{API}/listings/{listing['id']}", json={"title": "new", "make": ""})
    assert r.status_code == 412 and list(r.json()["errors"]) == ["make"]
    assert s.get(f"{API}/listings/{listing['id']}").json()["title"] == listing["title"]


def test_publish_a_draft_and_revive_an_ended_listing(s: requests.Session) -> None:
    draft = create(s)
    answer = s.put(f"{API}/listings/{draft['id']}", json={"publish": True}).json()["listing"]
    assert answer["state"]["slug"] == "draft"  # asynchronous (API-NOTES 16.1.3)
    live = settled(s, draft["id"])
    assert live["state"]["slug"] == "live" and live["inventory"] == 1
    assert s.put(f"{API}/my/listings/{draft['id']}/state/end", json={"reason": "not_sold"}).status_code == 200
    answer = s.put(f"{API}/listings/{draft['id']}", json={"publish": True}).json()["listing"]
    assert answer["state"]["slug"] == "ended"
    assert settled(s, draft["id"])["state"]["slug"] == "live"


def test_inventory_zero_ends_a_used_listing(s: requests.Session, emulator: Any) -> None:
    hooks: list[str] = []
    emulator.emit = lambda topic, payload: hooks.append(topic)
    listing = create(s, publish=True)
    got = s.put(f"{API}/listings/{listing['id']}", json={"inventory": 0}).json()["listing"]
    assert got["state"]["slug"] == "ended" and "end" not in got["_links"]
    assert hooks[-1] == "listings/update"


def test_inventory_listing_sells_out_and_relists_when_inventory_rises(s: requests.Session) -> None:
    listing = create(s, condition={"uuid": BRAND_NEW}, inventory=3, upc_does_not_apply=True, publish=True)
    out = s.put(f"{API}/listings/{listing['id']}", json={"inventory": 0}).json()["listing"]
    assert out["state"]["slug"] == "sold"
    back = s.put(f"{API}/listings/{listing['id']}", json={"inventory": 4}).json()["listing"]
    assert back["state"]["slug"] == "live" and back["inventory"] == 4


def test_put_inventory_above_one_refused_for_used(s: requests.Session) -> None:
    listing = create(s, publish=True)
    r = s.put(f"{API}/listings/{listing['id']}", json={"inventory": 2})
    assert r.status_code == 412 and "inventory" in r.json()["errors"]


def test_photos_append_and_override_position(s: requests.Session) -> None:
    listing = create(s, photos=["https://e.com/1.jpg", "https://e.com/2.jpg"])
    lid = listing["id"]
    s.put(f"{API}/listings/{lid}", json={"photos": ["https://e.com/3.jpg"]})
    images = s.get(f"{API}/listings/{lid}/images").json()["images"]
    assert [i["url"] for i in images] == ["https://e.com/1.jpg", "https://e.com/2.jpg", "https://e.com/3.jpg"]
    ids = {i["url"]: i["id"] for i in images}
    s.put(
        f"{API}/listings/{lid}",
        json={
            "photos": ["https://e.com/3.jpg", "https://e.com/1.jpg", "https://e.com/2.jpg"],
            "photo_upload_method": "override_position",
        },
    )
    reordered = s.get(f"{API}/listings/{lid}/images").json()["images"]
    assert [i["url"] for i in reordered] == [
        "https://e.com/3.jpg",
        "https://e.com/1.jpg",
        "https://e.com/2.jpg",
    ]
    assert {i["url"]: i["id"] for i in reordered} == ids
    assert s.delete(f"{API}/listings/{lid}/images/{ids['https://e.com/1.jpg']}").status_code == 200
    assert len(s.get(f"{API}/listings/{lid}/images").json()["images"]) == 2
    assert s.delete(f"{API}/listings/{lid}/images/999").status_code == 404


# ---- delete and end ----------------------------------------------------------------------------------


def test_delete_only_drafts(s: requests.Session) -> None:
    draft = create(s)
    assert s.delete(f"{API}/listings/{draft['id']}").status_code == 200
    assert s.get(f"{API}/listings/{draft['id']}").status_code == 404
    live = create(s, publish=True)
    r = s.delete(f"{API}/listings/{live['id']}")
    assert r.status_code == 400 and r.json()["message"]


def test_end_listing(s: requests.Session) -> None:
    live = create(s, publish=True)
    url = f"{API}/my/listings/{live['id']}/state/end"
    assert s.put(url, json={}).status_code == 412
    assert s.put(url, json={"reason": "because"}).status_code == 400
    r = s.put(url, json={"reason": "reverb_sale"})
    assert r.status_code == 200 and r.content == b""
    assert s.get(f"{API}/listings/{live['id']}").json()["state"]["slug"] == "ended"
    draft = create(s)
    assert s.put(f"{API}/my/listings/{draft['id']}/state/end", json={"reason": "not_sold"}).status_code == 422


# ---- bumps, sales, direct offers ---------------------------------------------------------------------


def test_bump_get_set_remove(s: requests.Session) -> None:
    listing = create(s, publish=True)
    first = s.get(f"{API}/listings/{listing['id']}/bump").json()
    assert first["bids"] and "bump_v2_stats" not in first
    assert s.put(f"{API}/bump/v2/bids", json={"products": [listing["id"]], "bid": 0.035}).status_code == 200
    bumped = s.get(f"{API}/listings/{listing['id']}/bump").json()
    assert bumped["bump_v2_stats"]["bid"] == 0.035
    r = s.delete(f"{API}/bump/v2/bids", json={"products": [listing["id"]]})
    assert r.status_code == 200 and r.content == b""
    assert "bump_v2_stats" in s.get(f"{API}/listings/{listing['id']}/bump").json()  # ever bumped
    assert s.put(f"{API}/bump/v2/bids", json={"products": [listing["id"]], "bid": 3}).status_code == 412


def test_sales(s: requests.Session, emulator: Any) -> None:
    seller = s.get(f"{API}/sales/seller").json()["sales"]
    assert seller and {
        "id",
        "slug",
        "name",
        "code",
        "discount_percent",
        "starts_at",
        "ends_at",
        "_links",
    } <= set(seller[0])
    assert s.get(f"{API}/sales/reverb").json()["sales"]
    sale_id = seller[0]["id"]
    listing = create(s, publish=True)
    r = s.post(f"{API}/sales/{sale_id}/listings", json={"listing_ids": [listing["id"], 1]})
    assert r.status_code == 200
    assert [x["success"] for x in r.json()["results"]] == [True, False]
    assert [x["id"] for x in s.get(f"{API}/listings/{listing['id']}/sales").json()["sales"]] == [sale_id]
    assert (
        s.delete(f"{API}/sales/{sale_id}/listings", json={"listing_ids": [listing["id"]]}).status_code == 200
    )
    assert s.get(f"{API}/listings/{listing['id']}/sales").json()["sales"] == []
    too_many = s.post(f"{API}/sales/{sale_id}/listings", json={"listing_ids": list(range(1, 27))})
    assert too_many.status_code == 412 and "listing_ids" in too_many.json()["errors"]
    emulator.store.preferred_seller = False
    assert s.post(f"{API}/sales/{sale_id}/listings", json={"listing_ids": [listing["id"]]}).status_code == 403


def test_auto_offer_matches_the_documented_example(s: requests.Session) -> None:
    listing = create(s, publish=True, price={"amount": "1079.99", "currency": "USD"})
    r = s.post(f"{API}/listings/{listing['id']}/auto_offer", json={"offer_percentage": 10})
    assert r.status_code == 200
    got = s.get(f"{API}/listings/{listing['id']}/auto_offer").json()
    assert_same_shape(fixture("auto_offer/get_auto_offer.json"), got, exact=True)
    assert got["offer_price"]["amount"] == "971.99" and got["offer_percentage"] == 10
    assert (
        s.post(f"{API}/listings/{listing['id']}/auto_offer", json={"offer_percentage": 0}).status_code == 412
    )
    assert s.delete(f"{API}/listings/{listing['id']}/auto_offer").status_code == 200
    assert s.get(f"{API}/listings/{listing['id']}/auto_offer").json()["offer_percentage"] is None


def test_auto_offer_refused_when_direct_offers_disabled(s: requests.Session, emulator: Any) -> None:
    emulator.store.direct_offers_enabled = False
    record = listings_in(emulator, "live")[0]
    r = s.get(f"{API}/listings/{record['id']}/auto_offer")
    assert r.status_code == 403
    assert r.json() == fixture("auto_offer/not_authorized.json")
    assert (
        s.post(f"{API}/listings/{record['id']}/auto_offer", json={"offer_percentage": 5}).status_code == 403
    )


# ---- control API: state and simulations ---------------------------------------------------------------


def test_state_and_simulations(s: requests.Session, emulator: Any) -> None:
    control = "http://reverb.test/__emulator__"
    state = s.get(f"{control}/state/listings").json()
    assert state["total"] == len(emulator.store.table("listings"))
    assert s.get(f"{control}/state/sales").json()["sales"]
    record = listings_in(emulator, "live")[0]
    changed = s.post(
        f"{control}/simulate/listing_changed",
        json={"listing_id": record["id"], "price": "123.45", "title": "Changed"},
    ).json()
    assert changed["price"]["amount"] == "123.45" and changed["title"] == "Changed"
    s.post(f"{control}/simulate/listing_changed", json={"listing_id": record["id"], "inventory": 0})
    assert s.get(f"{API}/listings/{record['id']}").json()["state"]["slug"] in {"ended", "sold"}
    s.post(f"{control}/simulate/listing_deleted", json={"listing_id": record["id"]})
    assert s.get(f"{API}/listings/{record['id']}").status_code == 404
