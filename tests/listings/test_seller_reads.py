"""Listing re-reads use the seller's own collection (API-NOTES 16.1.1): GET /listings/{id} is the public
shape without sku or shipping_profile_id, so it must neither replace `raw` nor cause false conflicts."""

from __future__ import annotations

from typing import Any

from backoffice.models import ReverbAccount
from backoffice.sync.objects import upsert_objects
from listings import editing, services
from listings.editing import record_edits
from listings.models import Listing
from tests.factories import new_listing
from tests.listings.conftest import emu_record

PUBLIC_READ = ("GET", "/api/listings/{listing_id}")


def test_reread_reads_the_seller_row_by_sku_not_the_public_shape(
    account: ReverbAccount, emulator: Any
) -> None:
    listing = services.create_listing(account, new_listing("SELL-1"), actor=None).obj
    public_reads = emulator.requests[PUBLIC_READ]
    fresh = services.reread(listing)
    assert emulator.requests[PUBLIC_READ] == public_reads  # was GET /listings/{id}
    assert fresh.raw["sku"] == "SELL-1" and "shipping_profile_id" in fresh.raw


def test_a_public_payload_never_replaces_the_seller_raw(account: ReverbAccount, emulator: Any) -> None:
    listing = services.create_listing(account, new_listing("SELL-2"), actor=None).obj
    public = account.client().get_listing(listing.reverb_id)
    assert "sku" not in public
    upsert_objects(account, "listings", [public])  # what a webhook's public re-read writes
    listing.refresh_from_db()
    assert listing.sku == "SELL-2" and listing.raw["sku"] == "SELL-2"
    assert "shipping_profile_id" in listing.raw and listing.raw["is_my_listing"] is True


def test_pending_sku_and_shipping_profile_edits_are_not_conflicts(
    account: ReverbAccount, emulator: Any
) -> None:
    account.push_shipping = True
    account.save()
    listing = services.create_listing(account, new_listing("SELL-3"), actor=None).obj
    profile = emulator.store.shop["shipping_profiles"][-1]["id"]
    record_edits(listing, {"sku": "SELL-3B", "shipping_profile_id": str(profile)})
    listing.save()
    upsert_objects(account, "listings", [account.client().get_listing(listing.reverb_id)])
    listing.refresh_from_db()
    assert editing.conflicts(listing) == {}
    done = services.push_listing(listing, actor=None)
    assert "Pushed" in done.message
    record = emu_record(emulator, listing.reverb_id)
    assert record["sku"] == "SELL-3B" and record["shipping_profile_id"] == profile
    listing.refresh_from_db()
    assert listing.pending_changes == {} and listing.sku == "SELL-3B"
    assert editing.conflicts(services.reread(listing)) == {}
    assert Listing.objects.filter(sku="SELL-3B").count() == 1
