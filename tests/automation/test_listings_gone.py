"""A listing written sold or ended makes the plans for its offers stale (the pull's rows_written hook); with
no plan waiting, as on a first pull or in a shop without rules, a page costs one cheap question, not the
UPDATE through two joins that took Django milliseconds to build on every page of a pull."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.models import Mode, PlannedAction
from automation.offers import listings_gone
from tests.factories import AccountFactory, ListingFactory, NegotiationFactory

pytestmark = pytest.mark.django_db


def test_with_no_plan_waiting_a_page_of_gone_listings_sends_no_update() -> None:
    account = AccountFactory()
    sold = ListingFactory(account=account, state="sold")
    with CaptureQueriesContext(connection) as queries:
        assert listings_gone(account, [sold.reverb_id]) == 0
    assert len(queries) == 1 and not queries[0]["sql"].startswith("UPDATE")


def test_a_waiting_plan_on_a_gone_listing_goes_stale_and_one_on_a_live_listing_stays() -> None:
    account, other_shop = AccountFactory(), AccountFactory()
    sold = ListingFactory(account=account, state="sold")
    live = ListingFactory(account=account, state="live", inventory=2)

    def plan(listing, shop=account) -> PlannedAction:
        negotiation = NegotiationFactory(account=shop, state="active", listing_reverb_id=listing.reverb_id)
        return PlannedAction.objects.create(
            account=shop, negotiation=negotiation, offer_number=1, verb="decline", reason="r", mode=Mode.PLAN
        )

    gone, kept, elsewhere = plan(sold), plan(live), plan(sold, shop=other_shop)
    assert listings_gone(account, [sold.reverb_id, live.reverb_id]) == 1
    statuses = dict(PlannedAction.objects.values_list("pk", "status"))
    assert statuses == {gone.pk: "stale", kept.pk: "planned", elsewhere.pk: "planned"}
