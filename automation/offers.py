"""Offer rules: decide (pure), plan or send (through messaging.services, audited with the rule and its
reason), approve what was planned. See models.OfferRule for the floor/target/step semantics.

Safety: nothing runs while the account's kill switch is on, and no plan is approved then; a rule never
acts on a listing that is not live (sold, ended, draft) nor on an offer that is not the seller's turn;
never below the account's own offer floor (messaging.OfferPolicy), which the services check again when
sending; and never twice on the same offer: one PlannedAction per (negotiation, offer count), enforced by
a unique constraint.

At send time (a rule acting, or a person approving) the answer holds the listing's offer claim
(messaging.services.claimed: one answer per listing at a time) and re-checks, in this order: the kill
switch; the plan still planned; the offer it was made for (count, amount, Reverb's time) unchanged; the
rule's decision the same against the offer, price and floor of now (else the plan is re-decided in place
and waits for a new approval); then the service reads the listing and the offer from Reverb and refuses
when the listing is no longer live with stock. A plan refused because the offer or the listing moved on
is stale, never sent."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from backoffice.actions import ActionError, Refused
from backoffice.audit import noted
from backoffice.models import ReverbAccount
from messaging import services as offer_services
from messaging.models import Negotiation
from payouts import margin
from payouts.fees import Rates, account_rates

from .models import FloorMode, Mode, OfferRule, PlannedAction, rules_paused

CENT = Decimal("0.01")
KILL_SWITCH = (
    "The kill switch is on for {account}: rules are stopped and planned actions cannot be approved. "
    "Turn it off in Automation settings first."
)


class Paused(Refused):
    """The account's kill switch is on: nothing planned is sent (the plan stays planned)."""


@dataclass(frozen=True)
class Decision:
    verb: str  # PlannedAction.Verb, or "" for nothing to do
    price: Decimal | None
    message: str
    reason: str


def has_active_rules(account_id: int) -> bool:
    return OfferRule.objects.filter(account_id=account_id).exclude(
        mode=Mode.OFF
    ).exists() and not rules_paused(account_id)


def decide(
    rule: OfferRule,
    offer: Decimal | None,
    list_price: Decimal | None,
    account_floor: Decimal | None,
    cost: Decimal | None = None,
    rates: Rates | None = None,
    shipping: Decimal | None = None,
) -> Decision:
    """What `rule` does with an offer of `offer` on a listing priced `list_price`, given the account's
    floor (None: no policy) and the listing's cost (None: unknown) under the fee schedule `rates`. Pure.

    The floor (below it: decline) is the highest of the rule's, the account's and, in cost mode, cost + fees
    + the rule's margin %. Unless the rule may sell below cost, nothing is answered below cost + fees: an
    accept or a counter under it becomes a counter at it, and a listing whose list price is under it is
    declined; the reason says so ("below cost: 449.40 leaves 412.10 after fees, cost 420.00")."""
    amounts = rule.amounts(list_price)
    if offer is None or amounts is None:
        return Decision("", None, "", "the offer or the listing's price is unknown")
    rates = rates or Rates()
    floor, label = _floor(rule, amounts[0], account_floor, cost, rates, shipping)
    target = amounts[1]
    if list_price is not None:
        target = min(target, list_price)
    target = max(target, floor)
    least = rule.least_price(cost, rates, shipping)

    def below(price: Decimal) -> str:
        return margin.below_cost_reason(price, cost, rates, shipping) if cost is not None else ""

    if least is not None and list_price is not None and least.price > list_price and offer < least.price:
        why = f"{below(list_price)}: even the list price is under {least.why} ({least.price})"
        return Decision("decline", None, rule.decline_message, f"{label}: offer {offer}; {why}")
    if offer >= target and (least is None or offer >= least.price):
        return Decision("accept", None, "", f"{label}: offer {offer} is at or above the target {target}")
    if offer < floor:
        why = f"offer {offer} is below the floor {floor}"
        why = f"{below(offer)}; {why}" if below(offer) else why
        return Decision("decline", None, rule.decline_message, f"{label}: {why}")
    return _counter(rule, offer, list_price, floor, target, least, label, below)


