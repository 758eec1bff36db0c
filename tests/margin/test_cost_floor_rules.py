"""A rule with a cost floor never answers below it: the decision (pure) over many offers, a counter raised to
cost + fees or a decline with the reason; through the emulator in act mode; re-decided at approval when the
cost changes; the stale-stock rule held at the cost floor."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from automation import offers, prices
from automation.models import FloorMode, Mode, OfferRule, PlannedAction, StaleStockRule
from listings.models import Listing
from payouts.fees import Rates
from payouts.margin import floor_price, margin_of
from tests.automation.test_offer_rules import COUNTER, emulator_state, new_offer

D = Decimal
RATES = Rates()
COST = D("420.00")
BREAK_EVEN = D("458.00")  # 458.00 - fees 38.00 = 420.00 (tests/margin/test_arithmetic.py)


def a_rule(**kw: Any) -> OfferRule:
    return OfferRule(**{"name": "Guitars", "floor": D("70"), "target": D("90"), **kw})


def test_an_answer_under_cost_becomes_a_counter_at_cost_plus_fees() -> None:
    decision = offers.decide(a_rule(), D("440"), D("500"), None, cost=COST, rates=RATES)
    assert (decision.verb, decision.price) == ("counter", BREAK_EVEN)  # the rule's target 450 is under cost
    assert "countered at cost 420.00 + fees (458.00), not 450.00" in decision.reason
    assert "below cost: 450.00 leaves 412.65 after fees, cost 420.00" in decision.reason
    # At the target, which is under cost: no accept, a counter at cost + fees.
    assert offers.decide(a_rule(), D("455"), D("500"), None, cost=COST, rates=RATES).price == BREAK_EVEN
    assert offers.decide(a_rule(), D("458"), D("500"), None, cost=COST, rates=RATES).verb == "accept"
    # Below the rule's floor: declined, the reason says it is below cost.
    low = offers.decide(a_rule(), D("300"), D("500"), None, cost=COST, rates=RATES)
    assert low.verb == "decline" and low.reason.startswith(
        "rule 'Guitars': below cost: 300.00 leaves 274.94 after fees, cost 420.00; offer 300 is below the"
    )


def test_may_sell_below_cost_when_told_and_unknown_cost_changes_nothing() -> None:
    told = offers.decide(a_rule(below_cost_ok=True), D("440"), D("500"), None, cost=COST, rates=RATES)
    assert (told.verb, told.price) == ("counter", D("450.00"))
    unknown = offers.decide(a_rule(), D("440"), D("500"), None, cost=None, rates=RATES)
    assert (unknown.verb, unknown.price) == ("counter", D("450.00"))


def test_cost_mode_floor_declines_below_cost_fees_and_margin() -> None:
    rule = a_rule(floor_mode=FloorMode.COST, margin_percent=D("5"))
    floor = floor_price(COST, D("5"), RATES)
    assert floor == D("484.38")
    below = offers.decide(rule, D("480"), D("500"), None, cost=COST, rates=RATES)
    assert below.verb == "decline" and "below the floor 484.38" in below.reason
    assert "floor cost 420.00 + fees + 5% margin" in below.reason
    assert offers.decide(rule, D("490"), D("500"), None, cost=COST, rates=RATES).verb == "accept"
    # The listing's own price is under cost + fees: nothing but a decline, saying so.
    under = offers.decide(a_rule(), D("380"), D("400"), None, cost=COST, rates=RATES)
    assert under.verb == "decline" and "even the list price is under cost 420.00 + fees" in under.reason


def test_cost_mode_without_a_cost_keeps_the_floor_as_set_and_says_so() -> None:
    rule = a_rule(floor_mode=FloorMode.COST, margin_percent=D("5"))
    decision = offers.decide(rule, D("80"), D("100"), None, cost=None, rates=RATES)
    assert (decision.verb, decision.price) == ("counter", D("90.00"))
    assert decision.reason == (
        "rule 'Guitars' (no cost on the listing: floor as set): offer 80 is between the floor 70.00 and the "
        "target 90.00"
    )


@pytest.mark.parametrize("mode", [FloorMode.BASIS, FloorMode.COST])
@pytest.mark.parametrize("step", [None, D("2")])
@pytest.mark.parametrize("shipping", [None, D("25")])
def test_never_answers_below_cost_whatever_the_offer(mode: str, step: Decimal | None, shipping: Any) -> None:
    rule = a_rule(floor_mode=mode, margin_percent=D("3"), step_percent=step, target=D("85"))
    least = floor_price(COST, D("0"), RATES, shipping)
    for cents in range(25000, 52000, 37):  # offers from 250.00 to 520.00
        offer = D(cents) / 100
        decision = offers.decide(rule, offer, D("520"), None, cost=COST, rates=RATES, shipping=shipping)
        sent = offer if decision.verb == "accept" else decision.price
        if decision.verb in ("accept", "counter"):
            assert sent >= least, (offer, decision)
            assert not margin_of(sent, COST, RATES, shipping).below_cost
        else:
            assert decision.verb == "decline" and decision.reason


# ---- through the rule runner and the emulator --------------------------------------------------------


def test_act_mode_counters_at_cost_plus_fees_and_reverb_gets_that(emulator, shop) -> None:
    n = new_offer(emulator, shop, "0.90")  # at the rule's target: accepted without a cost
    listing = n.listing
    cost = (listing.price * D("0.90")).quantize(D("0.01"))  # an offer at 90% leaves less than the cost
    Listing.objects.filter(pk=listing.pk).update(cost=cost)
    OfferRule.objects.create(account=shop, name="G", mode=Mode.ACT, floor=D("50"), target=D("90"))
    (action,) = offers.run(shop, [n.reverb_id])
    least = floor_price(cost, D("0"), Rates(), n.last_offered_shipping)
    assert (action.verb, action.status, action.price) == ("counter", "sent", least)
    assert "countered at cost" in action.reason and "below cost:" in action.reason
    assert emulator.requests[COUNTER] == 1
    assert emulator_state(emulator, n)["state"] == "active"
    n.refresh_from_db()
    assert n.last_offered_price == least  # what Reverb was sent


def test_a_plan_is_re_decided_at_approval_when_the_cost_changed(emulator, shop) -> None:
    n = new_offer(emulator, shop, "0.90")
    OfferRule.objects.create(account=shop, name="G", mode=Mode.PLAN, floor=D("50"), target=D("90"))
    (action,) = offers.run(shop, [n.reverb_id])
    assert action.verb == "accept"
    Listing.objects.filter(pk=n.listing_id).update(cost=n.listing.price * D("0.85"))  # now under cost
    offers.approve([action], actor=None)
    action.refresh_from_db()
    assert action.status == PlannedAction.Status.PLANNED and action.verb == "counter"
    assert "Re-decided at approval" in action.outcome and "below cost:" in action.reason
    assert emulator_state(emulator, n)["state"] == "active"  # nothing accepted


def test_stale_stock_rule_is_held_at_the_cost_floor(emulator, shop) -> None:
    listing = Listing.objects.filter(account=shop, state="live", price__gt=100).order_by("pk").first()
    Listing.objects.filter(account=shop).exclude(pk=listing.pk).update(published_at=timezone.now())
    cost = (listing.price * D("0.80")).quantize(D("0.01"))
    Listing.objects.filter(pk=listing.pk).update(published_at=timezone.now() - timedelta(days=90), cost=cost)
    from orders.models import Order

    Order.objects.filter(listing=listing).update(remote_created_at=timezone.now() - timedelta(days=91))
    rule = StaleStockRule.objects.create(
        account=shop, name="Old", mode=Mode.PLAN, days=30, percent=D("30"), floor_percent=D("50")
    )
    (change,) = prices.run_stale_stock(rule)
    least = floor_price(cost, D("0"), Rates())
    assert change.new_price == least > (listing.price * D("0.70")).quantize(D("0.01"))
    assert change.outcome == f"held at the cost floor {least} (cost {cost} + fees)"
    rule.below_cost_ok = True
    rule.save()
    PriceChange = type(change)
    PriceChange.objects.all().delete()
    (told,) = prices.run_stale_stock(rule)
    assert told.new_price == (listing.price * D("0.70")).quantize(D("0.01"))
