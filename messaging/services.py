"""Every change sent to Reverb about offers and conversations: accept, decline, counter, reply, mark read.

An offer answer (a person's, a rule's or an approval's) is one writer at a time per listing: it holds the
listing's offer claim (`claimed`) for the whole call, then re-checks at send time, after the claim, from
a fresh read of the listing on Reverb (and of the offer itself when the caller says which offer it decided
on, `expect`): the listing must still be live with stock and the offer unchanged. After an accept the
listing is read again, so its sale reaches the mirror (and automation marks the listing's other plans
stale) before the next answer on it starts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from backoffice import locks
from backoffice.actions import ActionError, Actor, Done, Push, Refused, write_back
from backoffice.reverb.errors import ReverbError

from .models import Conversation, Negotiation, OfferPolicy

if TYPE_CHECKING:
    from backoffice.models import BulkJob, ReverbAccount
    from backoffice.reverb.client import ReverbClient

NO_LIST_PRICE = "The listing's price is unknown here, so the offer floor cannot be checked: re-sync listings."
BUSY = "Another answer to an offer on this listing is being sent: nothing sent; try again in a moment."
LISTING_GONE = (
    "The listing is no longer live with stock (sold or ended): this offer is stale and is not answered."
)


def list_price(negotiation: Negotiation) -> Decimal | None:
    listing = negotiation.listing
    return listing.price if listing is not None else None


def offer_floor(negotiation: Negotiation) -> Decimal | None:
    """The account's floor for this offer's listing, or None (no policy, or no known list price)."""
    policy = OfferPolicy.objects.filter(account=negotiation.account).first()
    return policy.floor_for(list_price(negotiation)) if policy else None


def _floor_set(negotiation: Negotiation) -> bool:
    return OfferPolicy.objects.filter(account=negotiation.account, floor_percent__isnull=False).exists()


def listing_gone(negotiation: Negotiation) -> bool:
    """The offer's listing, as the mirror has it, is no longer live with stock (sold, ended, a draft)."""
    listing = negotiation.listing
    return listing is not None and (listing.state != "live" or listing.inventory == 0)


def respond_refusal(negotiation: Negotiation, verb: str = "answered") -> str:
    """Why this offer cannot be accepted, declined or countered now ('' when it can); `verb` words it."""
    if negotiation.state != "active":
        return f"This offer is {negotiation.state or 'no longer active'} and can no longer be {verb}."
    if not negotiation.actionable:
        return f"It is the buyer's turn (your counter-offer awaits their answer); it cannot be {verb}."
    if listing_gone(negotiation):
        return LISTING_GONE
    return ""


@dataclass(frozen=True)
class OfferSeen:
    """The offer an answer was decided on: a rule's plan, or the page a person confirmed. When Reverb's
    offer differs at send time (the buyer came back with another amount), nothing is sent."""

    offers_count: int
    price: Decimal | None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, negotiation: Negotiation) -> OfferSeen:
        return cls(negotiation.offers_count, negotiation.last_offered_price, negotiation.remote_updated_at)

    def changed(self, now: Negotiation) -> str:
        """How the offer moved on since ('' when it did not)."""
        if now.offers_count != self.offers_count or now.last_offered_price != self.price:
            return (
                f"The offer changed since it was decided on (offer {self.offers_count} of {self.price}, "
                f"now offer {now.offers_count} of {now.last_offered_price}): nothing sent; decide again."
            )
        if self.updated_at is not None and now.remote_updated_at != self.updated_at:
            return "The offer was updated on Reverb since it was decided on: nothing sent; decide again."
        return ""


def claim_name(negotiation: Negotiation) -> str:
    """Every answer to an offer on one listing holds this: one writer per listing's offers."""
    listing = negotiation.listing_reverb_id or f"negotiation-{negotiation.reverb_id}"
    return f"messaging.offers:{negotiation.account_id}:{listing}"


@contextmanager
def claimed(negotiation: Negotiation) -> Iterator[None]:
    """Hold the listing's offer claim (re-entrant: the services called inside hold it again); Refused
    when another answer on the listing holds it for too long."""
    with ExitStack() as stack:
        try:
            stack.enter_context(locks.hold(claim_name(negotiation)))
        except locks.Busy as exc:
            raise Refused(BUSY) from exc
        yield