def _floor(
    rule: OfferRule,
    floor: Decimal,
    account_floor: Decimal | None,
    cost: Decimal | None,
    rates: Rates,
    shipping: Decimal | None,
) -> tuple[Decimal, str]:
    """(the floor, how the reasons name the rule and where its floor came from): the highest of the
    rule's `floor`, the account's and the rule's floor from cost."""
    if account_floor is not None and account_floor > floor:
        floor = account_floor  # never below the shop's own floor
    label = f"rule {rule.name!r}"
    from_cost = rule.floor_from_cost(cost, rates, shipping)
    if from_cost is not None and from_cost.price > floor:
        floor = from_cost.price
        label += f" (floor {from_cost.why})"
    elif rule.floor_mode == FloorMode.COST and cost is None:
        label += " (no cost on the listing: floor as set)"
    return floor, label


def _counter(
    rule: OfferRule,
    offer: Decimal,
    list_price: Decimal | None,
    floor: Decimal,
    target: Decimal,
    least: Any,
    label: str,
    below: Callable[[Decimal], str],
) -> Decision:
    """The counter to an offer between the floor and the target (or above the target but under the least
    price): a step up from the offer, within [floor, target], never under the least price."""
    counter = target
    if rule.step_percent and list_price is not None:
        counter = min(target, (offer + list_price * rule.step_percent / 100).quantize(CENT))
    counter = max(counter, floor)
    reason = f"{label}: offer {offer} is between the floor {floor} and the target {target}"
    if offer >= target:
        reason = f"{label}: offer {offer} is at or above the target {target}"
    if least is not None and counter < least.price:
        reason += f"; countered at {least.why} ({least.price}), not {counter}: {below(counter)}"
        counter = least.price
    return Decision("counter", counter, "", reason)


def decide_now(rule: OfferRule, negotiation: Negotiation, rates: Rates) -> Decision:
    """`decide` with the offer, list price, account floor and listing cost of now (the mirror's)."""
    listing = negotiation.listing
    return decide(
        rule,
        negotiation.last_offered_price,
        offer_services.list_price(negotiation),
        offer_services.offer_floor(negotiation),
        cost=listing.cost if listing is not None else None,
        rates=rates,
        shipping=negotiation.last_offered_shipping,
    )


def rule_for(negotiation: Negotiation, rules: list[OfferRule]) -> OfferRule | None:
    """The most specific active rule: the listing's own, then its category's, then the account's."""
    listing = negotiation.listing
    if listing is None:
        return None
    for rule in rules:
        if rule.listing_id == listing.pk:
            return rule
    for rule in rules:
        if not rule.listing_id and rule.category and rule.category == listing.category:
            return rule
    for rule in rules:
        if not rule.listing_id and not rule.category:
            return rule
    return None


def _skip_reason(negotiation: Negotiation) -> str:
    listing = negotiation.listing
    if not negotiation.is_open:
        return "not the seller's turn"
    if listing is None or listing.state != "live" or listing.inventory == 0:
        return "the listing is not live (sold, ended or unknown)"
    return ""


def run(
    account: ReverbAccount, keys: Iterable[str] | None = None, *, client: Any = None
) -> list[PlannedAction]:
    """Apply the account's active rules to its open offers (the given negotiation keys, else all of them).
    Plan mode records; act mode records and sends. Returns the actions created now."""
    if rules_paused(account.pk):
        return []
    rules = list(OfferRule.objects.filter(account=account).exclude(mode=Mode.OFF).order_by("pk"))
    if not rules:
        return []
    offers = _unanswered(account, keys)
    _link_listings(account, offers)
    rates = account_rates(account.pk)
    created = []
    for negotiation in offers:
        _fresh_listing(negotiation)  # an accept earlier in this run may have sold it
        rule = rule_for(negotiation, rules)
        action = _plan_offer(rule, negotiation, rates) if rule is not None else None
        if action is None:
            continue
        created.append(action)
        if action.rule.mode == Mode.ACT:
            try:
                send(action, actor=None, client=client)
            except Paused:  # the kill switch was pulled while we were running: the rest waits for a person
                break
            except ActionError:  # the listing's claim stayed busy: this one stays planned for a person
                continue
    return created


def _unanswered(account: ReverbAccount, keys: Iterable[str] | None) -> list[Negotiation]:
    """The account's open offers (the given negotiation keys, else all) that no plan answered yet."""
    answered = PlannedAction.objects.filter(negotiation=OuterRef("pk"), offer_number=OuterRef("offers_count"))
    offers = (
        Negotiation.objects.filter(account=account, missing=False, state="active", actionable=True)
        .select_related("listing")
        .exclude(Exists(answered))
    )
    if keys is not None:
        offers = offers.filter(reverb_id__in=list(keys))
    return list(offers)


