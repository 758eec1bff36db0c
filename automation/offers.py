"""Offer rules: decide (pure), plan or send (through messaging.services, audited with the rule and its
reason), approve what was planned. See models.OfferRule for the floor/target/step semantics.

Safety: nothing runs while the account's kill switch is on; a rule never acts on a listing that is not
live (sold, ended, draft) nor on an offer that is not the seller's turn; never below the account's own
offer floor (messaging.OfferPolicy), which the services check again when sending; and never twice on the
same offer: one PlannedAction per (negotiation, offer count), enforced by a unique constraint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from backoffice.actions import ActionError
from backoffice.audit import noted
from backoffice.models import ReverbAccount
from messaging import services as offer_services
from messaging.models import Conversation, Negotiation

from .models import Mode, OfferRule, PlannedAction, rules_paused

CENT = Decimal("0.01")


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
    rule: OfferRule, offer: Decimal | None, list_price: Decimal | None, account_floor: Decimal | None
) -> Decision:
    """What `rule` does with an offer of `offer` on a listing priced `list_price`, given the account's
    floor (None: no policy). Pure: no query."""
    amounts = rule.amounts(list_price)
    if offer is None or amounts is None:
        return Decision("", None, "", "the offer or the listing's price is unknown")
    floor, target = amounts
    if account_floor is not None and account_floor > floor:
        floor = account_floor  # never below the shop's own floor
    if list_price is not None:
        target = min(target, list_price)
    target = max(target, floor)
    label = f"rule {rule.name!r}"
    if offer >= target:
        return Decision("accept", None, "", f"{label}: offer {offer} is at or above the target {target}")
    if offer < floor:
        return Decision(
            "decline", None, rule.decline_message, f"{label}: offer {offer} is below the floor {floor}"
        )
    counter = target
    if rule.step_percent and list_price is not None:
        counter = min(target, (offer + list_price * rule.step_percent / 100).quantize(CENT))
    counter = max(counter, floor)
    return Decision(
        "counter", counter, "", f"{label}: offer {offer} is between the floor {floor} and the target {target}"
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
    answered = PlannedAction.objects.filter(negotiation=OuterRef("pk"), offer_number=OuterRef("offers_count"))
    offers = (
        Negotiation.objects.filter(account=account, missing=False, state="active", actionable=True)
        .select_related("listing")
        .exclude(Exists(answered))
    )
    if keys is not None:
        offers = offers.filter(reverb_id__in=list(keys))
    offers = list(offers)
    _link_listings(account, offers)
    created = []
    for negotiation in offers:
        rule = rule_for(negotiation, rules)
        if rule is None or _skip_reason(negotiation):
            continue
        floor = offer_services.offer_floor(negotiation)
        decision = decide(rule, negotiation.last_offered_price, offer_services.list_price(negotiation), floor)
        if not decision.verb:
            continue
        action = _record(rule, negotiation, decision)
        if action is None:
            continue
        created.append(action)
        if rule.mode == Mode.ACT:
            if rules_paused(account.pk):  # the kill switch was pulled while we were running
                action.status = PlannedAction.Status.PLANNED
                action.save(update_fields=["status"])
                break
            send(action, actor=None, client=client)
    return created


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
    reason; `actor` is the approving person, None for a rule acting alone). Stale offers are not sent."""
    negotiation = action.negotiation
    negotiation.refresh_from_db()
    action.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    action.decided_at = timezone.now()
    if negotiation.offers_count != action.offer_number or not negotiation.is_open:
        action.status = PlannedAction.Status.STALE
        action.outcome = "The offer moved on (answered, countered by the buyer or expired); nothing sent."
        action.save()
        return action
    rule_name = action.rule.name if action.rule else "(deleted rule)"
    try:
        with noted(rule=rule_name, rule_id=action.rule_id, reason=action.reason):
            if action.verb == PlannedAction.Verb.ACCEPT:
                offer_services.accept_offer(negotiation, actor=actor, client=client)
            elif action.verb == PlannedAction.Verb.DECLINE:
                offer_services.decline_offer(negotiation, actor=actor, client=client)
                if action.message:
                    _tell_buyer(negotiation, action.message, actor=actor, client=client)
            else:
                offer_services.counter_offer(
                    negotiation, actor=actor, price=action.price, message=action.message, client=client
                )
    except ActionError as exc:  # refused before sending, or Reverb said no
        action.status, action.outcome = PlannedAction.Status.FAILED, exc.message
    else:
        action.status, action.outcome = PlannedAction.Status.SENT, "Sent."
    action.save()
    return action


def _tell_buyer(negotiation: Negotiation, body: str, *, actor: Any, client: Any) -> None:
    """Reverb's decline takes no message: send it in the buyer's conversation about this listing, if any."""
    conversation = Conversation.objects.filter(
        account_id=negotiation.account_id,
        listing_reverb_id=negotiation.listing_reverb_id,
        other_party_id=negotiation.buyer_id,
    ).first()
    if conversation is not None and negotiation.buyer_id:
        offer_services.reply(conversation, actor=actor, body=body, client=client)


def approve(actions: Iterable[PlannedAction], *, actor: Any) -> dict[str, int]:
    """Send each planned action (in creation order); returns counts per resulting status."""
    counts: dict[str, int] = {}
    for action in sorted(actions, key=lambda a: a.pk):
        if action.status != PlannedAction.Status.PLANNED:
            continue
        send(action, actor=actor)
        counts[action.status] = counts.get(action.status, 0) + 1
    return counts
