"""listings/services.py against the emulator: success and refusal for every service."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.actions import ActionError
from backoffice.models import ApiCall, ReverbAccount
from emulator.faults import Faults
from listings import editing, services
from listings.editing import record_edits
from listings.models import Listing
from tests.conftest import nothing_changes
from tests.factories import BRAND_NEW, new_listing
from tests.listings.conftest import emu_record


def by_state(account: ReverbAccount, state: str) -> Listing:
    return Listing.objects.filter(account=account, state=state).exclude(sku="").first()


def skus_on_emulator(emulator: Any, sku: str) -> list[int]:
    return [r["id"] for r in emulator.store.table("listings").values() if r["sku"] == sku]


def test_create_posts_a_draft_and_lands_it(account: ReverbAccount, emulator: Any) -> None:
    done = services.create_listing(account, new_listing("NEW-1", title="Strat"), actor=None)
    assert done.obj is not None and done.obj.state == "draft" and done.obj.sku == "NEW-1"
    assert skus_on_emulator(emulator, "NEW-1") == [int(done.obj.reverb_id)]
    assert ApiCall.objects.get(action="listings.create").status == ApiCall.Status.SUCCESS


def test_create_publishes_when_auto_publish(account: ReverbAccount, emulator: Any) -> None:
    account.auto_publish = True
    account.save()
    done = services.create_listing(account, new_listing("LIVE-1"), actor=None)
    # Publishing is asynchronous (API-NOTES 16.1.3): the answer says draft (was live at once)
    assert done.obj.state == "draft" and "Reverb confirms in a moment" in done.message
    emulator.advance(2)
    assert services.reread(done.obj).state == "live"


def test_create_updates_the_listing_reverb_already_has(account: ReverbAccount, emulator: Any) -> None:
    first = services.create_listing(account, new_listing("SAME-1"), actor=None).obj
    again = services.create_listing(account, new_listing("SAME-1", title="Renamed"), actor=None)
    assert again.obj.reverb_id == first.reverb_id and again.obj.title == "Renamed"
    assert "instead of creating" in again.message
    assert len(skus_on_emulator(emulator, "SAME-1")) == 1


def test_create_without_sku_is_refused_and_nothing_sent(account: ReverbAccount, emulator: Any) -> None:
    before = sum(emulator.requests.values())
    with nothing_changes(emulator), pytest.raises(ActionError) as info:
        services.create_listing(account, new_listing(""), actor=None)
    assert info.value.refused and "SKU" in info.value.message and "sku" in info.value.field_errors
    assert sum(emulator.requests.values()) == before
    assert ApiCall.objects.get(action="listings.create").status == ApiCall.Status.REFUSED


def test_create_refuses_quantity_for_used_condition(account: ReverbAccount, emulator: Any) -> None:
    with nothing_changes(emulator), pytest.raises(ActionError) as info:
        services.create_listing(account, new_listing("USED-3", inventory=3), actor=None)
    assert not Listing.objects.filter(sku="USED-3").exists()
    assert "inventory" in info.value.field_errors and info.value.refused
    done = services.create_listing(
        account, new_listing("NEW-3", inventory=3, condition={"uuid": BRAND_NEW}), actor=None
    )
    assert done.obj.inventory == 3


def test_lost_create_response_makes_exactly_one_listing(account: ReverbAccount, emulator: Any) -> None:
    emulator.faults = Faults(rate_lost_write=1.0)
    done = services.create_listing(account, new_listing("LOST-1"), actor=None)
    emulator.faults = Faults()
    assert len(skus_on_emulator(emulator, "LOST-1")) == 1
    assert done.obj is not None and done.obj.sku == "LOST-1"
    assert "found it by SKU" in done.message
    assert emulator.requests[("POST", "/api/listings")] == 1
    assert Listing.objects.filter(sku="LOST-1").count() == 1


def test_publish_end_and_delete(account: ReverbAccount, emulator: Any) -> None:
    draft = services.create_listing(account, new_listing("LIFE-1"), actor=None).obj
    with nothing_changes(emulator, draft), pytest.raises(ActionError) as info:
        services.end_listing(draft, actor=None, reason="not_sold")
    assert info.value.refused and "delete a draft" in info.value.message
    publishing = services.publish_listing(draft, actor=None)
    assert publishing.obj.state == "draft" and "Reverb confirms in a moment" in publishing.message
    emulator.advance(2)  # Reverb publishes a second later (API-NOTES 16.1.3); was live at once
    live = services.reread(publishing.obj)
    assert live.state == "live" and emu_record(emulator, live.reverb_id)["state"] == "live"
    assert live.sku == "LIFE-1"  # the public re-read has no sku: not told, the column kept
    with pytest.raises(ActionError) as info:
        services.publish_listing(live, actor=None)
    assert info.value.refused
    before = sum(emulator.requests.values())
    with nothing_changes(emulator, live), pytest.raises(ActionError) as info:
        services.delete_draft(live, actor=None)
    assert info.value.refused and "only drafts" in info.value.message
    assert sum(emulator.requests.values()) == before  # nothing sent
    ended = services.end_listing(live, actor=None, reason="reverb_sale").obj
    assert ended.state == "ended" and emu_record(emulator, ended.reverb_id)["state"] == "ended"
    other = services.create_listing(account, new_listing("LIFE-2"), actor=None).obj
    services.delete_draft(other, actor=None)
    assert int(other.reverb_id) not in emulator.store.table("listings")
    other.refresh_from_db()
    assert other.missing and other.state == "deleted"


def test_push_sends_only_allowed_fields_in_one_put(account: ReverbAccount, emulator: Any) -> None:
    listing = services.create_listing(account, new_listing("PUSH-1", title="Old"), actor=None).obj
    account.push_price = True  # push_title stays off
    account.save()
    record_edits(listing, {"price": "999.00", "title": "New title"})
    listing.save()
    puts = emulator.requests[("PUT", "/api/listings/{listing_id}")]
    done = services.push_listing(listing, actor=None)
    assert emulator.requests[("PUT", "/api/listings/{listing_id}")] == puts + 1
    call = ApiCall.objects.get(action="listings.push")
    assert set(call.request_summary) == {"price"}
    assert str(emu_record(emulator, listing.reverb_id)["price"]) == "999.00"
    assert emu_record(emulator, listing.reverb_id)["title"] == "Old"
    listing.refresh_from_db()
    assert str(listing.price) == "999.00" and set(listing.pending_changes) == {"title"}
    assert "Held back" in done.message and listing.last_push["status"] == "success"


def test_push_conflict_sends_nothing(account: ReverbAccount, emulator: Any) -> None:
    account.push_price = True
    account.save()
    listing = services.create_listing(account, new_listing("CONF-1"), actor=None).obj
    record_edits(listing, {"price": "999.00"})
    listing.save()
    emu_record(emulator, listing.reverb_id)["price"] = __import__("decimal").Decimal("1500.00")
    emulator.store.touch(emu_record(emulator, listing.reverb_id))
    puts = emulator.requests[("PUT", "/api/listings/{listing_id}")]
    with pytest.raises(ActionError) as info:
        services.push_listing(listing, actor=None)
    assert "changed on Reverb" in info.value.message
    assert emulator.requests[("PUT", "/api/listings/{listing_id}")] == puts
    listing.refresh_from_db()
    assert editing.conflicts(listing) == {
        "price": {"local": "999.00", "base": "1299.00", "remote": "1500.00"}
    }
    services.resolve_conflict(listing, actor=None, keep="local")
    services.push_listing(listing, actor=None)
    assert str(emu_record(emulator, listing.reverb_id)["price"]) == "999.00"


def test_sync_preserves_pending_changes_and_shows_conflict(account: ReverbAccount, emulator: Any) -> None:
    from decimal import Decimal

    from backoffice.sync.runner import sync_resource

    listing = services.create_listing(account, new_listing("SYNC-1"), actor=None).obj
    record_edits(listing, {"price": "999.00"})
    listing.save()
    sync_resource(account, "listings")
    listing.refresh_from_db()
    assert listing.pending_changes["price"]["value"] == "999.00" and not editing.conflicts(listing)
    record = emu_record(emulator, listing.reverb_id)
    record["price"] = Decimal("1100.00")
    emulator.store.touch(record)
    sync_resource(account, "listings")
    listing.refresh_from_db()
    assert listing.pending_changes["price"]["value"] == "999.00"
    assert editing.conflicts(listing)["price"]["remote"] == "1100.00"
    services.resolve_conflict(listing, actor=None, keep="reverb")
    listing.refresh_from_db()
    assert listing.pending_changes == {}


def test_push_412_errors_are_kept_per_field(account: ReverbAccount, emulator: Any) -> None:
    account.push_shipping = True
    account.save()
    listing = services.create_listing(account, new_listing("ERR-1"), actor=None).obj
    record_edits(listing, {"shipping_profile_id": "987654"})
    listing.save()
    with pytest.raises(ActionError) as info:
        services.push_listing(listing, actor=None)
    assert "shipping_profile_id" in info.value.field_errors
    listing.refresh_from_db()
    assert listing.last_push["status"] == "failed"
    assert "shipping_profile_id" in listing.last_push["field_errors"]
    assert "shipping_profile_id" in listing.pending_changes


def test_bump_sales_and_direct_offers(account: ReverbAccount, emulator: Any) -> None:
    a = services.create_listing(account, new_listing("PRO-1"), actor=None).obj
    b = services.create_listing(account, new_listing("PRO-2"), actor=None).obj
    services.set_bump([a, b], actor=None, bid="0.035")
    assert emu_record(emulator, a.reverb_id)["bump_bid"] == 0.035
    services.remove_bump([a, b], actor=None)
    assert emu_record(emulator, b.reverb_id)["bump_bid"] is None
    sale = next(s for s in emulator.store.table("sales").values() if s["kind"] == "seller")
    done = services.add_to_sale([a, b], actor=None, sale_id=str(sale["id"]))
    assert [r["success"] for r in done.results] == [True, True]
    assert int(a.reverb_id) in sale["listing_ids"]
    services.remove_from_sale([a], actor=None, sale_id=str(sale["id"]))
    assert int(a.reverb_id) not in sale["listing_ids"]
    services.set_direct_offer(a, actor=None, percentage=10)
    assert emu_record(emulator, a.reverb_id)["auto_offer_percentage"] == 10
    services.remove_direct_offer(a, actor=None)
    assert emu_record(emulator, a.reverb_id)["auto_offer_percentage"] is None
    with pytest.raises(ActionError):
        services.set_direct_offer(a, actor=None, percentage=0)


def test_direct_offers_and_sales_refused_by_reverb(account: ReverbAccount, emulator: Any) -> None:
    a = services.create_listing(account, new_listing("PRO-3"), actor=None).obj
    emulator.store.direct_offers_enabled = False
    emulator.store.preferred_seller = False
    with pytest.raises(ActionError) as info:
        services.set_direct_offer(a, actor=None, percentage=10)
    assert "does not have Direct Offers" in info.value.message
    sale = next(s for s in emulator.store.table("sales").values() if s["kind"] == "seller")
    with pytest.raises(ActionError) as info:
        services.add_to_sale([a], actor=None, sale_id=str(sale["id"]))
    assert "Preferred Sellers" in info.value.message


def test_sales_are_sent_in_chunks_of_25(account: ReverbAccount, emulator: Any) -> None:
    from backoffice.sync.runner import sync_resource

    emulator.reset(seed=1, size="listings=60,orders=10")  # enough listings for two chunks
    sync_resource(account, "listings")
    listings = list(Listing.objects.filter(account=account)[:30])
    assert len(listings) == 30
    sale = next(s for s in emulator.store.table("sales").values() if s["kind"] == "seller")
    done = services.add_to_sale(listings, actor=None, sale_id=str(sale["id"]))
    assert len(done.results) == len(listings)
    assert emulator.requests[("POST", "/api/sales/{sale_id}/listings")] == 2


def test_vacation(account: ReverbAccount, emulator: Any) -> None:
    assert services.set_vacation(account, actor=None, on=True).results == [{"vacation": True}]
    assert emulator.store.vacation is True
    services.set_vacation(account, actor=None, on=False)
    assert emulator.store.vacation is False


def test_images_add_reorder_delete(account: ReverbAccount, emulator: Any) -> None:
    listing = services.create_listing(account, new_listing("IMG-1", photos=[]), actor=None).obj
    services.add_image(listing, actor=None, url="https://example.com/a.jpg")
    listing = services.add_image(listing, actor=None, url="https://example.com/b.jpg").obj
    record = emu_record(emulator, listing.reverb_id)
    assert [p["url"] for p in record["photos"]] == ["https://example.com/a.jpg", "https://example.com/b.jpg"]
    services.reorder_images(
        listing, actor=None, urls=["https://example.com/b.jpg", "https://example.com/a.jpg"]
    )
    assert [p["url"] for p in record["photos"]][0] == "https://example.com/b.jpg"
    services.delete_image(listing, actor=None, image_id=str(record["photos"][0]["id"]))
    assert [p["url"] for p in record["photos"]] == ["https://example.com/a.jpg"]
    with pytest.raises(ActionError):
        services.add_image(listing, actor=None, url="javascript:alert(1)")