def _plan_offer(rule: OfferRule, negotiation: Negotiation, rates: Rates) -> PlannedAction | None:
    """The plan `rule` records for this offer now, or None (the offer is skipped, the rule does nothing,
    or a plan for it exists already)."""
    if _skip_reason(negotiation):
        return None
    decision = decide_now(rule, negotiation, rates)
    if not decision.verb:
        return None
    return _record(rule, negotiation, decision)


def _fresh_listing(negotiation: Negotiation) -> None:
    listing = negotiation.listing
    if listing is not None:
        try:
            listing.refresh_from_db(fields=["state", "inventory", "price", "cost"])
        except type(listing).DoesNotExist:
            negotiation.listing = None


def listings_gone(account: ReverbAccount, keys: Iterable[str]) -> int:
    """Plans for offers on these listings (just written to the mirror: a sale, an accept, an order pulled)
    go stale when the listing is no longer live with stock: they are never sent. Returns how many."""
    from listings.models import Listing

    planned = PlannedAction.objects.filter(account=account, status=PlannedAction.Status.PLANNED)
    # Mostly none is waiting (a first pull, a shop without rules): one cheap query then, instead of the
    # UPDATE through two joins that Django takes milliseconds to build, on every page of a pull.
    if not planned.exists():
        return 0
    gone = Listing.objects.filter(account=account, reverb_id__in=list(keys)).filter(
        ~Q(state="live") | Q(inventory=0)
    )
    return planned.filter(negotiation__listing_reverb_id__in=gone.values("reverb_id")).update(
        status=PlannedAction.Status.STALE,
        outcome=f"{offer_services.LISTING_GONE} Nothing sent.",
        decided_at=timezone.now(),
    )


def _link_listings(account: ReverbAccount, negotiations: list[Negotiation]) -> None:
    """Rows just pulled are linked to their listing after the whole pull; the hook runs per page, before
    that: look the listings up by key (one query) so the rule sees the listing and its price."""
    from listings.models import Listing

    unlinked = {n.listing_reverb_id for n in negotiations if n.listing is None and n.listing_reverb_id}
    if not unlinked:
        return
    found = {x.reverb_id: x for x in Listing.objects.filter(account=account, reverb_id__in=unlinked)}
    for negotiation in negotiations:
        if negotiation.listing is None and negotiation.listing_reverb_id in found:
            negotiation.listing = found[negotiation.listing_reverb_id]


def _record(rule: OfferRule, negotiation: Negotiation, decision: Decision) -> PlannedAction | None:
    """The one answer to this offer, or None when there already is one (a race: never twice)."""
    try:
        with transaction.atomic():
            return PlannedAction.objects.create(
                account_id=negotiation.account_id,
                rule=rule,
                negotiation=negotiation,
                offer_number=negotiation.offers_count,
                offer_price=negotiation.last_offered_price,
                offer_updated_at=negotiation.remote_updated_at,
                verb=decision.verb,
                price=decision.price,
                message=decision.message,
                reason=decision.reason[:500],
                mode=rule.mode,
                status=PlannedAction.Status.PLANNED,
            )
    except IntegrityError:
        return None


def send(action: PlannedAction, *, actor: Any, client: Any = None) -> PlannedAction:
    """Send a planned action through the messaging services (the audit row carries the rule and its
    reason; `actor` is the approving person, None for a rule acting alone), re-checked at send time
    under the listing's offer claim (see the module's docstring). Paused when the kill switch is on."""
    _decide(action, actor, client)
    return action


def _decide(action: PlannedAction, actor: Any, client: Any) -> bool:
    """`send`; False when the plan had been decided meanwhile (another approval, the listing sold)."""
    with offer_services.claimed(action.negotiation):
        action.refresh_from_db()
        if action.status != PlannedAction.Status.PLANNED:
            return False
        negotiation = action.negotiation
        negotiation.refresh_from_db()
        _fresh_listing(negotiation)
        if rules_paused(action.account_id):
            raise Paused(KILL_SWITCH.format(account=action.account))
        action.decided_by = actor if getattr(actor, "is_authenticated", False) else None
        action.decided_at = timezone.now()
        moved = _moved_on(action, negotiation)
        if moved:
            _close(action, PlannedAction.Status.STALE, moved)
        elif not _redecided(action, negotiation):
            _deliver(action, negotiation, actor, client)
        return True


