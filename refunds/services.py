"""Every change sent to Reverb about refunds: answer a buyer's request, start a seller-initiated refund."""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from backoffice.actions import send, write_back
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import ReverbError
from backoffice.sync.mapping import read_money
from orders.models import Order

from .models import RefundRequest

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
)
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


def seller_refunds_this_month(account: Any, now: datetime | None = None) -> int:
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


def _refresh_order(account: Any, order_number: str, client: ReverbClient) -> None:
    if order_number:
        write_back("orders", account, [client.get_order(order_number)])


def respond_to_refund(
    refund: RefundRequest,
    *,
    actor: Any,
    state: str,
    amount: Decimal | str | None = None,
    note_to_buyer: str = "",
    client: ReverbClient | None = None,
) -> RefundRequest:
    """Approve, conditionally approve (optionally with a note) or deny; the amount may be lowered, never
    raised above what is still refundable."""
    account = refund.account
    target = ("refund_request", refund.reverb_id)
    value = _decimal(amount)
    summary = {
        "state": state,
        "amount": str(value) if value is not None else None,
        "note_to_buyer": note_to_buyer,
    }
    allowed = TRANSITIONS.get(refund.state, ())
    reason = ""
    if state not in allowed:
        reason = (
            f"This refund request is {refund.state or 'in an unknown state'} and cannot become {state}."
            if refund.state in TRANSITIONS or state in RESPONSE_LABELS
            else f"Unknown response {state!r}."
        )
    elif amount not in (None, "") and value is None:
        reason = f"{amount!r} is not an amount."
    elif value is not None and state == "denied":
        reason = "A denial carries no amount."
    elif value is not None and value <= 0:
        reason = "The amount must be more than 0."
    elif value is not None:
        limit = refundable_amount(refund.order, refund)
        if limit is not None and value > limit:
            reason = f"The amount {value} is more than the refundable {limit} {refund.currency}."
    result, client = send(
        account=account,
        actor=actor,
        action="refunds.respond",
        target=target,
        summary=summary,
        refusal=reason,
        client=client,
        call=lambda c: c.respond_to_refund(
            refund.reverb_id,
            state,
            amount=value,
            currency=refund.currency or account.currency,
            note_to_buyer=note_to_buyer or None,
        ),
    )
    if not (isinstance(result, dict) and result.get("id") is not None):
        result = client.get(f"/my/refund_requests/selling/{refund.reverb_id}")
    write_back("refunds", account, [result])
    with contextlib.suppress(ReverbError):  # the refund is recorded; the order catches up at the next pull
        _refresh_order(account, refund.order_number, client)
    refund.refresh_from_db()
    return refund


def request_refund(
    order: Order,
    *,
    actor: Any,
    reason: str,
    amount: Decimal | str,
    client: ReverbClient | None = None,
) -> RefundRequest:
    """A seller-initiated refund, approved at once, in the shop's own currency."""
    account = order.account
    target = ("order", order.order_number)
    value = _decimal(amount)
    currency = account.currency
    summary = {
        "reason": reason,
        "amount": str(value) if value is not None else str(amount),
        "currency": currency,
    }
    problem = ""
    limit = refundable_amount(order)
    if order.status not in REFUNDABLE_STATUSES:
        problem = f"This order is {order.status or 'of unknown status'} and cannot be refunded."
    elif reason not in dict(REASONS):
        problem = f"Unknown reason {reason!r}."
    elif value is None or value <= 0:
        problem = "The amount must be more than 0."
    elif order.currency and order.currency != currency:
        problem = f"Refunds are in the shop currency {currency}, but this order is in {order.currency}."
    elif limit is not None and value > limit:
        problem = f"The amount {value} is more than the refundable {limit} {currency}."
    result, client = send(
        account=account,
        actor=actor,
        action="refunds.request",
        target=target,
        summary=summary,
        refusal=problem,
        client=client,
        call=lambda c: c.request_refund(order.order_number, reason, value, currency),
    )
    keys = write_back("refunds", account, [result]) if isinstance(result, dict) and result.get("id") else []
    with contextlib.suppress(ReverbError):
        _refresh_order(account, order.order_number, client)
    if keys:
        return RefundRequest.objects.get(account=account, reverb_id=keys[0])
    return RefundRequest.objects.filter(account=account, order_number=order.order_number).first()  # type: ignore[return-value]
