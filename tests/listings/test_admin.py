"""Listing admin: edits become pending changes, 412s land on form fields, actions with confirmation,
permissions (a Viewer sees no action; a forged action POST is 403), bulk jobs, create, CSV import."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from backoffice.actions import ActionError
from backoffice.models import BulkJob, ReverbAccount, SyncLogEntry
from listings import editing, services
from listings.models import Listing
from tests.conftest import nothing_changes
from tests.factories import EXCELLENT, new_listing
from tests.listings.conftest import emu_record

CHANGELIST = "admin:listings_listing_changelist"


def make(account: ReverbAccount, sku: str, publish: Any = None) -> Listing:
    """A draft, or with `publish=emulator` a live listing: Reverb publishes a second after answering
    (API-NOTES 16.1.3), so the emulator's clock moves on and the mirror re-reads it."""
    listing = services.create_listing(account, new_listing(sku), actor=None).obj
    if not publish:
        return listing
    listing = services.publish_listing(listing, actor=None).obj
    publish.advance(2)
    return services.reread(listing)


def edit_data(listing: Listing, **changes: Any) -> dict[str, Any]:
    from listings.forms import ListingEditForm

    shown = ListingEditForm.initial_for(listing)  # the description as the form shows it (text or kept HTML)
    data = {
        "sku": listing.sku,
        "title": listing.title,
        "make": listing.make,
        "model": listing.model,
        "finish": listing.finish,
        "year": listing.year,
        "condition": listing.condition_uuid,
        "price": str(listing.price),
        "inventory": listing.inventory or 0,
        "description": shown["description"],
        "description_format": shown["description_format"],
        "shipping_profile_id": "",
        "offers_enabled": "on" if listing.offers_enabled else "",
        "categories": editing.effective(listing, "categories"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_edit_becomes_pending_and_push_sends_it(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    account.auto_sync = False
    account.push_price = True
    account.save()
    listing = make(account, "ED-1")
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, edit_data(listing, price="777.00"))
    assert response.status_code == 302
    listing.refresh_from_db()
    assert str(listing.price) == "1299.00"  # the mirror keeps Reverb's value until confirmed
    assert listing.pending_changes == {"price": {"value": "777.00", "base": "1299.00"}}
    page = admin_client.get(reverse("admin:listings_listing_change", args=[listing.pk])).content.decode()
    assert "Pending changes" in page and "777.00" in page
    admin_client.post(reverse("admin:listings_listing_push", args=[listing.pk]))
    assert str(emu_record(emulator, listing.reverb_id)["price"]) == "777.00"
    listing.refresh_from_db()
    assert listing.pending_changes == {} and str(listing.price) == "777.00"


def test_edit_with_auto_sync_queues_the_push(
    admin_client: Client, account: ReverbAccount, emulator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    account.auto_sync = True
    account.push_price = True
    account.save()
    listing = make(account, "ED-2")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:listings_listing_edit", args=[listing.pk]), edit_data(listing, price="555.00")
        )
    assert BulkJob.objects.get(kind="listings.push").state == BulkJob.State.SUCCEEDED
    assert str(emu_record(emulator, listing.reverb_id)["price"]) == "555.00"


def test_edit_refuses_quantity_for_used_condition(admin_client: Client, account: ReverbAccount) -> None:
    listing = make(account, "ED-3")
    response = admin_client.post(
        reverse("admin:listings_listing_edit", args=[listing.pk]),
        edit_data(listing, inventory="4", condition=EXCELLENT),
    )
    assert response.status_code == 200
    assert "Brand New, B-Stock and Mint" in str(response.context["form"].errors["inventory"])
    listing.refresh_from_db()
    assert listing.pending_changes == {}


def test_reverb_412_errors_show_on_the_form_fields(admin_client: Client, account: ReverbAccount) -> None:
    account.push_shipping = True
    account.save()
    listing = make(account, "ED-4")
    listing.pending_changes = {"shipping_profile_id": {"value": "424242", "base": ""}}
    listing.save()
    with pytest.raises(ActionError):
        services.push_listing(listing, actor=None)
    response = admin_client.get(reverse("admin:listings_listing_edit", args=[listing.pk]))
    errors = response.context["form"].errors
    assert any("shipping profiles" in e for e in errors["shipping_profile_id"])


def test_conflict_shows_both_values_and_resolves(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    from decimal import Decimal

    listing = make(account, "CF-1")
    listing.pending_changes = {"price": {"value": "900.00", "base": "1299.00"}}
    listing.save()
    record = emu_record(emulator, listing.reverb_id)
    record["price"] = Decimal("1400.00")
    emulator.store.touch(record)
    from backoffice.sync.runner import sync_resource

    sync_resource(account, "listings")
    page = admin_client.get(reverse("admin:listings_listing_change", args=[listing.pk])).content.decode()
    assert "Conflict" in page and "900.00" in page and "1400.00" in page
    assert 'id="push-listing"' not in page
    admin_client.post(reverse("admin:listings_listing_resolve", args=[listing.pk]), {"keep": "reverb"})
    listing.refresh_from_db()
    assert listing.pending_changes == {}


def test_publish_action_confirms_then_publishes(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    draft = make(account, "AC-1")
    url = reverse(CHANGELIST)
    confirm = admin_client.post(url, {"action": "publish_drafts", "_selected_action": [draft.pk]})
    assert confirm.status_code == 200 and b"Publish these listings" in confirm.content
    assert emu_record(emulator, draft.reverb_id)["state"] == "draft"
    done = admin_client.post(
        url, {"action": "publish_drafts", "_selected_action": [draft.pk], "confirmed": "yes"}, follow=True
    )
    # Publishing is asynchronous (API-NOTES 16.1.3): "publishing", live a moment later (was "Published")
    assert any("Reverb confirms in a moment" in str(m) for m in done.context["messages"])
    emulator.advance(2)
    assert emu_record(emulator, draft.reverb_id)["state"] == "live"


def test_delete_live_is_refused_with_reason(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    live = make(account, "AC-2", publish=emulator)
    draft = make(account, "AC-3")
    url = reverse(CHANGELIST)
    confirm = admin_client.post(url, {"action": "delete_drafts", "_selected_action": [live.pk, draft.pk]})
    assert b"will be refused" in confirm.content
    done = admin_client.post(
        url,
        {"action": "delete_drafts", "_selected_action": [live.pk, draft.pk], "confirmed": "yes"},
        follow=True,
    )
    texts = [str(m) for m in done.context["messages"]]
    assert any("only drafts can be deleted" in t for t in texts) and any("Deleted draft" in t for t in texts)
    assert int(live.reverb_id) in emulator.store.table("listings")
    assert int(draft.reverb_id) not in emulator.store.table("listings")


def test_end_action_with_reason(admin_client: Client, account: ReverbAccount, emulator: Any) -> None:
    live = make(account, "AC-4", publish=emulator)
    admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "end_listings",
            "_selected_action": [live.pk],
            "confirmed": "yes",
            "reason": "reverb_sale",
        },
    )
    assert emu_record(emulator, live.reverb_id)["state"] == "ended"
    assert emu_record(emulator, live.reverb_id)["end_reason"] == "reverb_sale"


def test_many_listings_run_as_a_bulk_job(
    admin_client: Client, account: ReverbAccount, emulator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    drafts = [make(account, f"BULK-{i}") for i in range(7)]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST),
            {"action": "publish_drafts", "_selected_action": [d.pk for d in drafts], "confirmed": "yes"},
        )
    job = BulkJob.objects.get(kind="listings.publish")
    assert response.status_code == 302 and str(job.pk) in response["Location"]
    job.refresh_from_db()
    assert job.total == 7 and job.succeeded == 7
    emulator.advance(2)  # Reverb publishes a second after answering (API-NOTES 16.1.3)
    assert all(emu_record(emulator, d.reverb_id)["state"] == "live" for d in drafts)


def test_sale_and_bump_actions(admin_client: Client, account: ReverbAccount, emulator: Any) -> None:
    listing = make(account, "PR-1", publish=emulator)
    sale = next(s for s in emulator.store.table("sales").values() if s["kind"] == "seller")
    admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "add_to_sale",
            "_selected_action": [listing.pk],
            "confirmed": "yes",
            "sale_id": str(sale["id"]),
        },
    )
    assert int(listing.reverb_id) in sale["listing_ids"]
    admin_client.post(
        reverse(CHANGELIST),
        {"action": "set_bump_bid", "_selected_action": [listing.pk], "confirmed": "yes", "bid": "3.5"},
    )
    assert emu_record(emulator, listing.reverb_id)["bump_bid"] == pytest.approx(0.035)