def _reload(negotiation: Negotiation) -> None:
    """The negotiation and its listing as the mirror has them now (after the claim); a listing that
    arrived after the offer is linked."""
    negotiation.refresh_from_db()
    listings = Negotiation._meta.get_field("listing").related_model.objects
    if negotiation.listing_id:
        negotiation.listing = listings.filter(pk=negotiation.listing_id).first()
    elif negotiation.listing_reverb_id:
        found = listings.filter(account_id=negotiation.account_id, reverb_id=negotiation.listing_reverb_id)
        negotiation.listing = found.first()
        if negotiation.listing is not None:
            Negotiation.objects.filter(pk=negotiation.pk).update(listing=negotiation.listing)


def _reread_listing(negotiation: Negotiation, client: ReverbClient) -> None:
    """The offer's listing as Reverb has it now, written to the mirror (the seller row by SKU)."""
    key = negotiation.listing_reverb_id
    if not key:
        return
    listing = negotiation.listing
    write_back("listings", negotiation.account, [client.seller_listing(key, listing.sku if listing else "")])
    _reload(negotiation)


@contextmanager
def _answering(negotiation: Negotiation, push: Push, expect: OfferSeen | None) -> Iterator[None]:
    """Hold the claim for the block; first re-check from Reverb what the answer depends on."""
    with claimed(negotiation):
        _reload(negotiation)
        try:
            if expect is not None:
                _write_negotiation(negotiation, push.reverb)
            _reread_listing(negotiation, push.reverb)
        except ReverbError as exc:
            raise push.refuse(f"The offer could not be re-checked on Reverb ({exc}): nothing sent.") from exc
        if expect is not None and (moved := expect.changed(negotiation)):
            raise push.refuse(moved)
        yield


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
    expect: OfferSeen | None = None,
) -> Negotiation:
    push = _offer_push(negotiation, "accept", actor, job, {"message": message}, client)
    with _answering(negotiation, push, expect):
        reason = respond_refusal(negotiation, "accepted")
        if not reason and _floor_set(negotiation):
            floor = offer_floor(negotiation)
            price = negotiation.last_offered_price
            if floor is None:
                reason = NO_LIST_PRICE
            elif price is not None and price < floor:
                reason = f"The offer {price} is below this shop's floor of {floor} {negotiation.currency}."
        push.send(lambda c: c.accept_offer(negotiation.reverb_id, message or None), refusal=reason)
        _write_negotiation(negotiation, push.reverb)
        # The sale took stock: the mirror learns it before the claim goes to the next answer (if this read
        # fails, the accept stands and the next answer on the listing reads it again first).
        with suppress(ReverbError):
            _reread_listing(negotiation, push.reverb)
    return negotiation


def decline_offer(
    negotiation: Negotiation,
    *,
    actor: Actor,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
    expect: OfferSeen | None = None,
) -> Negotiation:
    push = _offer_push(negotiation, "decline", actor, job, None, client)
    with _answering(negotiation, push, expect):
        push.send(
            lambda c: c.decline_offer(negotiation.reverb_id), refusal=respond_refusal(negotiation, "declined")
        )
        return _write_negotiation(negotiation, push.reverb)


def decline_with_message(
    negotiation: Negotiation,
    *,
    actor: Actor,
    message: str,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
    expect: OfferSeen | None = None,
) -> Done:
    """Decline, then tell the buyer (Reverb's decline takes no message): in their conversation about the
    listing, else in a new one. The Done says plainly whether the message went; its audit row too."""
    with claimed(negotiation):
        decline_offer(negotiation, actor=actor, client=client, job=job, expect=expect)
    done = Done(f"Offer {negotiation.reverb_id} declined.", obj=negotiation)
    if not message.strip():
        return done
    try:
        message_buyer(negotiation, actor=actor, body=message, client=client, job=job)
    except ActionError as exc:
        done.warnings.append(f"The message to the buyer was NOT sent: {exc.message}")
    else:
        done.message += " The message was sent to the buyer."
    return done


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _seller_amounts(
    price: Decimal | str, shipping_price: Decimal | str | None, message: str
) -> tuple[Decimal | None, Decimal | None, dict[str, Any]]:
    """The seller's typed price and shipping as amounts (None when unreadable), and what the audit row
    records of them (the typed price itself when it is unreadable)."""
    value = _amount(price)
    shipping = _amount(shipping_price)
    summary = {
        "price": str(value) if value is not None else str(price),
        "shipping_price": str(shipping) if shipping is not None else None,
        "message": message,
    }
    return value, shipping, summary


