"""Every change sent to Reverb about refunds: answer a buyer's request, start a seller-initiated refund."""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from backoffice.actions import Actor, Push, write_back
from backoffice.reverb.errors import ReverbError
from backoffice.sync.mapping import read_money
from orders.models import Order

from .models import RefundRequest
from .signals import return_approved

if TYPE_CHECKING:
    from backoffice.models import BulkJob, ReverbAccount
    from backoffice.reverb.client import ReverbClient

# The seller's moves (manage-refund-requests lifecycle).
TRANSITIONS = {
    "pending_seller_response": ("approved", "conditionally_approved", "denied"),
    "conditionally_approved": ("approved", "denied"),
}
RESPONSE_LABELS = {"approved": "Approve", "conditionally_approved": "Conditionally approve", "denied": "Deny"}
# Reasons for a seller-initiated refund: Reverb's documented list (reverb-refund-requests.txt).
REASONS = (
    ("buyer_change_of_heart", "Buyer changed their mind"),
    ("buyer_no_like", "Buyer did not like it"),
    ("buyer_return", "Buyer returned it"),
    ("lost_shipment", "Lost shipment"),
    ("shipping_damage", "Damaged in shipping"),
    ("sold_elsewhere", "Sold elsewhere"),
    ("item_defective", "Item defective"),
    ("other", "Other"),
    # Added by the compiled summary and EDOS's RefundReason enum (API-NOTES 8, unverified; the emulator
    # takes them).
    ("accidental_order", "Ordered by accident"),
    ("change_shipping_address", "Shipping address changed"),
    ("shipping_adjustments", "Shipping adjustment (part of the shipping back)"),
)
# Reasons about a parcel: offered once the order has shipped (ours: Reverb documents no rule by state).
AFTER_SHIPPING = ("buyer_return", "lost_shipment", "shipping_damage")
# A seller-initiated refund is sent at once, or conditionally: approved later, once the item is back (the
# lifecycle's conditionally_approved, API-NOTES 8), which only an order that shipped can be.
SELLER_STATES = {
    "approved": "Refund now",
    "conditionally_approved": "Refund once the item is back (approve it then in the refund queue)",
}
REFUNDABLE_STATUSES = ("paid", "shipped", "picked_up", "received", "partially_paid")
# Reverb charges processing fees on seller-initiated refunds beyond this many a month (API-NOTES 8).
FREE_SELLER_REFUNDS_PER_MONTH = 5


def refundable_amount(order: Order | None, refund: RefundRequest | None = None) -> Decimal | None:
    """What Reverb says may still be refunded (`fully_refundable_amount`), from the freshest copy we have."""
    for raw in (order.raw if order else None, (refund.raw or {}).get("order") if refund else None):
        if isinstance(raw, dict):
            amount, _ = read_money(raw, "fully_refundable_amount")
            if amount is not None:
                return amount
    return order.amount_total if order else None


def seller_refunds_this_month(account: ReverbAccount, now: datetime | None = None) -> int:
    now = timezone.localtime(now or timezone.now())
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return RefundRequest.objects.filter(
        account=account, initiated_by="seller", remote_created_at__gte=start
    ).count()


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _refresh_order(account: ReverbAccount, order_number: str, client: ReverbClient) -> None:
    if order_number:
        write_back("orders", account, [client.get_order(order_number)])


def respond_refusal(refund: RefundRequest, state: str = "") -> str:
    """Why this refund request cannot be answered now (with `state`, when given); '' when it can."""
    allowed = TRANSITIONS.get(refund.state, ())
    if not state:
        return "" if allowed else f"This refund request is {refund.state or 'in an unknown state'}."
    if state not in allowed:
        now = refund.state or "in an unknown state"
        if refund.state in TRANSITIONS or state in RESPONSE_LABELS:
            return f"This refund request is {now} and cannot become {state}."
        return f"Unknown response {state!r}."
    return ""