def _moved_on(action: PlannedAction, negotiation: Negotiation) -> str:
    """Why this plan no longer fits its offer ('' when it still does), from the mirror."""
    seen = _seen(action)
    if not negotiation.is_open or offer_services.listing_gone(negotiation):
        reason = offer_services.respond_refusal(negotiation) or "The offer moved on."
        return f"{reason} Nothing sent."
    return seen.changed(negotiation)


def _seen(action: PlannedAction) -> offer_services.OfferSeen:
    return offer_services.OfferSeen(action.offer_number, action.offer_price, action.offer_updated_at)


def _redecided(action: PlannedAction, negotiation: Negotiation) -> bool:
    """The rule decides again against the offer, price and floor of now; when that differs from the plan
    (or the rule is gone or off), the plan is re-decided in place and waits for a new approval."""
    rule = action.rule
    if rule is None or rule.mode == Mode.OFF:
        _close(action, PlannedAction.Status.DISMISSED, "The rule was deleted or turned off: nothing sent.")
        return True
    now = decide_now(rule, negotiation, account_rates(action.account_id))
    if (now.verb, now.price, now.message) == (action.verb, action.price, action.message):
        return False
    if not now.verb:
        _close(action, PlannedAction.Status.STALE, f"Nothing to send any more ({now.reason}).")
        return True
    was = _wording(action.verb, action.price)
    action.verb, action.price, action.message = now.verb, now.price, now.message
    action.reason = now.reason[:500]
    action.decided_by = action.decided_at = None
    action.outcome = f"Re-decided at approval ({was} before): review and approve again. Nothing sent."
    action.save()
    return True


def _wording(verb: str, price: Decimal | None) -> str:
    return f"{verb} at {price}" if price is not None else verb


def _close(action: PlannedAction, status: str, outcome: str) -> PlannedAction:
    action.status, action.outcome = status, outcome
    action.save()
    return action


def _deliver(action: PlannedAction, negotiation: Negotiation, actor: Any, client: Any) -> None:
    rule_name = action.rule.name if action.rule else "(deleted rule)"
    outcome = "Sent."
    try:
        with noted(rule=rule_name, rule_id=action.rule_id, reason=action.reason):
            kw = {"actor": actor, "client": client, "expect": _seen(action)}
            if action.verb == PlannedAction.Verb.ACCEPT:
                offer_services.accept_offer(negotiation, **kw)
            elif action.verb == PlannedAction.Verb.DECLINE and action.message:
                outcome = offer_services.decline_with_message(negotiation, message=action.message, **kw).text
            elif action.verb == PlannedAction.Verb.DECLINE:
                offer_services.decline_offer(negotiation, **kw)
            else:
                offer_services.counter_offer(negotiation, price=action.price, message=action.message, **kw)
    except ActionError as exc:  # refused before sending, or Reverb said no
        # The service re-read the offer and its listing: when they moved on, the plan is stale.
        stale = exc.refused and bool(_moved_on(action, negotiation))
        _close(action, PlannedAction.Status.STALE if stale else PlannedAction.Status.FAILED, exc.message)
        return
    _close(action, PlannedAction.Status.SENT, outcome)


def paused_refusal(actions: Iterable[PlannedAction]) -> str:
    """Why none of these planned actions may be sent now (a kill switch is on), or ""."""
    for account_id in sorted({a.account_id for a in actions if a.status == PlannedAction.Status.PLANNED}):
        if rules_paused(account_id):
            account = ReverbAccount.objects.filter(pk=account_id).first()
            return KILL_SWITCH.format(account=account or account_id)
    return ""


def approve(actions: Iterable[PlannedAction], *, actor: Any) -> dict[str, int]:
    """Send each planned action (in creation order), each re-checked at send time; returns counts per
    resulting status. Refused (Paused, nothing more sent) while an account's kill switch is on."""
    actions = sorted(actions, key=lambda a: a.pk)
    refusal = paused_refusal(actions)
    if refusal:
        raise Paused(refusal)
    counts: dict[str, int] = {}
    for action in actions:
        if action.status != PlannedAction.Status.PLANNED:
            continue
        try:
            decided = _decide(action, actor, None)
        except Paused as exc:
            done = ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing"
            raise Paused(f"{exc.message} (Before it stopped the rest: {done}.)") from exc
        if decided:  # not one that another approval or a sale decided meanwhile
            counts[action.status] = counts.get(action.status, 0) + 1
    return counts
