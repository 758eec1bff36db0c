"""A Manager fixes three listings from the Catalogue health page and publishes them (issue 27, "Done
means"): follow a count, open each listing, fix it on its edit or photos page, push, then publish the
three with the bulk action through the confirmation; screenshots at desktop and phone widths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from backoffice.models import ReverbAccount
from listings import conditions, health, services
from listings.models import Listing
from tests.factories import AccountFactory, new_listing
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp"))
UPC = "036000291452"  # a UPC-A with a right check digit


@pytest.fixture
def shop(emulator: Any, settings: Any) -> ReverbAccount:
    settings.WORKER_BACKEND = "inline"
    return AccountFactory(name="health-shop", auto_sync=False, push_price=True, push_categories=True)


def _drafts(shop: ReverbAccount) -> dict[str, Listing]:
    no_upc = new_listing("HL-UPC", condition={"uuid": conditions.BRAND_NEW})
    no_category = new_listing("HL-CAT")
    no_category.pop("categories")
    no_photos = new_listing("HL-PIC")
    no_photos.pop("photos")
    return {
        key: services.create_listing(shop, body, actor=None).obj
        for key, body in (("no_upc", no_upc), ("no_category", no_category), ("no_photos", no_photos))
    }


def _counts(shop: ReverbAccount) -> dict[str, int]:
    return {line.check.key: line.count for line in health.counts(Listing.objects.filter(account=shop))}


def _shoot(page: Any, name: str) -> None:
    for width, height, label in ((1366, 900, "desktop"), (390, 844, "phone")):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def test_a_manager_fixes_three_listings_from_the_health_page_and_publishes_them(
    page: Any, live_server: Any, admin_login: Any, shop: ReverbAccount, emulator: Any
) -> None:
    manager = role_user("manager", "Manager")
    shop.members.add(manager)
    drafts = _drafts(shop)
    before = _counts(shop)
    assert all(before[key] >= 1 for key in drafts), before
    admin_login(page, live_server, manager)
    page.goto(f"{live_server.url}/admin/listings/listing/")
    page.click("text=Catalogue health")
    page.wait_for_selector(f"#health-{shop.pk}")
    _shoot(page, "health")

    def open_from_health(key: str) -> None:
        page.goto(f"{live_server.url}/admin/listings/listing/health/")
        page.click(f"#health-{shop.pk}-{key} td.numeric a")
        page.click(f"#result_list a:text-is('{drafts[key].sku}')")
        page.wait_for_selector("#edit-listing")

    def push() -> None:
        page.click("#push-listing")
        page.wait_for_selector("text=Pushed")

    open_from_health("no_upc")
    page.click("#edit-listing")
    page.wait_for_selector("#publish-gaps")
    assert page.locator("#group-what #id_upc").count() == 1  # the form is grouped: the UPC is with "what"
    _shoot(page, "edit")
    page.click("#publish-gaps a:text('UPC')")  # each gap links to its field
    page.fill("#id_upc", UPC)
    page.click("input[name=_save]")
    push()

    open_from_health("no_category")
    page.click("#edit-listing")
    page.fill("#id_categories_filter", "solid body")  # the searchable category picker
    visible = page.eval_on_selector_all(
        "#id_categories option", "os => os.filter(o => !o.hidden).map(o => o.text)"
    )
    assert visible and all("Solid Body" in text for text in visible), visible
    page.select_option("#id_categories", label=visible[0])
    page.click("input[name=_save]")
    push()

    open_from_health("no_photos")
    page.click("#edit-listing")
    page.click("#publish-gaps a:text('Add at least one photo')")  # the gap links to the photos page
    page.fill("#id_url", "https://photos.example.com/HL-PIC.jpg")
    page.click("input[value='Add photo']")
    page.wait_for_selector("text=HL-PIC.jpg")

    emulator.settle()
    page.goto(f"{live_server.url}/admin/listings/listing/?q=HL-")
    for listing in drafts.values():
        page.check(f"input[name=_selected_action][value='{listing.pk}']")
    page.select_option("select[name=action]", "publish_drafts")
    page.click("button[name=index]")
    page.wait_for_selector("text=Publish these listings on Reverb?")
    assert "will be refused" not in page.inner_text("#content")
    page.click('input[value="Yes, I\'m sure"]')
    page.wait_for_selector("text=Reverb confirms in a moment")
    emulator.advance(2)
    emulator.settle()
    for listing in drafts.values():
        assert emulator.store.table("listings")[int(listing.reverb_id)]["state"] == "live"
    after = _counts(shop)
    for key in drafts:
        assert after[key] == before[key] - 1, (key, before, after)


def test_a_manager_moves_listings_to_a_shipping_profile_with_the_bulk_edit(
    page: Any, live_server: Any, admin_login: Any, shop: ReverbAccount, emulator: Any
) -> None:
    manager = role_user("manager", "Manager")
    shop.members.add(manager)
    ReverbAccount.objects.filter(pk=shop.pk).update(push_shipping=True)
    listings = [services.create_listing(shop, new_listing(f"BE-{n}"), actor=None).obj for n in range(2)]
    admin_login(page, live_server, manager)
    page.goto(f"{live_server.url}/admin/listings/listing/?q=BE-")
    for listing in listings:
        page.check(f"input[name=_selected_action][value='{listing.pk}']")
    page.select_option("select[name=action]", "edit_fields")
    page.click("button[name=index]")
    page.select_option("#id_shipping_profile_id", index=1)
    profile = page.eval_on_selector("#id_shipping_profile_id", "s => s.value")
    profile_name = page.eval_on_selector("#id_shipping_profile_id", "s => s.selectedOptions[0].text")
    page.select_option("#id_offers_enabled", "no")
    _shoot(page, "bulk-edit")
    page.click("input[value='Preview the changes']")
    page.wait_for_selector("text=Confirm the field changes")
    assert page.locator("#will-send-each tbody tr").count() == 2
    assert "Offers enabled: yes -> no" in page.inner_text("#will-send-each")
    assert f"Shipping profile: none -> {profile_name}" in page.inner_text(
        "#will-send-each"
    )  # named, not an id
    _shoot(page, "bulk-edit-preview")
    page.click("#confirm-yes")
    page.wait_for_url(f"{live_server.url}/admin/backoffice/bulkjob/*/change/")
    for listing in listings:
        record = emulator.store.table("listings")[int(listing.reverb_id)]
        assert str(record["shipping_profile_id"]) == profile and record["offers_enabled"] is False
