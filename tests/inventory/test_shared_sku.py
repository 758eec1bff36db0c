"""A SKU used by several listings (issue 27): refused per row with the listings it names, in the stock API and
the feeds, instead of updating the newest one without a word; listings marked missing, sold or ended do
not make a live listing's SKU ambiguous."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from backoffice.models import ReverbAccount, SyncLogEntry
from inventory import feeds, services
from inventory.models import Source, StockFeed, StockIntent
from listings.models import Listing
from orders.models import SkuMapping
from tests.factories import ListingFactory
from tests.inventory.conftest import BRAND_NEW, inventory_listing

URL = "/api/v1/stock/"


def twin(listing: Listing, **fields: Any) -> Listing:
    return ListingFactory(
        account=listing.account, sku=listing.sku, condition_uuid=listing.condition_uuid, **fields
    )


def put(account: ReverbAccount, sku: str, quantity: int) -> services.RowResult:
    return services.set_stock(account, [{"sku": sku, "quantity": quantity}], source=Source.API).rows[0]


def test_a_sku_of_two_live_listings_is_refused_per_row_by_the_api(
    account: ReverbAccount, api: APIClient
) -> None:
    listing = inventory_listing(account)
    other = twin(listing, state="live")
    single = Listing.objects.filter(account=account, state="live").exclude(sku=listing.sku).first()
    answer = api.put(
        URL,
        {"items": [{"sku": listing.sku, "quantity": 3}, {"sku": single.sku, "quantity": 1}]},
        format="json",
    )
    assert answer.status_code == 200
    data = answer.json()
    assert (data["accepted"], data["refused"]) == (1, 1)
    refused = data["rows"][0]
    assert refused["status"] == "refused"
    assert refused["error"] == (
        f"SKU {listing.sku} is used by 2 listings on Reverb (ids {listing.reverb_id}, {other.reverb_id}): "
        "make it unique — Listings › Catalogue health"
    )
    assert not StockIntent.objects.filter(listing__in=[listing, other]).exists()  # neither one picked
    assert StockIntent.objects.filter(listing=single).exists()  # the other row applied
    logged = SyncLogEntry.objects.get(resource=services.IN, sku=listing.sku)
    assert logged.status == "failed" and "used by 2 listings" in logged.message


def test_a_shared_sku_is_refused_per_line_by_a_feed(account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    twin(listing, state="draft")
    single = Listing.objects.filter(account=account, condition_uuid=BRAND_NEW).exclude(sku=listing.sku)[0]
    feed = StockFeed.objects.create(name="warehouse", account=account)
    report = feeds.apply(feed, f"sku,quantity\n{listing.sku},4\n{single.sku},5\n")
    assert report.applied == 1
    assert [(b["line"], b["sku"]) for b in report.bad] == [(2, listing.sku)]
    assert "is used by 2 listings on Reverb" in report.bad[0]["error"]


def test_a_mapped_shop_sku_names_the_reverb_sku_it_stands_for(account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    twin(listing, state="live")
    SkuMapping.objects.create(account=account, reverb_sku=listing.sku, shop_sku="SHOP-1")
    row = put(account, "SHOP-1", 2)
    assert row.status == "refused"
    assert row.error.startswith(f"SKU SHOP-1 (Reverb SKU {listing.sku}) is used by 2 listings")


def test_a_sku_shared_with_sold_ended_or_missing_listings_names_the_live_one(
    account: ReverbAccount, emulator: Any
) -> None:
    listing = inventory_listing(account)
    twin(listing, state="sold_out", inventory=0)
    twin(listing, state="ended", inventory=0)
    twin(listing, state="live", missing=True)  # gone from Reverb
    row = put(account, listing.sku, 6)
    assert (row.status, row.listing_id) == ("accepted", listing.reverb_id)
    services.drain(account)
    assert StockIntent.objects.get().listing_id == listing.pk


def test_when_all_are_sold_the_one_this_queue_drives_is_restocked(account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    assert put(account, listing.sku, 0).status == "accepted"
    Listing.objects.filter(pk=listing.pk).update(state="sold_out", inventory=0)
    old = twin(listing, state="sold_out", inventory=0)  # an old sale Reverb keeps, never driven here
    row = put(account, listing.sku, 2)  # restocked: the listing the shop has been sending to
    assert (row.status, row.listing_id) == ("accepted", listing.reverb_id)
    StockIntent.objects.create(account=account, listing=old, sku=old.sku, quantity=0, source=Source.API)
    row = put(account, listing.sku, 3)  # both driven once: no way to tell, refused
    assert row.status == "refused" and "used by 2 listings" in row.error


def test_a_refund_restock_goes_where_the_skus_stock_goes(account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    old = twin(listing, state="sold_out", inventory=0)  # the returned item was sold from the old listing
    put(account, listing.sku, 3)
    intent = services.restock(old, 1)
    assert (intent.listing_id, intent.reported, intent.quantity) == (listing.pk, 4, 4)
    twin(listing, state="live")
    with pytest.raises(ValueError, match="is used by 2 listings on Reverb"):
        services.restock(old, 1)
