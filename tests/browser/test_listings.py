"""Listings in real Chromium: edit a price and see it on the emulator; create a draft and publish it."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.models import ReverbAccount
from listings import services
from listings.models import Listing
from tests.factories import EXCELLENT, AccountFactory, new_listing

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(emulator: Any, settings: Any) -> ReverbAccount:
    settings.WORKER_BACKEND = "inline"
    return AccountFactory(name="browser-shop", auto_sync=False, push_price=True)


def test_edit_price_and_push_reaches_the_emulator(
    page: Any, live_server: Any, admin_user: Any, admin_login: Any, shop: ReverbAccount, emulator: Any
) -> None:
    listing = services.create_listing(shop, new_listing("BR-EDIT"), actor=None).obj
    admin_login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/listings/listing/{listing.pk}/change/")
    page.click("#edit-listing")
    page.fill("#id_price", "888.00")
    page.click("input[name=_save]")
    page.locator("#pending").wait_for()  # the save redirects to the change view, which lists it
    assert str(emulator.store.table("listings")[int(listing.reverb_id)]["price"]) == "1299.00"
    page.click("#push-listing")
    page.wait_for_selector("text=Pushed Price")
    assert str(emulator.store.table("listings")[int(listing.reverb_id)]["price"]) == "888.00"
    assert page.locator("#pending").count() == 0


def test_create_a_draft_then_publish_it(
    page: Any, live_server: Any, admin_user: Any, admin_login: Any, shop: ReverbAccount, emulator: Any
) -> None:
    admin_login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/listings/listing/new/")
    page.fill("#id_sku", "BR-NEW")
    page.fill("#id_make", "Gibson")
    page.fill("#id_model", "Les Paul")
    page.select_option("#id_condition", EXCELLENT)
    page.fill("#id_price", "2100")
    # what Reverb needs to publish (listings/readiness.py): a category, a photo, a way to ship
    page.select_option("#id_categories", index=0)
    page.fill("#id_photos", "https://photos.example.com/BR-NEW.jpg")
    page.select_option("#id_shipping_profile_id", index=1)
    page.click("#listing-create input[type=submit]")
    page.wait_for_selector("text=saved as a draft")
    listing = Listing.objects.get(sku="BR-NEW")
    assert emulator.store.table("listings")[int(listing.reverb_id)]["state"] == "draft"

    page.goto(f"{live_server.url}/admin/listings/listing/?q=BR-NEW")
    page.check(f"input[name=_selected_action][value='{listing.pk}']")
    page.select_option("select[name=action]", "publish_drafts")
    page.click("button[name=index]")
    page.wait_for_selector("text=Publish these listings on Reverb?")
    page.click('input[value="Yes, I\'m sure"]')
    # Reverb publishes a second after answering (API-NOTES 16.1.3): the page says so, then it is live.
    page.wait_for_selector("text=Reverb confirms in a moment")
    emulator.advance(2)
    emulator.settle()
    assert emulator.store.table("listings")[int(listing.reverb_id)]["state"] == "live"