def test_direct_offer_message_when_shop_lacks_it(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    listing = make(account, "PR-2", publish=emulator)
    emulator.store.direct_offers_enabled = False
    done = admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "set_direct_offer",
            "_selected_action": [listing.pk],
            "confirmed": "yes",
            "percentage": "10",
        },
        follow=True,
    )
    assert any("does not have Direct Offers" in str(m) for m in done.context["messages"])
    page = admin_client.get(reverse("admin:listings_listing_promotion", args=[listing.pk]))
    assert b"does not have Direct Offers" in page.content


@pytest.fixture
def viewer(db: Any) -> Client:
    user = User.objects.create_user("viewer", password="password", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_listing"))
    client = Client()
    client.force_login(user)
    return client


def test_viewer_sees_no_action_and_forged_posts_are_refused(
    viewer: Client, account: ReverbAccount, emulator: Any
) -> None:
    draft = make(account, "VW-1")
    page = viewer.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert (
        "action_form" not in page.context
        or page.context["action_form"] is None
        # only the read-only CSV export: nothing that changes a listing
        or [c[0] for c in page.context["action_form"].fields["action"].choices if c[0]] == ["export_csv"]
    )
    with nothing_changes(emulator, draft):
        for action in ("publish_drafts", "delete_drafts", "push_to_reverb", "end_listings", "set_bump_bid"):
            forged = viewer.post(
                reverse(CHANGELIST), {"action": action, "_selected_action": [draft.pk], "confirmed": "yes"}
            )
            assert forged.status_code == 403, action
        assert emu_record(emulator, draft.reverb_id)["state"] == "draft"
        for name in ("listings_listing_edit", "listings_listing_push", "listings_listing_promotion"):
            assert viewer.post(reverse(f"admin:{name}", args=[draft.pk])).status_code == 403
    assert viewer.get(reverse("admin:listings_listing_create")).status_code == 403
    assert viewer.get(reverse("admin:listings_listing_import")).status_code == 403


def test_publisher_only_gets_publish(account: ReverbAccount, emulator: Any) -> None:
    user = User.objects.create_user("pub", password="password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_listing", "publish_listing"]))
    client = Client()
    client.force_login(user)
    choices = dict(client.get(reverse(CHANGELIST)).context["action_form"].fields["action"].choices)
    assert "publish_drafts" in choices and "end_listings" not in choices and "delete_drafts" not in choices
    draft = make(account, "PB-1")
    with nothing_changes(emulator, draft):
        forged = client.post(
            reverse(CHANGELIST),
            {"action": "delete_drafts", "_selected_action": [draft.pk], "confirmed": "yes"},
        )
    assert forged.status_code == 403


