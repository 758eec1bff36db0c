"""Offer rules: the decision at, between and beyond floor and target; plan records and sends nothing; act
sends once; the kill switch stops; never on a sold listing; approval sends through the services with the
rule on the audit row; the pull of offers wakes the rules."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from automation import offers
from automation.models import AutomationSettings, Mode, OfferRule, PlannedAction
from backoffice.models import ApiCall
from messaging.models import Negotiation, OfferPolicy
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db
WRITES = [
    ("POST", "/api/my/negotiations/{negotiation_id}/accept"),
    ("POST", "/api/my/negotiations/{negotiation_id}/decline"),
    ("POST", "/api/my/negotiations/{negotiation_id}/counter"),
]
COUNTER = WRITES[2]


def rule(account: Any, mode: str = Mode.PLAN, **kw: Any) -> OfferRule:
    values = {"name": "Guitars", "floor": Decimal("70"), "target": Decimal("90"), **kw}
    return OfferRule.objects.create(account=account, mode=mode, **values)


def writes(emulator: Any) -> int:
    return sum(emulator.requests[w] for w in WRITES)


def new_offer(emulator: Any, account: Any, share: str) -> Negotiation:
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    price = (Decimal(str(listing["price"])) * Decimal(share)).quantize(Decimal("0.01"))
    payload = simulate(emulator, "offer", listing_id=listing["id"], price=str(price))
    resync(account, "listings", "negotiations")
    return Negotiation.objects.select_related("listing").get(account=account, reverb_id=payload["id"])


def emulator_state(emulator: Any, negotiation: Negotiation) -> dict[str, Any]:
    return dict(emulator.store.table("negotiations")[int(negotiation.reverb_id)])


# ---- the decision (pure) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offer,verb,price",
    [
        ("95.00", "accept", None),  # above the target
        ("90.00", "accept", None),  # exactly at the target
        ("80.00", "counter", Decimal("90.00")),  # between: counter at the target
        ("70.00", "counter", Decimal("90.00")),  # exactly at the floor: not below it, so countered
        ("69.99", "decline", None),  # below the floor
    ],
)
def test_decide_at_and_around_floor_and_target(offer, verb, price):
    r = OfferRule(name="r", floor=Decimal("70"), target=Decimal("90"), decline_message="Too low, sorry")
    decision = offers.decide(r, Decimal(offer), Decimal("100.00"), None)
    assert (decision.verb, decision.price) == (verb, price)
    assert decision.message == ("Too low, sorry" if verb == "decline" else "")
    assert "Guitars" not in decision.reason and "'r'" in decision.reason


def test_decide_never_below_the_accounts_floor_and_steps():
    r = OfferRule(name="r", floor=Decimal("60"), target=Decimal("90"))
    # The shop's floor (80) is above the rule's: 75 is declined, not countered.
    assert offers.decide(r, Decimal("75"), Decimal("100"), Decimal("80")).verb == "decline"
    stepped = OfferRule(name="s", floor=Decimal("60"), target=Decimal("90"), step_percent=Decimal("5"))
    assert offers.decide(stepped, Decimal("70"), Decimal("100"), None).price == Decimal("75.00")
    assert offers.decide(stepped, Decimal("88"), Decimal("100"), None).price == Decimal("90.00")  # capped
    amount = OfferRule(name="a", basis="amount", floor=Decimal("500"), target=Decimal("650"))
    assert offers.decide(amount, Decimal("600"), Decimal("700"), None).price == Decimal("650")
    assert offers.decide(r, Decimal("80"), None, None).verb == ""  # list price unknown: nothing


# ---- plan, act, kill switch, sold ---------------------------------------------------------------------


def test_plan_mode_records_and_sends_nothing(emulator, shop):
    n = new_offer(emulator, shop, "0.80")
    rule(shop, Mode.PLAN)
    before, state = writes(emulator), emulator_state(emulator, n)
    created = offers.run(shop, [n.reverb_id])
    assert [(a.verb, a.status, a.negotiation_id) for a in created] == [("counter", "planned", n.pk)]
    assert created[0].price == (n.listing.price * Decimal("0.90")).quantize(Decimal("0.01"))
    assert writes(emulator) == before and emulator_state(emulator, n) == state
    assert offers.run(shop, [n.reverb_id]) == []  # never twice on the same offer
    assert PlannedAction.objects.count() == 1


def test_act_mode_sends_once_with_the_rule_on_the_audit_row(emulator, shop):
    n = new_offer(emulator, shop, "0.80")
    r = rule(shop, Mode.ACT)
    (action,) = offers.run(shop, [n.reverb_id])
    assert action.status == "sent" and emulator.requests[COUNTER] == 1
    assert emulator_state(emulator, n)["state"] == "active"
    n.refresh_from_db()
    assert not n.actionable and n.last_offered_price == action.price
    call = ApiCall.objects.get(action="messaging.counter_offer", target_key=n.reverb_id)
    assert call.actor is None and call.status == "success"
    assert call.request_summary["rule"] == r.name and call.request_summary["rule_id"] == r.pk
    assert "between the floor" in call.request_summary["reason"]
    assert offers.run(shop, [n.reverb_id]) == [] and emulator.requests[COUNTER] == 1


def test_act_mode_accepts_at_target_and_declines_below_floor(emulator, shop):
    rule(shop, Mode.ACT)
    at_target = new_offer(emulator, shop, "0.90")
    low = new_offer(emulator, shop, "0.50")
    done = {a.negotiation_id: a for a in offers.run(shop, [at_target.reverb_id, low.reverb_id])}
    assert done[at_target.pk].verb == "accept" and done[at_target.pk].status == "sent"
    assert done[low.pk].verb == "decline" and done[low.pk].status == "sent"
    assert emulator_state(emulator, at_target)["state"] == "accepted"
    assert emulator_state(emulator, low)["state"] == "declined"


def test_kill_switch_stops_every_rule(emulator, shop):
    n = new_offer(emulator, shop, "0.80")
    rule(shop, Mode.ACT)
    AutomationSettings.objects.create(account=shop, rules_paused=True)
    before = writes(emulator)
    assert offers.run(shop) == []
    assert writes(emulator) == before and not PlannedAction.objects.exists()
    AutomationSettings.objects.filter(account=shop).update(rules_paused=False)
    assert len(offers.run(shop, [n.reverb_id])) == 1 and writes(emulator) == before + 1


def test_kill_switch_pulled_mid_run_stops_sending(emulator, shop, monkeypatch):
    rule(shop, Mode.ACT)
    keys = [new_offer(emulator, shop, "0.80").reverb_id, new_offer(emulator, shop, "0.80").reverb_id]
    real_send = offers.send

    def send_then_pull(action, **kw):
        result = real_send(action, **kw)
        AutomationSettings.objects.update_or_create(account=shop, defaults={"rules_paused": True})
        return result

    monkeypatch.setattr(offers, "send", send_then_pull)
    before = writes(emulator)
    offers.run(shop, keys)
    assert writes(emulator) == before + 1
    assert PlannedAction.objects.filter(status="planned").count() == 1  # kept for a person to decide


def test_never_on_a_sold_or_ended_listing(emulator, shop):
    n = new_offer(emulator, shop, "0.95")
    rule(shop, Mode.ACT)
    type(n.listing).objects.filter(pk=n.listing.pk).update(state="sold_out")
    before = writes(emulator)
    assert offers.run(shop, [n.reverb_id]) == [] and writes(emulator) == before


def test_most_specific_rule_wins_and_off_rules_do_nothing(emulator, shop):
    n = new_offer(emulator, shop, "0.80")
    rule(shop, Mode.OFF, name="off", floor=Decimal("10"), target=Decimal("20"))
    assert offers.run(shop) == []
    rule(shop, Mode.PLAN, name="account-wide")
    rule(shop, Mode.PLAN, name="this listing", listing=n.listing, floor=Decimal("50"), target=Decimal("75"))
    (action,) = offers.run(shop, [n.reverb_id])
    assert action.rule.name == "this listing" and action.verb == "accept"


def test_account_floor_is_never_crossed(emulator, shop):
    n = new_offer(emulator, shop, "0.75")
    OfferPolicy.objects.update_or_create(account=shop, defaults={"floor_percent": Decimal("80")})
    rule(shop, Mode.PLAN, floor=Decimal("60"), target=Decimal("90"))
    (action,) = offers.run(shop, [n.reverb_id])
    assert action.verb == "decline" and n.last_offered_price < n.listing.price * Decimal("0.80")


# ---- approval -----------------------------------------------------------------------------------------


def test_approve_one_from_the_planned_list_sends_the_counter(emulator, shop):
    n = new_offer(emulator, shop, "0.80")
    r = rule(shop, Mode.PLAN)
    (action,) = offers.run(shop, [n.reverb_id])
    viewer = Client()
    viewer.force_login(role_user("viewer", "Viewer"))
    url = f"/admin/automation/plannedaction/{action.pk}/approve/"
    assert viewer.post(url).status_code == 403
    manager = role_user("manager", "Manager")
    client = Client()
    client.force_login(manager)
    page = client.get("/admin/automation/plannedaction/")
    assert page.status_code == 200 and "Approve all planned" in page.content.decode()
    asked = client.post(url)  # the confirmation first: what will be sent, nothing sent yet
    assert (
        asked.status_code == 200 and f"Counter at {action.price:.2f} {n.currency}" in asked.content.decode()
    )
    assert emulator.requests[COUNTER] == 0
    assert client.post(url, {"confirmed": "yes", "once_token": "t-1"}).status_code == 302
    action.refresh_from_db()
    assert action.status == "sent" and action.decided_by == manager
    assert emulator.requests[COUNTER] == 1
    last = emulator_state(emulator, n)["offers"][-1]
    assert (last["initiator"], last["price"]) == ("seller", action.price)
    call = ApiCall.objects.get(action="messaging.counter_offer")
    assert call.actor == manager and call.request_summary["rule"] == r.name
    again = client.post(url, {"confirmed": "yes", "once_token": "t-2"})
    assert again.status_code == 302 and emulator.requests[COUNTER] == 1  # not twice


def test_approve_all_and_stale_offers(emulator, shop):
    rule(shop, Mode.PLAN)
    first = new_offer(emulator, shop, "0.80")
    second = new_offer(emulator, shop, "0.50")
    offers.run(shop, [first.reverb_id, second.reverb_id])
    # A person answered the first offer meanwhile: its planned counter is stale, not sent.
    from messaging.services import decline_offer

    decline_offer(first, actor=None)
    client = Client()
    client.force_login(role_user("manager", "Manager"))
    preview = client.post("/admin/automation/plannedaction/approve-all/").content.decode()
    assert "will not be sent" in preview and "Yes, send 1 answer" in preview
    ids = re.findall(r'name="ids" value="(\d+)"', preview)
    client.post(
        "/admin/automation/plannedaction/approve-all/", {"ids": ids, "confirmed": "yes", "once_token": "t"}
    )
    statuses = dict(PlannedAction.objects.values_list("negotiation_id", "status"))
    assert statuses[first.pk] == "stale"
    assert sorted(statuses.values()) == ["sent", "stale"]


@pytest.mark.django_db(transaction=True)
def test_pulling_offers_wakes_the_rules(emulator, shop, settings):
    # Real commits: the rules run when the pulled page commits, before the pull links rows to listings.
    settings.WORKER_BACKEND = "inline"
    rule(shop, Mode.PLAN)
    n = new_offer(emulator, shop, "0.80")
    assert PlannedAction.objects.filter(negotiation=n, status="planned").count() == 1


def test_demo_rule_plans_answers_for_the_seeded_offers(emulator, shop):
    from automation.demo import setup_demo

    before = writes(emulator)
    rule_ = setup_demo(shop)
    assert setup_demo(shop) == rule_ and rule_.mode == Mode.PLAN  # idempotent
    new_offer(emulator, shop, "0.80")
    planned = offers.run(shop)
    assert planned and all(a.status == "planned" for a in planned)
    assert writes(emulator) == before
    assert AutomationSettings.objects.get(account=shop).digest_hour == 8


def test_planned_list_query_count_does_not_grow_with_rows(emulator, shop):
    rule(shop, Mode.PLAN)
    offers.run(shop)
    client = Client()
    client.force_login(role_user("manager", "Manager"))
    url = "/admin/automation/plannedaction/"
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    new_offer(emulator, shop, "0.80")
    new_offer(emulator, shop, "0.50")
    offers.run(shop)
    with CaptureQueriesContext(connection) as second:
        page = client.get(url).content.decode()
    assert page.count('class="button approve-one"') == PlannedAction.objects.filter(status="planned").count()
    assert len(second) == len(first)


def test_decline_message_goes_to_the_buyers_conversation(emulator, shop):
    from messaging.models import Conversation

    low = new_offer(emulator, shop, "0.50")
    convo = Conversation.objects.filter(account=shop).first()
    Conversation.objects.filter(pk=convo.pk).update(
        listing_reverb_id=low.listing_reverb_id, other_party_id=low.buyer_id
    )
    rule(shop, Mode.ACT, decline_message="Thanks, but that is too low for this one.")
    (action,) = offers.run(shop, [low.reverb_id])
    assert action.verb == "decline" and action.status == "sent"
    assert emulator.requests[("POST", "/api/my/conversations/{conversation_id}/messages")] == 1
    assert convo.messages.order_by("sent_at", "id").last().body == "Thanks, but that is too low for this one."
    reply_call = ApiCall.objects.get(action="messaging.reply", target_key=convo.reverb_id)
    assert reply_call.request_summary["rule"] == "Guitars"


def test_make_run_gives_the_demo_shop_a_plan_mode_rule():
    from backoffice.management.commands.run_backoffice import AFTER_EMULATOR_STEPS, Run

    run = Run(host="127.0.0.1", port=8000, emulator_port=8765, emulator_running=True)
    for _, step in AFTER_EMULATOR_STEPS:
        step(run)
    (demo_rule,) = OfferRule.objects.filter(account__name="demo")
    assert demo_rule.mode == Mode.PLAN and demo_rule.listing is None
