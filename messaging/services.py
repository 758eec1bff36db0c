"""Every change sent to Reverb about offers and conversations: accept, decline, counter, reply, mark read."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from backoffice.actions import Actor, Push, write_back

from .models import Conversation, Negotiation, OfferPolicy

if TYPE_CHECKING:
    from backoffice.models import BulkJob
    from backoffice.reverb.client import ReverbClient

NO_LIST_PRICE = "The listing's price is unknown here, so the offer floor cannot be checked: re-sync listings."


def list_price(negotiation: Negotiation) -> Decimal | None:
    listing = negotiation.listing
    return listing.price if listing is not None else None


def offer_floor(negotiation: Negotiation) -> Decimal | None:
    """The account's floor for this offer's listing, or None (no policy, or no known list price)."""
    policy = OfferPolicy.objects.filter(account=negotiation.account).first()
    return policy.floor_for(list_price(negotiation)) if policy else None


def _floor_set(negotiation: Negotiation) -> bool:
    return OfferPolicy.objects.filter(account=negotiation.account, floor_percent__isnull=False).exists()


def respond_refusal(negotiation: Negotiation, verb: str = "answered") -> str:
    """Why this offer cannot be accepted, declined or countered now ('' when it can); `verb` words it."""
    if negotiation.state != "active":
        return f"This offer is {negotiation.state or 'no longer active'} and can no longer be {verb}."
    if not negotiation.actionable:
        return f"It is the buyer's turn (your counter-offer awaits their answer); it cannot be {verb}."
    return ""


def _write_negotiation(negotiation: Negotiation, client: ReverbClient) -> Negotiation:
    payload = client.get_negotiation(negotiation.reverb_id)
    if negotiation.listing_reverb_id and not payload.get("listing_id"):
        payload = {**payload, "listing_id": negotiation.listing_reverb_id}
    write_back("negotiations", negotiation.account, [payload])
    negotiation.refresh_from_db()
    return negotiation


def _offer_push(
    negotiation: Negotiation,
    verb: str,
    actor: Actor,
    job: BulkJob | None,
    summary: Mapping[str, Any] | None,
    client: ReverbClient | None,
) -> Push:
    return Push(
        negotiation.account,
        f"messaging.{verb}_offer",
        ("negotiation", negotiation.reverb_id),
        actor,
        job,
        summary,
        client,
    )


def accept_offer(
    negotiation: Negotiation,
    *,
    actor: Actor,
    message: str = "",
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Negotiation:
    push = _offer_push(negotiation, "accept", actor, job, {"message": message}, client)
    reason = respond_refusal(negotiation, "accepted")
    if not reason and _floor_set(negotiation):
        floor = offer_floor(negotiation)
        price = negotiation.last_offered_price
        if floor is None:
            reason = NO_LIST_PRICE
        elif price is not None and price < floor:
            reason = f"The offer {price} is below this shop's floor of {floor} {negotiation.currency}."
    push.send(lambda c: c.accept_offer(negotiation.reverb_id, message or None), refusal=reason)
    return _write_negotiation(negotiation, push.reverb)


def decline_offer(
    negotiation: Negotiation,
    *,
    actor: Actor,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Negotiation:
    push = _offer_push(negotiation, "decline", actor, job, None, client)
    push.send(
        lambda c: c.decline_offer(negotiation.reverb_id), refusal=respond_refusal(negotiation, "declined")
    )
    return _write_negotiation(negotiation, push.reverb)


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def counter_offer(
    negotiation: Negotiation,
    *,
    actor: Actor,
    price: Decimal | str,
    shipping_price: Decimal | str | None = None,
    message: str = "",
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Negotiation:
    value = _amount(price)
    shipping = _amount(shipping_price)
    summary = {
        "price": str(value) if value is not None else str(price),
        "shipping_price": str(shipping) if shipping is not None else None,
        "message": message,
    }
    push = _offer_push(negotiation, "counter", actor, job, summary, client)
    reason = respond_refusal(negotiation, "countered") or _counter_refusal(
        negotiation, value, shipping_price, shipping
    )
    currency = negotiation.currency or negotiation.account.currency
    push.send(
        lambda c: c.counter_offer(
            negotiation.reverb_id, value, currency, shipping_price=shipping, message=message or None
        ),
        refusal=reason,
    )
    return _write_negotiation(negotiation, push.reverb)


def _counter_refusal(
    negotiation: Negotiation,
    value: Decimal | None,
    shipping_price: Decimal | str | None,
    shipping: Decimal | None,
) -> str:
    listed = list_price(negotiation)
    if value is None or value <= 0:
        return "The counter price must be more than 0."
    if shipping_price not in (None, "") and (shipping is None or shipping < 0):
        return "The shipping price must be 0 or more."
    if listed is not None and value > listed:
        return f"The counter {value} is above the listing's price {listed}."
    if _floor_set(negotiation):
        floor = offer_floor(negotiation)
        if floor is None:
            return NO_LIST_PRICE
        if value < floor:
            return f"The counter {value} is below this shop's floor of {floor} {negotiation.currency}."
    return ""


def _write_conversation(conversation: Conversation, payload: Any, client: ReverbClient) -> Conversation:
    if not (isinstance(payload, dict) and "messages" in payload):
        payload = client.get_conversation(conversation.reverb_id)
    account = conversation.account
    write_back("conversations", account, [payload])
    messages = payload.get("messages") or []
    write_back(
        "messages",
        account,
        [m if "conversation_id" in m else {**m, "conversation_id": payload["id"]} for m in messages],
    )
    conversation.refresh_from_db()
    return conversation


def _conversation_push(
    conversation: Conversation,
    action: str,
    actor: Actor,
    job: BulkJob | None,
    summary: Mapping[str, Any],
    client: ReverbClient | None,
) -> Push:
    return Push(
        conversation.account,
        action,
        ("conversation", conversation.reverb_id),
        actor,
        job,
        summary,
        client,
    )


def reply(
    conversation: Conversation,
    *,
    actor: Actor,
    body: str,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Conversation:
    body = body.strip()
    push = _conversation_push(conversation, "messaging.reply", actor, job, {"body": body}, client)
    result = push.send(
        lambda c: c.reply(conversation.reverb_id, body), refusal="" if body else "The message is empty."
    )
    return _write_conversation(conversation, result, push.reverb)


def mark_read(
    conversation: Conversation,
    *,
    actor: Actor,
    read: bool = True,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Conversation:
    push = _conversation_push(conversation, "messaging.mark_read", actor, job, {"read": read}, client)
    result = push.send(lambda c: c.mark_conversation_read(conversation.reverb_id, read))
    return _write_conversation(conversation, result, push.reverb)