def test_create_view(admin_client: Client, account: ReverbAccount, emulator: Any) -> None:
    url = reverse("admin:listings_listing_create")
    page = admin_client.get(url)
    assert page.status_code == 200 and "Brand New" in page.content.decode()
    refused = admin_client.post(
        url,
        {
            "account": account.pk,
            "make": "Gibson",
            "model": "SG",
            "condition": EXCELLENT,
            "price": "900",
            "offers_enabled": "on",
        },
    )
    assert refused.status_code == 200 and "sku" in refused.context["form"].errors
    done = admin_client.post(
        url,
        {
            "once_token": page.context["once_token"],  # the form's single-use token
            "account": account.pk,
            "sku": "CR-1",
            "make": "Gibson",
            "model": "SG",
            "condition": EXCELLENT,
            "price": "900",
            "offers_enabled": "on",
        },
    )
    assert done.status_code == 302
    assert Listing.objects.get(sku="CR-1").state == "draft"


def test_csv_preview_and_apply(
    admin_client: Client, account: ReverbAccount, emulator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    existing = make(account, "CSV-OLD")
    text = (
        "sku,title,make,model,condition,price,inventory,description,photos\n"
        "CSV-NEW,New one,Fender,Jazzmaster,Excellent,1500,1,Nice,https://example.com/p.jpg\n"
        f"{existing.sku},Renamed,Fender,Stratocaster,Excellent,1100,1,,\n"
        ",No sku,Fender,Mustang,Excellent,500,1,,\n"
        "CSV-BAD,Too many,Fender,Mustang,Good,500,3,,\n"
    )
    url = reverse("admin:listings_listing_import")
    preview = admin_client.post(
        url, {"account": account.pk, "file": SimpleUploadedFile("p.csv", text.encode())}
    )
    rows = {r.number: r for r in preview.context["rows"]}
    assert rows[2].outcome == "create" and rows[3].outcome == "update"
    assert rows[4].outcome == "refused" and "sku is required" in rows[4].reasons
    assert rows[5].outcome == "refused" and "Brand New" in rows[5].reasons[0]
    with django_capture_on_commit_callbacks(execute=True):
        applied = admin_client.post(
            url, {"apply": "1", "confirmed": "yes", "preview": preview.context["preview"].pk}
        )
    assert applied.status_code == 302
    job = BulkJob.objects.get(kind="listings.csv_import")
    job.refresh_from_db()
    assert job.total == 2 and job.succeeded == 2
    assert Listing.objects.get(sku="CSV-NEW").title == "New one"
    assert emu_record(emulator, existing.reverb_id)["title"] == "Renamed"
    log = SyncLogEntry.objects.filter(resource="listings.csv_import")
    assert sorted(log.values_list("sku", "status")) == [("CSV-NEW", "success"), ("CSV-OLD", "success")]


def test_vacation_page(admin_client: Client, account: ReverbAccount, emulator: Any) -> None:
    url = reverse("admin:listings_vacation")
    assert b"off" in admin_client.get(url).content
    confirm = admin_client.post(url, {"account": account.pk, "on": "1"})
    assert b"Yes, turn it on" in confirm.content and emulator.store.vacation is False
    admin_client.post(url, {"account": account.pk, "on": "1", "confirmed": "yes"})
    assert emulator.store.vacation is True
    assert b"<strong>on</strong>" in admin_client.get(url).content


def test_images_page(admin_client: Client, account: ReverbAccount, emulator: Any) -> None:
    listing = services.create_listing(account, new_listing("IM-1", photos=[]), actor=None).obj
    url = reverse("admin:listings_listing_images", args=[listing.pk])
    admin_client.post(url, {"op": "add", "url": "https://example.com/x.jpg"})
    admin_client.post(url, {"op": "add", "url": "https://example.com/y.jpg"})
    page = admin_client.get(url).content.decode()
    assert "https://example.com/x.jpg" in page and "Move up" in page
    # Deleting a photo cannot be undone: the confirmation page asks first; moving one does not.
    assert page.count('class="inline-form photo-delete"') == 2
    image_id = re.search(r'name="image_id" value="([^"]+)"', page).group(1)
    asked = admin_client.post(url, {"op": "delete", "image_id": image_id}).content.decode()
    assert "Yes, delete the photo" in asked and len(emu_record(emulator, listing.reverb_id)["photos"]) == 2
    admin_client.post(
        url, {"op": "reorder", "url": ["https://example.com/y.jpg", "https://example.com/x.jpg"]}
    )
    assert emu_record(emulator, listing.reverb_id)["photos"][0]["url"] == "https://example.com/y.jpg"


@pytest.mark.parametrize("role,offers_setting", [("Manager", True), ("Customer service", False)])
def test_an_edit_held_back_by_a_push_setting_says_so_before_and_after_saving(
    account: ReverbAccount,
    emulator: Any,
    django_capture_on_commit_callbacks: Any,
    role: str,
    offers_setting: bool,
) -> None:
    from tests.orders.helpers import role_user

    account.auto_sync = True
    account.push_price = False
    account.save()
    listing = make(account, "ED-HELD")
    user = role_user("u", role)
    user.user_permissions.add(Permission.objects.get(codename="change_listing"))
    client = Client()
    client.force_login(user)
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    settings_url = reverse("admin:backoffice_reverbaccount_change", args=[account.pk])
    form = client.get(url).content.decode()
    assert "not sent to Reverb" in form and "this account does not push prices" in form
    assert (settings_url in form) is offers_setting
    with nothing_changes(emulator), django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, edit_data(listing, price="555.00"), follow=True)
    page = response.content.decode()
    assert "Saved here, not sent to Reverb: this account does not push prices." in page
    assert (f'<a href="{settings_url}">Change the push settings</a>' in page) is offers_setting
    assert not BulkJob.objects.filter(kind="listings.push").exists()  # no job that "succeeds" sending nothing
