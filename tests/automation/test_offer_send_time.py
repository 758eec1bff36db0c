"""Offer answers re-checked at send time (issue 23, "Rules"): no answer after the listing sold (an accept in
the same act-mode run, an order Reverb has and the mirror not yet, a later approval); a sold listing's plans
go stale; the kill switch blocks approvals; a plan is re-decided when the rule's answer changed meanwhile and
bound to the offer it was made for; a decline message is sent in a new conversation or said not sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from automation import offers
from automation.models import AutomationSettings, Mode, OfferRule, PlannedAction
from backoffice.actions import Refused
from backoffice.models import ApiCall
from messaging import services
from messaging.models import Conversation, Negotiation
from tests.orders.helpers import fast_client, resync, role_user, simulate

pytestmark = pytest.mark.django_db
ACCEPT = ("POST", "/api/my/negotiations/{negotiation_id}/accept")
DECLINE = ("POST", "/api/my/negotiations/{negotiation_id}/decline")
COUNTER = ("POST", "/api/my/negotiations/{negotiation_id}/counter")
START = ("POST", "/api/my/conversations")


def answers(emulator: Any) -> int:
    return sum(emulator.requests[w] for w in (ACCEPT, DECLINE, COUNTER))


def one_item_listing(emulator: Any, account: Any) -> dict[str, Any]:
    """A live listing of the emulated shop with exactly one item left, pulled into the mirror."""
    with emulator.lock:
        listing = next(
            x
            for x in emulator.store.table("listings").values()
            if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
        )
        listing["inventory"] = 1
    resync(account, "listings")
    return listing


def offer_on(
    emulator: Any, account: Any, listing: dict[str, Any], share: str, sync: bool = True
) -> Negotiation:
    price = (Decimal(str(listing["price"])) * Decimal(share)).quantize(Decimal("0.01"))
    payload = simulate(emulator, "offer", listing_id=listing["id"], price=str(price))
    if sync:
        resync(account, "negotiations")
    return Negotiation.objects.get(account=account, reverb_id=payload["id"])


def rule(account: Any, mode: str, **kw: Any) -> OfferRule:
    values = {"name": "Guitars", "floor": Decimal("70"), "target": Decimal("90"), **kw}
    return OfferRule.objects.create(account=account, mode=mode, **values)


def remote(emulator: Any, n: Negotiation) -> dict[str, Any]:
    return emulator.store.table("negotiations")[int(n.reverb_id)]


def sold_count(emulator: Any, listing: dict[str, Any]) -> int:
    return sum(1 for o in emulator.store.table("orders").values() if o.get("listing_id") == listing["id"])


# ---- no answer after the listing sold -------------------------------------------------------------------


def test_act_run_never_counters_after_its_accept_sold_the_listing(emulator, shop):
    listing = one_item_listing(emulator, shop)
    low = offer_on(emulator, shop, listing, "0.80")  # counter
    high = offer_on(emulator, shop, listing, "0.95")  # accept; newest, so answered first
    rule(shop, Mode.ACT)
    done = {a.negotiation_id: a for a in offers.run(shop, [low.reverb_id, high.reverb_id])}
    assert done[high.pk].status == "sent" and remote(emulator, high)["state"] == "accepted"
    assert low.pk not in done  # the run read the sale before deciding: nothing planned, nothing sent
    assert emulator.requests[COUNTER] == 0 and remote(emulator, low)["offers"][-1]["initiator"] == "buyer"
    low.refresh_from_db()
    assert low.listing.state == "sold" and low.listing_sold  # the offers list says "listing sold"


def test_approval_reads_the_listing_first_when_the_mirror_has_not_seen_the_sale(emulator, shop):
    listing = one_item_listing(emulator, shop)
    n = offer_on(emulator, shop, listing, "0.80")
    rule(shop, Mode.PLAN)
    (action,) = offers.run(shop, [n.reverb_id])
    simulate(emulator, "new_order", listing_id=listing["id"])  # sold on Reverb; the mirror still says live
    assert offers.approve([action], actor=role_user("m", "Manager")) == {"stale": 1}
    action.refresh_from_db()
    assert action.status == "stale" and answers(emulator) == 0
    call = ApiCall.objects.get(action="messaging.counter_offer")
    assert call.status == "refused" and "no longer live" in call.message


def test_a_pulled_sale_makes_the_listings_plans_stale(emulator, shop):
    listing = one_item_listing(emulator, shop)
    first = offer_on(emulator, shop, listing, "0.80")
    second = offer_on(emulator, shop, listing, "0.50")
    rule(shop, Mode.PLAN)
    offers.run(shop, [first.reverb_id, second.reverb_id])
    simulate(emulator, "new_order", listing_id=listing["id"])
    resync(shop, "listings")
    assert set(PlannedAction.objects.values_list("status", flat=True)) == {"stale"}
    client = Client()
    client.force_login(role_user("m", "Manager"))
    client.post("/admin/automation/plannedaction/approve-all/")
    assert answers(emulator) == 0


def test_a_person_cannot_answer_an_offer_on_a_listing_sold_meanwhile(emulator, shop):
    listing = one_item_listing(emulator, shop)
    n = offer_on(emulator, shop, listing, "0.80")
    simulate(emulator, "new_order", listing_id=listing["id"])
    for answer in (
        lambda: services.counter_offer(n, actor=None, price=n.last_offered_price + 1),
        lambda: services.accept_offer(n, actor=None),
        lambda: services.decline_offer(n, actor=None),
    ):
        with pytest.raises(Refused, match="no longer live"):
            answer()
    assert answers(emulator) == 0 and sold_count(emulator, listing) == 1


# ---- the kill switch and the backlog --------------------------------------------------------------------


def test_kill_switch_blocks_approvals(emulator, shop):
    listing = one_item_listing(emulator, shop)
    n = offer_on(emulator, shop, listing, "0.80")
    rule(shop, Mode.PLAN)
    (action,) = offers.run(shop, [n.reverb_id])
    AutomationSettings.objects.create(account=shop, rules_paused=True)
    with pytest.raises(offers.Paused, match="kill switch is on"):
        offers.approve([action], actor=None)
    client = Client()
    client.force_login(role_user("m", "Manager"))
    page = client.post(f"/admin/automation/plannedaction/{action.pk}/approve/", follow=True)
    assert "kill switch is on" in page.content.decode()
    action.refresh_from_db()
    assert action.status == "planned" and answers(emulator) == 0


def test_a_plan_is_re_decided_at_approval_when_the_rule_would_answer_otherwise(emulator, shop):
    listing = one_item_listing(emulator, shop)
    n = offer_on(emulator, shop, listing, "0.80")
    r = rule(shop, Mode.PLAN)
    (action,) = offers.run(shop, [n.reverb_id])
    assert action.verb == "counter"
    r.target = Decimal("80")  # changed while the switch was on: the old plan no longer says what it would
    r.save()
    assert offers.approve([action], actor=None) == {"planned": 1}
    action.refresh_from_db()
    assert (action.status, action.verb) == ("planned", "accept") and "Re-decided" in action.outcome
    assert answers(emulator) == 0
    assert offers.approve([action], actor=None) == {"sent": 1} and emulator.requests[ACCEPT] == 1


# ---- a plan is bound to its offer -----------------------------------------------------------------------


@pytest.mark.parametrize("mirror_knows", [False, True])
def test_an_old_plan_never_answers_the_buyers_newer_offer(emulator, shop, mirror_knows):
    listing = one_item_listing(emulator, shop)
    n = offer_on(emulator, shop, listing, "0.95")
    rule(shop, Mode.PLAN)
    (action,) = offers.run(shop, [n.reverb_id])
    assert action.verb == "accept"
    # On Reverb the seller countered (from reverb.com) and the buyer came back with a lower offer.
    fast_client(shop).counter_offer(n.reverb_id, n.last_offered_price + 1, shop.currency)
    lower = (Decimal(str(listing["price"])) * Decimal("0.75")).quantize(Decimal("0.01"))
    simulate(emulator, "counter", negotiation_id=n.reverb_id, price=str(lower))
    if mirror_knows:
        resync(shop, "negotiations")
    assert offers.approve([action], actor=None) == {"stale": 1}
    assert emulator.requests[ACCEPT] == 0 and remote(emulator, n)["state"] == "active"
    action.refresh_from_db()
    assert "changed" in action.outcome


# ---- the decline message ----------------------------------------------------------------------------------


def test_decline_message_starts_a_conversation_when_there_is_none(emulator, shop):
    listing = one_item_listing(emulator, shop)
    n = offer_on(emulator, shop, listing, "0.50")
    assert services.buyer_conversation(n) is None
    rule(shop, Mode.ACT, decline_message="Thanks, but that is too low.")
    (action,) = offers.run(shop, [n.reverb_id])
    assert action.status == "sent" and "message was sent" in action.outcome
    assert emulator.requests[START] == 1
    conversation = Conversation.objects.get(account=shop, other_party_id=n.buyer_id)
    assert conversation.messages.last().body == "Thanks, but that is too low."
    call = ApiCall.objects.get(action="messaging.start_conversation")
    assert call.status == "success" and call.request_summary["rule"] == "Guitars"


def test_a_decline_message_that_cannot_go_says_so(emulator, shop, monkeypatch):
    from backoffice.reverb.client import ReverbClient
    from backoffice.reverb.errors import ValidationError

    def refuse(self: Any, body: str, **kw: Any) -> None:
        raise ValidationError("This user cannot be messaged.", status=422)

    monkeypatch.setattr(ReverbClient, "start_conversation", refuse)
    listing = one_item_listing(emulator, shop)
    n = offer_on(emulator, shop, listing, "0.50")
    rule(shop, Mode.ACT, decline_message="Thanks, but that is too low.")
    (action,) = offers.run(shop, [n.reverb_id])
    assert remote(emulator, n)["state"] == "declined"
    assert action.status == "sent" and "message to the buyer was NOT sent" in action.outcome
    assert "cannot be messaged" in action.outcome
    call = ApiCall.objects.get(action="messaging.start_conversation")
    assert call.status == "failed" and call.request_summary["body"] == "Thanks, but that is too low."


def test_a_buyer_unknown_here_is_not_written_to_and_the_refusal_is_recorded(emulator, shop):
    listing = one_item_listing(emulator, shop)
    n = offer_on(emulator, shop, listing, "0.50")
    n.buyer_id = ""
    with pytest.raises(Refused, match="buyer is unknown here"):
        services.message_buyer(n, actor=None, body="Hello")
    assert ApiCall.objects.get(action="messaging.start_conversation").status == "refused"
    assert emulator.requests[START] == 0
