"""Pre-publish checks (issue 27): what Reverb needs to publish is checked before anything is sent, for one
listing, a bulk publish, a create with publish and a stock relist; the UPC a shop sends is remembered."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.actions import ActionError
from backoffice.models import ReverbAccount
from listings import readiness, services
from listings.models import Listing
from listings.sync import map_listing
from tests.conftest import nothing_changes
from tests.factories import BRAND_NEW, new_listing
from tests.listings.conftest import emu_record

CHANGELIST = "admin:listings_listing_changelist"


def brand_new_draft(account: ReverbAccount, sku: str, **extra: Any) -> Listing:
    body = new_listing(sku, condition={"uuid": BRAND_NEW}, inventory=3, has_inventory=True, **extra)
    return services.create_listing(account, body, actor=None).obj


def test_a_brand_new_draft_without_upc_is_stopped_before_the_call(
    account: ReverbAccount, emulator: Any
) -> None:
    draft = brand_new_draft(account, "BN-1")
    with nothing_changes(emulator, draft), pytest.raises(ActionError) as refused:
        services.publish_listing(draft, actor=None)
    assert "not ready to publish" in refused.value.message and "UPC" in refused.value.message
    assert emu_record(emulator, draft.reverb_id)["state"] == "draft"


def test_the_upc_is_sent_remembered_and_then_the_listing_publishes(
    account: ReverbAccount, emulator: Any
) -> None:
    draft = brand_new_draft(account, "BN-2")
    editing_fields = {"upc": "012345678905"}
    from listings import editing

    editing.record_edits(draft, editing_fields)
    draft.save()
    pushed = services.push_listing(draft, actor=None).obj
    assert emu_record(emulator, draft.reverb_id)["upc"] == "012345678905"
    pushed.refresh_from_db()
    assert pushed.upc == "012345678905" and pushed.pending_changes == {}  # Reverb never reads it back
    assert readiness.listing_gaps(pushed) == []
    services.publish_listing(pushed, actor=None)
    emulator.advance(2)
    assert emu_record(emulator, draft.reverb_id)["state"] == "live"


def test_a_create_with_publish_missing_fields_sends_nothing_and_names_them(
    account: ReverbAccount, emulator: Any
) -> None:
    body = new_listing("NP-1", photos=[], categories=[], publish=True)
    before = len(emulator.store.table("listings"))
    with pytest.raises(ActionError) as refused:
        services.create_listing(account, body, actor=None)
    assert set(refused.value.field_errors) == {"photos", "categories"}
    assert "photo" in refused.value.message and "category" in refused.value.message
    assert len(emulator.store.table("listings")) == before


def test_auto_publish_keeps_an_unready_listing_a_draft_and_says_why(
    account: ReverbAccount, emulator: Any
) -> None:
    account.auto_publish = True
    account.save()
    done = services.create_listing(
        account, new_listing("AP-1", condition={"uuid": BRAND_NEW}, inventory=1), actor=None
    )
    assert "Not published" in done.message and "UPC" in done.message
    assert emu_record(emulator, done.obj.reverb_id)["state"] == "draft"
    assert done.obj.last_push.get("status") != "publishing"


def test_a_stock_relist_of_an_unready_listing_sends_the_stock_not_the_publish(
    account: ReverbAccount, emulator: Any
) -> None:
    listing = services.create_listing(account, new_listing("RL-1", photos=[]), actor=None).obj
    record = emu_record(emulator, listing.reverb_id)
    record["state"], record["inventory"] = "ended", 0
    Listing.objects.filter(pk=listing.pk).update(state="ended", inventory=0)
    listing.refresh_from_db()
    done = services.push_inventory(listing, 1, actor=None)
    assert emu_record(emulator, listing.reverb_id)["inventory"] == 1
    assert emu_record(emulator, listing.reverb_id)["state"] == "ended"
    assert "Not relisted" in done.message and "photo" in done.message
    assert done.results == [{"relisted": False}]


def test_the_bulk_publish_preview_names_what_each_listing_lacks(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    ready = services.create_listing(account, new_listing("BP-1"), actor=None).obj
    unready = brand_new_draft(account, "BP-2")
    url = reverse(CHANGELIST)
    page = admin_client.post(url, {"action": "publish_drafts", "_selected_action": [ready.pk, unready.pk]})
    text = page.content.decode()
    assert "Brand New items need a UPC" in text
    admin_client.post(
        url, {"action": "publish_drafts", "_selected_action": [ready.pk, unready.pk], "confirmed": "yes"}
    )
    emulator.advance(2)
    assert emu_record(emulator, ready.reverb_id)["state"] == "live"
    assert emu_record(emulator, unready.reverb_id)["state"] == "draft"


@pytest.mark.parametrize(
    ("payload", "ships"),
    [
        ({"shipping_profile_id": 210}, True),
        ({"shipping_profile": {"id": "15655", "name": "Guitars"}}, True),
        ({"shipping_profile_id": None, "shipping": None}, False),
        ({"shipping": {"local": True, "rates": []}}, True),
        ({}, None),  # not told: the mirror keeps what it knew
    ],
)
def test_the_mirror_knows_whether_a_listing_ships(payload: dict[str, Any], ships: bool | None) -> None:
    _, fields = map_listing({"id": 1, **payload})
    assert fields.get("ships") is ships


def test_gaps_of_a_complete_brand_new_listing_with_upc_does_not_apply() -> None:
    body = new_listing("OK-1", condition={"uuid": BRAND_NEW}, upc_does_not_apply=True)
    assert readiness.payload_gaps(body) == []
    assert [g.field for g in readiness.payload_gaps({**body, "price": {"amount": "0"}})] == ["price"]


def test_the_edit_form_checks_the_upc_and_the_page_shows_what_publishing_needs(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    from tests.listings.test_admin import edit_data

    draft = brand_new_draft(account, "EF-1")
    url = reverse("admin:listings_listing_edit", args=[draft.pk])
    page = admin_client.get(url).content.decode()
    assert 'id="publish-gaps"' in page and "Brand New items need a UPC" in page
    typo = admin_client.post(url, edit_data(draft, upc="012345678900", inventory=3))
    assert typo.status_code == 200 and "check digit" in typo.content.decode()
    both = admin_client.post(url, edit_data(draft, upc="012345678905", upc_does_not_apply="on", inventory=3))
    assert "not both" in both.content.decode()
    admin_client.post(url, edit_data(draft, upc="012345678905", inventory=3))
    draft.refresh_from_db()
    assert draft.pending_changes["upc"] == {"value": "012345678905", "base": ""}
    assert readiness.listing_gaps(draft) == []


def test_the_csv_import_carries_the_upc(account: ReverbAccount) -> None:
    from listings import csv_import

    text = (
        "sku,make,model,condition,price,upc,upc_does_not_apply\n"
        "C-1,Boss,DS-1,Brand New,79,012345678905,\n"
        "C-2,Boss,DS-2,Brand New,89,,yes\n"
        "C-3,Boss,DS-3,Brand New,99,012345678900,\n"
    )
    rows, problems = csv_import.parse(account, text)
    assert problems == []
    assert rows[0].payload["upc"] == "012345678905" and "upc_does_not_apply" not in rows[0].payload
    assert rows[1].payload["upc_does_not_apply"] is True
    assert rows[2].outcome == "refused" and "check digit" in rows[2].reasons[0]


def test_catalogue_health_counts_each_gap_and_links_to_the_listings(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    from listings import health

    services.create_listing(account, new_listing("H-OK"), actor=None)
    brand_new_draft(account, "H-UPC")
    services.create_listing(account, new_listing("H-NOPHOTO", photos=[]), actor=None)
    twin_a = services.create_listing(account, new_listing("H-TWIN-A"), actor=None).obj
    twin_b = services.create_listing(account, new_listing("H-TWIN-B"), actor=None).obj
    Listing.objects.filter(pk__in=[twin_a.pk, twin_b.pk]).update(sku="H-TWIN")
    lines = {line.check.key: line.count for line in health.counts(Listing.objects.filter(account=account))}
    assert lines["no_upc"] == 1 and lines["no_photos"] == 1 and lines["duplicate_sku"] == 2
    assert lines["no_sku"] == 0 and lines["no_shipping"] == 0
    page = admin_client.get(reverse("admin:listings_listing_health")).content.decode()
    link = f"?health=no_upc&amp;account__id__exact={account.pk}"
    assert link in page
    listed = admin_client.get(reverse(CHANGELIST) + link.replace("&amp;", "&")).content.decode()
    assert "H-UPC" in listed and "H-NOPHOTO" not in listed


def test_catalogue_health_shows_only_the_users_shops(
    client: Client, account: ReverbAccount, emulator: Any, strict_membership: None, django_user_model: Any
) -> None:
    from django.contrib.auth.models import Group

    from tests.factories import AccountFactory

    brand_new_draft(account, "H-MINE")
    theirs = AccountFactory(name="clerks-shop")
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.groups.add(Group.objects.get(name="Viewer"))
    theirs.members.add(clerk)
    client.force_login(clerk)
    page = client.get(reverse("admin:listings_listing_health")).content.decode()
    assert "clerks-shop" in page and account.name not in page


def test_a_brand_new_listing_reverb_published_once_is_not_asked_for_its_upc(
    account: ReverbAccount, emulator: Any
) -> None:
    """Reverb does not read UPCs back: a Brand New listing it published (live, ended, sold) had one."""
    from listings import health

    draft = brand_new_draft(account, "BN-LIVE", upc_does_not_apply=True)
    services.publish_listing(draft, actor=None)
    emulator.advance(2)
    live = services.reread(draft)
    Listing.objects.filter(pk=live.pk).update(upc_does_not_apply=False)  # e.g. a listing made on reverb.com
    live.refresh_from_db()
    assert live.state == "live" and readiness.listing_gaps(live) == []
    counts = {line.check.key: line.count for line in health.counts(Listing.objects.filter(account=account))}
    assert counts["no_upc"] == 0