def counter_offer(
    negotiation: Negotiation,
    *,
    actor: Actor,
    price: Decimal | str,
    shipping_price: Decimal | str | None = None,
    message: str = "",
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
    expect: OfferSeen | None = None,
) -> Negotiation:
    value, shipping, summary = _seller_amounts(price, shipping_price, message)
    push = _offer_push(negotiation, "counter", actor, job, summary, client)
    with _answering(negotiation, push, expect):
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
    what: str = "The counter",
) -> str:
    """Why the seller's amount would be refused: a counter's, or an offer made in a conversation."""
    listed = list_price(negotiation)
    if value is None or value <= 0:
        return f"{what} price must be more than 0."
    if shipping_price not in (None, "") and (shipping is None or shipping < 0):
        return "The shipping price must be 0 or more."
    if listed is not None and value > listed:
        return f"{what} {value} is above the listing's price {listed}."
    if _floor_set(negotiation):
        floor = offer_floor(negotiation)
        if floor is None:
            return NO_LIST_PRICE
        if value < floor:
            return f"{what} {value} is below this shop's floor of {floor} {negotiation.currency}."
    return ""


# ---- the seller's offer in a conversation about a listing (POST /conversations/{id}/offer) ----


def offer_to_make(conversation: Conversation) -> Negotiation:
    """The offer the seller would make in this conversation, as an unsaved Negotiation (its buyer, listing
    and currency), so the counters' checks and wording (`_counter_refusal`, answers.py) apply unchanged."""
    account = conversation.account
    listings = Negotiation._meta.get_field("listing").related_model.objects
    listing = (
        listings.filter(account_id=account.pk, reverb_id=conversation.listing_reverb_id).first()
        if conversation.listing_reverb_id
        else None
    )
    return Negotiation(
        account=account,
        listing=listing,
        listing_reverb_id=conversation.listing_reverb_id,
        buyer_id=conversation.other_party_id,
        buyer_name=conversation.other_party_name,
        currency=(listing.currency if listing else "") or account.currency,
    )


def open_offer(offer: Negotiation) -> Negotiation | None:
    """The mirror's active negotiation with this buyer on this listing, if any."""
    if not (offer.buyer_id and offer.listing_reverb_id):
        return None
    return Negotiation.objects.filter(
        account_id=offer.account_id,
        buyer_id=offer.buyer_id,
        listing_reverb_id=offer.listing_reverb_id,
        state="active",
        missing=False,
    ).first()


def conversation_offer_refusal(offer: Negotiation) -> str:
    """Why no offer can be made now in the conversation `offer` comes from ('' when one can), whatever the
    amount (the amount is checked as a counter's)."""
    if not offer.listing_reverb_id:
        return "This conversation is not about a listing, so there is nothing to make an offer on."
    if offer.listing is None:
        return "The listing of this conversation is not in the mirror yet: re-sync listings."
    if listing_gone(offer):
        return "The listing is no longer live with stock (sold or ended): no offer can be made on it."
    if not offer.buyer_id:
        return "Reverb did not say who this buyer is, so no offer can be made to them here."
    if open_offer(offer) is not None:
        return "There is already an open offer with this buyer on this listing: answer it on its page."
    return ""