def respond_to_refund(
    refund: RefundRequest,
    *,
    actor: Actor,
    state: str,
    amount: Decimal | str | None = None,
    note_to_buyer: str = "",
    restock: bool = False,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> RefundRequest:
    """Approve, conditionally approve (optionally with a note) or deny; the amount may be lowered, never
    raised above what is still refundable. `restock` ("item returned, put it back in stock?"): once Reverb
    has the approval, the order's quantity goes back to the listing's stock (`signals.return_approved`:
    inventory's receiver); a conditional approval or a denial never restocks. The outcome is on
    `refund.restock_note`."""
    account = refund.account
    value = _decimal(amount)
    push = Push(
        account,
        "refunds.respond",
        ("refund_request", refund.reverb_id),
        actor,
        job,
        {"state": state, "amount": str(value) if value is not None else None, "note_to_buyer": note_to_buyer},
        client,
    )
    reason = respond_refusal(refund, state) or _response_amount_refusal(refund, state, amount, value)
    result = push.send(
        lambda c: c.respond_to_refund(
            refund.reverb_id,
            state,
            amount=value,
            currency=refund.currency or account.currency,
            note_to_buyer=note_to_buyer or None,
        ),
        refusal=reason,
    )
    if not (isinstance(result, dict) and result.get("id") is not None):
        result = push.reverb.get_refund_request(refund.reverb_id)
    write_back("refunds", account, [result])
    with contextlib.suppress(ReverbError):  # the refund is recorded; the order catches up at the next pull
        _refresh_order(account, refund.order_number, push.reverb)
    refund.refresh_from_db()
    refund.restock_note = ""
    if restock and state == "approved":  # inventory puts the item back (its receiver says what it did)
        answers = return_approved.send(sender=RefundRequest, refund=refund)
        refund.restock_note = " ".join(str(note) for _, note in answers if note)
    return refund


def _response_amount_refusal(
    refund: RefundRequest, state: str, amount: Decimal | str | None, value: Decimal | None
) -> str:
    if amount not in (None, "") and value is None:
        return f"{amount!r} is not an amount."
    if value is None:
        return ""
    if state == "denied":
        return "A denial carries no amount."
    if value <= 0:
        return "The amount must be more than 0."
    limit = refundable_amount(refund.order, refund)
    if limit is not None and value > limit:
        return f"The amount {value} is more than the refundable {limit} {refund.currency}."
    return ""


def refund_refusal(order: Order) -> str:
    """Why a seller-initiated refund of this order cannot be started now ('' when it can)."""
    if order.status not in REFUNDABLE_STATUSES:
        return f"This order is {order.status or 'of unknown status'} and cannot be refunded."
    return ""


def has_shipped(order: Order) -> bool:
    return order.shipped_at is not None or order.status in ("shipped", "received", "picked_up")


def reasons_for(order: Order) -> list[tuple[str, str]]:
    """The reasons that apply to this order (a parcel's only once it shipped)."""
    return [(key, label) for key, label in REASONS if key not in AFTER_SHIPPING or has_shipped(order)]


def states_for(order: Order) -> tuple[str, ...]:
    """How a seller refund of this order may be sent: at once, or also conditionally once it shipped."""
    return tuple(SELLER_STATES) if has_shipped(order) else ("approved",)


def request_refund(
    order: Order,
    *,
    actor: Actor,
    reason: str,
    amount: Decimal | str,
    state: str = "approved",
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> RefundRequest:
    """A seller-initiated refund in the shop's own currency: approved at once, or (`conditionally_approved`)
    once the item is back, answered later from the refund queue."""
    account = order.account
    value = _decimal(amount)
    currency = account.currency
    summary = {
        "reason": reason,
        "amount": str(value) if value is not None else str(amount),
        "currency": currency,
    }
    push = Push(
        account,
        "refunds.request",
        ("order", order.order_number),
        actor,
        job,
        {**summary, "state": state},
        client,
    )
    problem = refund_refusal(order) or _request_input_refusal(order, reason, value, currency, state)
    result = push.send(
        lambda c: c.request_refund(order.order_number, reason, value, currency, state=state), refusal=problem
    )
    keys = write_back("refunds", account, [result]) if isinstance(result, dict) and result.get("id") else []
    with contextlib.suppress(ReverbError):
        _refresh_order(account, order.order_number, push.reverb)
    if keys:
        return RefundRequest.objects.get(account=account, reverb_id=keys[0])
    return RefundRequest.objects.filter(account=account, order_number=order.order_number).first()  # type: ignore[return-value]


def _request_input_refusal(
    order: Order, reason: str, value: Decimal | None, currency: str, state: str = "approved"
) -> str:
    limit = refundable_amount(order)
    if reason not in dict(REASONS):
        return f"Unknown reason {reason!r}."
    if reason not in dict(reasons_for(order)):
        return f"“{dict(REASONS)[reason]}” applies once the order has shipped; this one has not."
    if state not in SELLER_STATES:
        return f"Unknown refund state {state!r}."
    if state not in states_for(order):
        return "A conditional refund waits for the item to come back: this order has not shipped."
    if value is None or value <= 0:
        return "The amount must be more than 0."
    if order.currency and order.currency != currency:
        return f"Refunds are in the shop currency {currency}, but this order is in {order.currency}."
    if limit is not None and value > limit:
        return f"The amount {value} is more than the refundable {limit} {currency}."
    return ""
