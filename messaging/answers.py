"""What an answer to an offer, or an offer made in a conversation, will send, in numbers a person checks
at a glance (amount, currency, total, percent of the list price, what the buyer offered), and why it would
be refused. Used by the offer and conversation pages' forms and the planned list's confirmation, BEFORE the
confirmation is shown; the services check again when they send (messaging/services.py), so this is the
early, friendly copy of their rules, never the only one."""

from __future__ import annotations

from decimal import Decimal

from .models import Negotiation, OfferPolicy
from .services import NO_LIST_PRICE, conversation_offer_refusal, list_price, offer_floor, respond_refusal


def money_text(amount: Decimal | None, currency: str) -> str:
    """An amount as people read it: "449.40 USD" ("unknown" when there is none)."""
    return f"{amount:.2f} {currency}".strip() if amount is not None else "unknown"


def percent_of_list(amount: Decimal | None, listed: Decimal | None) -> str:
    """'84.0 % of list price', or '' when either is unknown."""
    if amount is None or not listed:
        return ""
    return f"{(amount * 100 / listed).quantize(Decimal('0.1'))} % of list price"


def with_percent(amount: Decimal | None, n: Negotiation) -> str:
    pct = percent_of_list(amount, list_price(n))
    return money_text(amount, n.currency) + (f" ({pct})" if pct else "")


def buyer_offered(n: Negotiation) -> str:
    """The buyer's last offer: item + shipping = total, the item as a percent of the list price."""
    shipping = n.last_offered_shipping or Decimal(0)
    return (
        f"{with_percent(n.last_offered_price, n)} + shipping {money_text(shipping, n.currency)}"
        f" = {money_text(n.offered_total, n.currency)} in all"
    )


def floor_text(n: Negotiation) -> str:
    policy = OfferPolicy.objects.filter(account_id=n.account_id).first()
    if policy is None or policy.floor_percent is None:
        return "none set (Messaging › Offer policies)"
    floor = offer_floor(n)
    pct = f"{float(policy.floor_percent):g} % of list price"
    return f"{money_text(floor, n.currency)} ({pct})" if floor is not None else f"{pct} (list price unknown)"


def _floor_problem(n: Negotiation, amount: Decimal, what: str) -> str:
    has_floor = OfferPolicy.objects.filter(account_id=n.account_id, floor_percent__isnull=False).exists()
    if not has_floor:
        return ""
    floor = offer_floor(n)
    if floor is None:
        return NO_LIST_PRICE
    if amount < floor:
        return f"{what} {money_text(amount, n.currency)} is below this shop's floor of {floor_text(n)}."
    return ""


def _amount_problem(n: Negotiation, price: Decimal, what: str) -> str:
    """Why the seller's amount would be refused: more than 0, not above the list price, not below the
    floor (a counter's, and an offer made in a conversation's)."""
    listed = list_price(n)
    if price <= 0:
        return f"{what} price must be more than 0."
    if listed is not None and price > listed:
        listed_text = money_text(listed, n.currency)
        return f"{what} {money_text(price, n.currency)} is above the listing's price {listed_text}."
    return _floor_problem(n, price, what)


def counter_problem(n: Negotiation, price: Decimal) -> str:
    """Why a counter at `price` would be refused ('' when it would be sent)."""
    offered = n.last_offered_price
    if respond_refusal(n, "countered"):
        return respond_refusal(n, "countered")
    if price > 0 and offered is not None and price <= offered:
        return (
            f"The counter {money_text(price, n.currency)} is not above the buyer's offer of "
            f"{money_text(offered, n.currency)}: accept the offer instead, or counter higher."
        )
    return _amount_problem(n, price, "The counter")


def conversation_offer_problem(offer: Negotiation, price: Decimal) -> str:
    """Why an offer at `price` in a conversation would be refused ('' when it would be sent); `offer` is
    services.offer_to_make(conversation)."""
    return conversation_offer_refusal(offer) or _amount_problem(offer, price, "The offer")


def accept_problem(n: Negotiation) -> str:
    """Why accepting this offer would be refused ('' when it would be sent)."""
    reason = respond_refusal(n, "accepted")
    if reason or n.last_offered_price is None:
        return reason or "The buyer's offer amount is unknown here: re-sync offers."
    return _floor_problem(n, n.last_offered_price, "The offer")


def counter_lines(
    n: Negotiation, price: Decimal, shipping: Decimal | None, message: str
) -> list[tuple[str, str]]:
    ship = shipping if shipping is not None else n.last_offered_shipping or Decimal(0)
    return [
        *_offer_lines(n),
        ("Your counter-offer", with_percent(price, n)),
        ("Shipping", money_text(ship, n.currency)),
        ("Total the buyer would pay", money_text(price + ship, n.currency)),
        ("Message to the buyer", message or "(none)"),
    ]


def accept_lines(n: Negotiation, message: str) -> list[tuple[str, str]]:
    return [
        *_offer_lines(n),
        ("You accept: the buyer pays", money_text(n.offered_total, n.currency)),
        ("Message to the buyer", message or "(none)"),
    ]


def decline_lines(n: Negotiation, message: str) -> list[tuple[str, str]]:
    return [
        *_offer_lines(n),
        ("You decline", "the offer ends; nothing is sold"),
        (
            "Message to the buyer",
            f"{message} (in your conversation about this listing, or a new one)"
            if message
            else "(none: Reverb's decline carries no message)",
        ),
    ]


def conversation_offer_lines(
    offer: Negotiation, price: Decimal, shipping: Decimal | None, message: str
) -> list[tuple[str, str]]:
    """What an offer in a conversation sends: the amount as a percent of the list price, against the floor."""
    return [
        _listing_line(offer),
        ("To the buyer", offer.buyer_name or offer.buyer_id or "?"),
        ("Your offer", with_percent(price, offer)),
        (
            "Shipping",
            money_text(shipping, offer.currency)
            if shipping is not None
            else "the listing's own shipping rate (none sent)",
        ),
        *(
            [("Total the buyer would pay", money_text(price + shipping, offer.currency))]
            if shipping is not None
            else []
        ),
        ("Your floor", floor_text(offer)),
        ("Message to the buyer", message or "(none)"),
    ]


def _listing_line(n: Negotiation) -> tuple[str, str]:
    listing = n.listing.title if n.listing else n.listing_reverb_id
    return ("Listing", f"{listing}, list price {money_text(list_price(n), n.currency)}")


def _offer_lines(n: Negotiation) -> list[tuple[str, str]]:
    return [
        _listing_line(n),
        ("Buyer", n.buyer_name or n.buyer_id or "?"),
        ("The buyer offered", buyer_offered(n)),
        ("Your floor", floor_text(n)),
    ]