def offer_in_conversation(
    conversation: Conversation,
    *,
    actor: Actor,
    price: Decimal | str,
    shipping_price: Decimal | str | None = None,
    message: str = "",
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Negotiation | None:
    """Send the buyer an offer in their conversation about a listing. Like a counter, it holds the listing's
    offer claim, re-reads the listing from Reverb first and checks the amount as a counter's (above 0, not
    above the list price, not below the floor). Returns the new negotiation as the mirror now has it (None
    when Reverb's answer does not carry it: the next pull of offers brings it)."""
    value, shipping, summary = _seller_amounts(price, shipping_price, message)
    summary["listing_id"] = conversation.listing_reverb_id
    push = _conversation_push(conversation, "messaging.conversation_offer", actor, job, summary, client)
    offer = offer_to_make(conversation)
    if reason := conversation_offer_refusal(offer):
        raise push.refuse(reason)
    with claimed(offer):
        try:
            listing = push.reverb.seller_listing(offer.listing_reverb_id, offer.listing.sku)
            write_back("listings", offer.account, [listing])
        except ReverbError as exc:
            raise push.refuse(
                f"The listing could not be re-checked on Reverb ({exc}): nothing sent."
            ) from exc
        offer = offer_to_make(conversation)
        reason = conversation_offer_refusal(offer) or _counter_refusal(
            offer, value, shipping_price, shipping, "The offer"
        )
        result = push.send(
            lambda c: c.conversation_offer(
                conversation.reverb_id,
                value,
                offer.currency,
                shipping_price=shipping,
                message=message or None,
            ),
            refusal=reason,
        )
    if not (isinstance(result, Mapping) and result.get("id") is not None and "state" in result):
        return None
    (key,) = write_back("negotiations", offer.account, [{"listing_id": offer.listing_reverb_id, **result}])
    return Negotiation.objects.select_related("listing").get(account_id=offer.account_id, reverb_id=key)


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


def find_conversation(account_id: int, buyer_id: str, listing_reverb_id: str) -> Conversation | None:
    """The mirror's conversation with this buyer about this listing (or about nothing, without one)."""
    if not buyer_id:
        return None
    return Conversation.objects.filter(
        account_id=account_id, listing_reverb_id=listing_reverb_id or "", other_party_id=buyer_id
    ).first()


def buyer_conversation(negotiation: Negotiation) -> Conversation | None:
    """The buyer's conversation about this offer's listing, if the mirror has one."""
    return find_conversation(negotiation.account_id, negotiation.buyer_id, negotiation.listing_reverb_id)


def write_to_buyer(
    account: ReverbAccount,
    *,
    buyer_id: str,
    listing_reverb_id: str,
    body: str,
    actor: Actor,
    about: tuple[str, str],
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Conversation | None:
    """Write to a buyer about a listing: a reply in their conversation about it, else a new conversation
    (`POST /my/conversations` with the listing and the buyer as recipient, API-NOTES 9). `about` is the
    audit row's target (the order or offer this is written from). Refused, and recorded, when the buyer is
    unknown here: never dropped without a trace. Returns the conversation as the mirror now has it."""
    conversation = find_conversation(account.pk, buyer_id, listing_reverb_id)
    if conversation is not None:
        return reply(conversation, actor=actor, body=body, client=client, job=job)
    body = body.strip()
    summary = {"body": body, "listing_id": listing_reverb_id, "recipient_id": buyer_id}
    push = Push(account, "messaging.start_conversation", about, actor, job, summary, client)
    refusal = "" if body else "The message is empty."
    if not refusal and not buyer_id:
        refusal = "The buyer is unknown here (Reverb did not say who), so no conversation can be started."
    result = push.send(
        lambda c: c.start_conversation(body, listing_id=listing_reverb_id or None, recipient_id=buyer_id),
        refusal=refusal,
    )
    if isinstance(result, Mapping) and result.get("id") is not None:
        (key,) = write_back("conversations", account, [result])
        conversation = Conversation.objects.get(account_id=account.pk, reverb_id=key)
        return _write_conversation(conversation, result, push.reverb)
    return None  # sent; an answer without the conversation: the next pull of conversations brings it


def message_buyer(
    negotiation: Negotiation,
    *,
    actor: Actor,
    body: str,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Conversation | None:
    """Write to the buyer of an offer, in their conversation about the listing or a new one."""
    return write_to_buyer(
        negotiation.account,
        buyer_id=negotiation.buyer_id,
        listing_reverb_id=negotiation.listing_reverb_id,
        body=body,
        actor=actor,
        about=("negotiation", negotiation.reverb_id),
        client=client,
        job=job,
    )


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
