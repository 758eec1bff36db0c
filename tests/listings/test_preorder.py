"""Clearing a pre-order sends what Reverb documents for removing it (`lead_time: 0`), and the listing
reads back without one."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.models import ApiCall, ReverbAccount
from listings import editing, services
from listings.editing import record_edits
from tests.factories import new_listing
from tests.listings.conftest import emu_record
from tests.orders.helpers import record_bodies

pytestmark = pytest.mark.django_db
PREORDER = {"lead_time": 2, "lead_time_unit": "weeks"}


@pytest.mark.parametrize("answer_has_listing", [True, False], ids=["from-the-answer", "re-read"])
def test_clearing_a_preorder_sends_lead_time_zero_and_reverb_drops_it(
    account: ReverbAccount, emulator: Any, monkeypatch: pytest.MonkeyPatch, answer_has_listing: bool
) -> None:
    listing = services.create_listing(account, new_listing("PRE-1", preorder_info=PREORDER), actor=None).obj
    assert emu_record(emulator, listing.reverb_id)["preorder_info"] == PREORDER
    listing = services.reread(listing)
    assert editing.FIELDS["preorder_info"].remote(listing) == PREORDER

    assert record_edits(listing, {"preorder_info": None}) == ["preorder_info"]  # the form's fields emptied
    listing.save()
    sent = record_bodies(emulator, monkeypatch)
    if not answer_has_listing:  # the PUT's answer holds no listing: the push re-reads it
        monkeypatch.setattr(services, "_listing_of", lambda answer: None)
    services.push_listing(listing, actor=None)

    puts = [body for method, _, body in sent if method == "PUT"]
    assert puts == [{"preorder_info": {"lead_time": 0}}]
    assert ApiCall.objects.get(action="listings.push").request_summary == {"preorder_info": {"lead_time": 0}}
    assert emu_record(emulator, listing.reverb_id)["preorder_info"] is None
    listing.refresh_from_db()
    assert listing.pending_changes == {} and editing.FIELDS["preorder_info"].remote(listing) is None


def test_setting_a_preorder_sends_it_as_entered(account: ReverbAccount, emulator: Any) -> None:
    listing = services.create_listing(account, new_listing("PRE-2"), actor=None).obj
    record_edits(listing, {"preorder_info": {"ship_date": "2027-01-15"}})
    assert editing.put_body(listing, ["preorder_info"]) == {"preorder_info": {"ship_date": "2027-01-15"}}
