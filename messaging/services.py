"""Every change sent to Reverb about offers and conversations: accept, decline, counter, reply, mark read."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from backoffice.actions import send, write_back
from backoffice.reverb.client import ReverbClient

from .models import Conversation, Negotiation, OfferPolicy

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


def _turn_refusal(negotiation: Negotiation, verb: str) -> str:
    if negotiation.state != "active":
        return f"This offer is {negotiation.state or 'no longer active'} and can no longer be {verb}."
    if not negotiation.actionable:
        return f"It is the buyer's turn (your counter-offer awaits their answer); it cannot be {verb}."
    return ""


def _write_negotiation(negotiation: Negotiation, result: Any, client: ReverbClient) -> Negotiation:
    payload = client.get_negotiation(negotiation.reverb_id)
    if negotiation.listing_reverb_id and not payload.get("listing_id"):
        payload = {**payload, "listing_id": negotiation.listing_reverb_id}
    write_back("negotiations", negotiation.account, [payload])
    negotiation.refresh_from_db()
    return negotiation


def accept_offer(
    negotiation: Negotiation, *, actor: Any, message: str = "", client: ReverbClient | None = None
) -> Negotiation:
    account = negotiation.account
    target = ("negotiation", negotiation.reverb_id)
    summary = {"message": message}
    reason = _turn_refusal(negotiation, "accepted")
    if not reason and _floor_set(negotiation):
        floor = offer_floor(negotiation)
        price = negotiation.last_offered_price
        if floor is None:
            reason = (
                NO_LIST_PRICE
            )
        elif price is not None and price < floor:
            reason = f"The offer {price} is below this shop's floor of {floor} {negotiation.currency}."
    result, client = send(
        account=account,
        actor=actor,
        action="messaging.accept_offer",
        target=target,
        summary=summary,
        refusal=reason,
        client=client,
        call=lambda c: c.accept_offer(negotiation.reverb_id, message or None),
    )
    return _write_negotiation(negotiation, result, client)


def decline_offer(negotiation: Negotiation, *, actor: Any, client: ReverbClient | None = None) -> Negotiation:
    account = negotiation.account
    target = ("negotiation", negotiation.reverb_id)
    reason = _turn_refusal(negotiation, "declined")
    result, client = send(
        account=account,
        actor=actor,
        action="messaging.decline_offer",
        target=target,
        refusal=reason,
        client=client,
        call=lambda c: c.decline_offer(negotiation.reverb_id),
    )
    return _write_negotiation(negotiation, result, client)


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
    actor: Any,
    price: Decimal | str,
    shipping_price: Decimal | str | None = None,
    message: str = "",
    client: ReverbClient | None = None,
) -> Negotiation:
    account = negotiation.account
    target = ("negotiation", negotiation.reverb_id)
    value = _amount(price)
    shipping = _amount(shipping_price)
    summary = {
        "price": str(value) if value is not None else str(price),
        "shipping_price": str(shipping) if shipping is not None else None,
        "message": message,
    }
    reason = _turn_refusal(negotiation, "countered")
    listed = list_price(negotiation)
    if not reason:
        if value is None or value <= 0:
            reason = "The counter price must be more than 0."
        elif shipping_price not in (None, "") and (shipping is None or shipping < 0):
            reason = "The shipping price must be 0 or more."
        elif listed is not None and value > listed:
            reason = f"The counter {value} is above the listing's price {listed}."
        elif _floor_set(negotiation):
            floor = offer_floor(negotiation)
            if floor is None:
                reason = NO_LIST_PRICE
            elif value < floor:
                reason = f"The counter {value} is below this shop's floor of {floor} {negotiation.currency}."
    currency = negotiation.currency or account.currency
    result, client = send(
        account=account,
        actor=actor,
        action="messaging.counter_offer",
        target=target,
        summary=summary,
        refusal=reason,
        client=client,
        call=lambda c: c.counter_offer(
            negotiation.reverb_id, value, currency, shipping_price=shipping, message=message or None
        ),
    )
    return _write_negotiation(negotiation, result, client)


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


def reply(
    conversation: Conversation, *, actor: Any, body: str, client: ReverbClient | None = None
) -> Conversation:
    account = conversation.account
    target = ("conversation", conversation.reverb_id)
    body = body.strip()
    result, client = send(
        account=account,
        actor=actor,
        action="messaging.reply",
        target=target,
        summary={"body": body},
        refusal="" if body else "The message is empty.",
        client=client,
        call=lambda c: c.reply(conversation.reverb_id, body),
    )
    return _write_conversation(conversation, result, client)


def mark_read(
    conversation: Conversation, *, actor: Any, read: bool = True, client: ReverbClient | None = None
) -> Conversation:
    account = conversation.account
    target = ("conversation", conversation.reverb_id)
    result, client = send(
        account=account,
        actor=actor,
        action="messaging.mark_read",
        target=target,
        summary={"read": read},
        client=client,
        call=lambda c: c.mark_conversation_read(conversation.reverb_id, read),
    )
    return _write_conversation(conversation, result, client)
