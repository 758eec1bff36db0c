"""Publishing as live Reverb does it (API-NOTES 16.1.2-4): asynchronous publish confirmed by a re-read,
relisting a sold listing, unknown states kept, and creates Reverb refuses yet acts on."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.actions import ActionError
from backoffice.models import ReverbAccount
from backoffice.reverb.client import ReverbClient
from listings import readiness, services, tasks
from listings.models import Listing
from tests.factories import BRAND_NEW, new_listing
from tests.listings.conftest import emu_record


@pytest.fixture
def confirm_waits_on_the_emulator(settings: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The confirmation task's pause lets the emulator's clock run (Reverb publishes a second later)."""
    settings.LISTING_PUBLISH_CONFIRM_DELAY = 2.0
    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: emulator.advance(seconds))


def test_publish_is_confirmed_by_a_queued_reread(
    account: ReverbAccount,
    emulator: Any,
    confirm_waits_on_the_emulator: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    draft = services.create_listing(account, new_listing("PUB-1"), actor=None).obj
    with django_capture_on_commit_callbacks(execute=True):
        done = services.publish_listing(draft, actor=None)
    assert "Reverb confirms in a moment" in done.message and "kept as" not in done.message
    draft.refresh_from_db()
    assert draft.state == "live" and draft.last_push["status"] == "published"


def test_create_with_publish_is_confirmed_too(
    account: ReverbAccount,
    emulator: Any,
    confirm_waits_on_the_emulator: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    account.auto_publish = True
    account.save()
    with django_capture_on_commit_callbacks(execute=True):
        done = services.create_listing(account, new_listing("PUB-2"), actor=None)
    listing = Listing.objects.get(pk=done.obj.pk)
    assert listing.state == "live" and listing.last_push["status"] == "published"


def test_a_publish_that_does_not_go_live_is_recorded_failed(account: ReverbAccount, emulator: Any) -> None:
    draft = services.create_listing(account, new_listing("PUB-3"), actor=None).obj
    services.publish_listing(draft, actor=None)
    draft.refresh_from_db()
    assert draft.last_push["status"] == "publishing"
    emulator.store.table("listings")[int(draft.reverb_id)].pop("_publish", None)
    emulator.settle()
    record = emulator.store.table("listings")[int(draft.reverb_id)]
    record["state"] = "suspended"  # Reverb took it elsewhere
    emulator.store.touch(record)
    assert services.confirm_publish(draft) == "failed"
    draft.refresh_from_db()
    assert draft.last_push["status"] == "failed" and "suspended" in draft.last_push["message"]


def test_a_sold_listing_can_be_relisted(account: ReverbAccount, emulator: Any) -> None:
    listing = services.create_listing(account, new_listing("SOLD-1"), actor=None).obj
    record = emu_record(emulator, listing.reverb_id)
    record["state"] = "sold"
    emulator.store.touch(record)
    sold = services.reread(listing)
    assert sold.state == "sold" and services.publish_refusal(sold) == ""
    done = services.publish_listing(sold, actor=None)
    assert "Reverb confirms in a moment" in done.message
    emulator.advance(2)
    assert services.reread(sold).state == "live" and sold.reverb_id == done.obj.reverb_id


def test_unknown_states_are_kept_and_shown_as_they_came(
    account: ReverbAccount, emulator: Any, admin_client: Any
) -> None:
    listing = services.create_listing(account, new_listing("ODD-1"), actor=None).obj
    record = emu_record(emulator, listing.reverb_id)
    record["state"] = "pending_review"
    emulator.store.touch(record)
    assert services.reread(listing).state == "pending_review"
    assert "pending_review" in services.publish_refusal(Listing.objects.get(pk=listing.pk))
    page = admin_client.get("/admin/listings/listing/").content.decode()
    assert '<a href="?state=pending_review">pending_review</a>' in page  # the filter offers it
    assert '<td class="field-state">pending_review</td>' in page


def test_a_duplicate_sku_refusal_finds_and_links_the_existing_listing(
    account: ReverbAccount, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = services.create_listing(account, new_listing("DUP-1"), actor=None).obj
    Listing.objects.filter(pk=other.pk).delete()  # Reverb has it; the mirror does not (yet)
    real = ReverbClient.find_listing_by_sku
    lookups = iter([None])  # the first lookup misses it (a race, a lagging index)
    monkeypatch.setattr(ReverbClient, "find_listing_by_sku", lambda c, s: next(lookups, real(c, s)))
    with pytest.raises(ActionError) as info:
        services.create_listing(account, new_listing("DUP-1"), actor=None)
    assert "A listing with this SKU exists on Reverb" in info.value.message
    assert "link" in info.value.message.lower() and other.reverb_id in info.value.message
    linked = Listing.objects.get(account=account, sku="DUP-1")
    assert linked.reverb_id == other.reverb_id
    assert [r["id"] for r in emulator.store.table("listings").values() if r["sku"] == "DUP-1"] == [
        int(other.reverb_id)
    ]


def test_a_refused_create_that_left_a_draft_is_found_never_created_twice(
    account: ReverbAccount, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    account.auto_publish = True
    account.save()
    # Reverb refuses to publish for a reason the pre-publish checks do not know (here: the UPC they do
    # check, switched off), and leaves a draft behind.
    monkeypatch.setattr(readiness, "payload_gaps", lambda body: [])
    data = new_listing("UPC-1", condition={"uuid": BRAND_NEW})  # Brand New without a UPC: not publishable
    done = services.create_listing(account, data, actor=None)
    assert done.obj.state == "draft" and "refused publishing" in done.message
    again = services.create_listing(account, data, actor=None)
    assert again.obj.reverb_id == done.obj.reverb_id
    assert len([r for r in emulator.store.table("listings").values() if r["sku"] == "UPC-1"]) == 1
