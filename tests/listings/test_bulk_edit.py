"""The bulk field edit ("Edit fields"): the preview lists every listing's old -> new values and what is
refused (the inventory rule, push settings that hold a field back), nothing is sent before the "yes", and
the "yes" records and pushes exactly the previewed listings as one job."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from backoffice.models import BulkJob
from listings import conditions
from listings.models import Listing
from tests.conftest import nothing_changes
from tests.factories import EXCELLENT
from tests.orders.helpers import role_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]
URL = "/admin/listings/listing/"
PUT = ("PUT", "/api/listings/{listing_id}")
CATEGORY = "dfd39027-d134-4353-b9e4-57dc6be791b9"
UPC = "036000291452"


@pytest.fixture
def three(shop, emulator):
    """Live listings: a Brand New one (may hold stock), an Excellent one (at most 1), a third Brand New."""
    rows = list(Listing.objects.filter(account=shop, state="live", pending_changes={}).order_by("pk")[:3])
    assert len(rows) == 3
    for listing, condition in zip(rows, (conditions.BRAND_NEW, EXCELLENT, conditions.BRAND_NEW), strict=True):
        Listing.objects.filter(pk=listing.pk).update(
            condition_uuid=condition, inventory=1, has_inventory=True
        )
        listing.refresh_from_db()
        record = emulator.store.table("listings")[int(listing.reverb_id)]
        record.update(condition_uuid=condition, inventory=1)
    return rows


def manager_client(shop):
    client = Client()
    user = role_user("m", "Manager")
    shop.members.add(user)
    client.force_login(user)
    return client


def preview(client, listings, **values):
    form = {"action": "edit_fields", "_selected_action": [x.pk for x in listings]}
    assert "Preview the changes" in client.post(URL, form).content.decode()
    step = {**form, "edit_step": "preview", **values}
    return step, client.post(URL, step).content.decode()


def test_preview_shows_old_and_new_values_and_refusals_and_sends_nothing(emulator, shop, three):
    client = manager_client(shop)
    with nothing_changes(emulator, *three):
        _, page = preview(client, three, inventory="4", offers_enabled="no", condition=conditions.BRAND_NEW)
    brand_new, excellent, _ = three
    assert page.count("Inventory: 1 -&gt; 4") == 3
    assert "Only Brand New, B-Stock and Mint (with inventory) listings can hold more than 1 item." in page
    # conditions are held back by default (push_condition off): said, not sent
    assert "held back (not sent): conditions" in page
    assert page.count("will be pushed") == 2 and page.count("refused:") == 1
    assert 'value="Push 2 listing(s)"' in page


def test_confirm_records_and_pushes_exactly_the_previewed_listings(
    emulator, shop, three, django_capture_on_commit_callbacks
):
    client = manager_client(shop)
    step, page = preview(client, three, inventory="4")
    plan = re.search(r'name="plan" value="([^"]+)"', page).group(1)
    token = re.search(r'name="once_token" value="([^"]+)"', page).group(1)
    before_jobs, before_puts = BulkJob.objects.count(), emulator.requests[PUT]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {**step, "confirmed": "yes", "plan": plan, "once_token": token})
    assert response.status_code == 302
    assert BulkJob.objects.count() == before_jobs + 1
    job = BulkJob.objects.latest("pk")
    assert job.kind == "listings.push" and job.total == 2
    assert emulator.requests[PUT] == before_puts + 2
    brand_new, excellent, other = three
    for listing in (brand_new, other):
        listing.refresh_from_db()
        assert emulator.store.table("listings")[int(listing.reverb_id)]["inventory"] == 4
        assert listing.pending_changes == {}
    excellent.refresh_from_db()
    assert excellent.pending_changes == {} and excellent.inventory == 1


def test_a_tampered_plan_sends_nothing(emulator, shop, three):
    client = manager_client(shop)
    step, page = preview(client, three, inventory="4")
    token = re.search(r'name="once_token" value="([^"]+)"', page).group(1)
    with nothing_changes(emulator, *three):
        client.post(URL, {**step, "confirmed": "yes", "plan": "x:y", "once_token": token})


def test_a_clerk_without_push_does_not_get_the_action(shop, three):
    client = Client()
    user = role_user("v", None)
    shop.members.add(user)
    client.force_login(user)
    response = client.post(URL, {"action": "edit_fields", "_selected_action": [three[0].pk]})
    assert "Preview the changes" not in response.content.decode()


def test_the_export_carries_the_bulk_edit_fields_and_imports_back(shop, three):
    from listings import csv_import

    listing = three[0]
    Listing.objects.filter(pk=listing.pk).update(
        raw={**listing.raw, "shipping_profile_id": "77", "categories": [{"uuid": CATEGORY}]},
        offers_enabled=False,
        upc=UPC,
    )
    client = manager_client(shop)
    response = client.post(URL, {"action": "export_csv", "_selected_action": [listing.pk]})
    text = b"".join(response.streaming_content).decode()
    header = text.splitlines()[0].split(",")
    assert header[-3:] == ["shipping_profile_id", "category", "offers_enabled"]
    rows, problems = csv_import.parse(shop, text)
    assert problems == [] and rows[0].outcome == "update", rows[0].reasons
    payload = rows[0].payload
    assert payload["shipping_profile_id"] == "77"
    assert payload["categories"] == [{"uuid": CATEGORY}]
    assert payload["offers_enabled"] is False and payload["upc"] == UPC
    assert payload["condition"] == {"uuid": conditions.BRAND_NEW}


def test_the_import_refuses_bad_bulk_edit_cells(shop):
    from listings import csv_import

    text = (
        "sku,make,model,condition,price,shipping_profile_id,category,offers_enabled\n"
        "A-1,Fender,Strat,Excellent,100,abc,Guitars,maybe\n"
    )
    rows, _ = csv_import.parse(shop, text)
    assert rows[0].outcome == "refused"
    assert len(rows[0].reasons) == 3, rows[0].reasons


def test_a_second_yes_sends_nothing_again(emulator, shop, three, django_capture_on_commit_callbacks):
    client = manager_client(shop)
    step, page = preview(client, three, inventory="4")
    plan = re.search(r'name="plan" value="([^"]+)"', page).group(1)
    token = re.search(r'name="once_token" value="([^"]+)"', page).group(1)
    yes = {**step, "confirmed": "yes", "plan": plan, "once_token": token}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, yes)
    jobs = BulkJob.objects.count()
    with nothing_changes(emulator, *three):
        client.post(URL, yes)  # a double click or a reload
    assert BulkJob.objects.count() == jobs


def test_listings_of_two_shops_are_refused_at_once(emulator, shop, three):
    from tests.factories import AccountFactory

    other = AccountFactory(name="other-shop")
    Listing.objects.filter(pk=three[2].pk).update(account=other)
    client = Client()
    client.force_login(_superuser())
    response = client.post(
        URL, {"action": "edit_fields", "_selected_action": [x.pk for x in three]}, follow=True
    )
    assert "Select listings of one account at a time" in response.content.decode()


def _superuser():
    from django.contrib.auth.models import User

    return User.objects.create_superuser("root", password="password")
