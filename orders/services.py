"""Every change sent to Reverb about orders: ship, mark picked up, leave buyer feedback.

Each takes the acting user, refuses (recorded in the audit trail) before sending when the verb's
`<verb>_refusal(order)` says the action is not allowed, sends through a `Push`, and writes Reverb's fresh
copy back to the mirror.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from backoffice.actions import Actor, Push, ReverbRefused, write_back
from backoffice.reverb.errors import ReverbError
from listings import reference

from .models import Order

if TYPE_CHECKING:
    from backoffice.models import BulkJob, ReverbAccount
    from backoffice.reverb.client import ReverbClient

# Reverb's documented provider list (API-NOTES 7.2); the live list comes from GET /shipping/providers.
DOCUMENTED_PROVIDERS = (
    "UPS", "USPS", "FedEx", "DHL Deutschland", "DHLExpress", "DHLGlobalMail", "DHL", "Canada Post",
    "Royal Mail", "PostNL", "Australia Post", "EMS", "La Poste", "China Post", "GLS", "Parcelforce",
    "Purolator", "Interlogistica", "Correos España", "Ukraine Post", "DPD Germany", "DPD UK", "DPD France",
    "Other",
)  # fmt: skip


def _first_list(body: Any) -> list[Any]:
    """The first list in Reverb's answer, whatever its key (the shape is not documented, API-NOTES 16.6):
    the body itself, `shipping_providers`, `providers`, or any other key holding a list."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list):
                return value
    return []


def _provider_name(row: Any) -> str:
    if isinstance(row, dict):
        row = row.get("name") or row.get("provider") or row.get("display_name") or ""
    return str(row or "").strip()


def shipping_providers(account: ReverbAccount) -> list[str]:
    """The provider names to offer: Reverb's answer, whatever list it holds, united with the documented
    names, "Other" always last. Kept with the listing forms' lists of Reverb's (listings/reference.py: stored
    per account for every process, an old copy shown while a worker reads it again, so the shipping queue
    never waits on Reverb for it; unanswered, the documented names). Only a suggestion: the ship call sends
    any name and Reverb's own answer decides, so a stale or differently shaped list never refuses one."""
    found = [name for name, _ in reference.stored_choices(account, "carriers") or []]
    names = dict.fromkeys([*found, *(p for p in DOCUMENTED_PROVIDERS if p != "Other")])
    return [*(n for n in names if n != "Other"), "Other"]


def fetch_carriers(client: ReverbClient) -> list[tuple[str, str]]:
    """Reverb's shipping providers as a stored list's choices (each name its own label)."""
    names = [n for n in (_provider_name(r) for r in _first_list(client.shipping_providers())) if n]
    return [(n, n) for n in dict.fromkeys(names)]


def refresh_order(order: Order, client: ReverbClient) -> Order:
    """Re-read the order from Reverb and write it to the mirror."""
    write_back("orders", order.account, [client.get_order(order.order_number)])
    order.refresh_from_db()
    return order


def ship_refusal(order: Order, tracking_number: str = "") -> str:
    """Why this order cannot be shipped now ('' when it can)."""
    if order.is_local_pickup:
        return "This order is for local pickup: mark it picked up instead of shipping it."
    if order.shipped_at is not None or order.status in ("shipped", "received", "picked_up"):
        if tracking_number and order.tracking_code == tracking_number:
            return f"Already shipped with tracking number {tracking_number}."
        return f"Already shipped ({order.shipping_provider} {order.tracking_code})."
    if order.status != "paid":
        return f"Only paid orders can be shipped; this order is {order.status or 'of unknown status'}."
    return ""


def ship_order(
    order: Order,
    *,
    actor: Actor,
    provider: str,
    tracking_number: str,
    send_notification: bool = True,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Order:
    """Mark a paid, unshipped, shipped-method order as shipped on Reverb with a tracking number."""
    tracking_number = tracking_number.strip()
    provider = provider.strip()
    push = Push(
        order.account,
        "orders.ship",
        ("order", order.order_number),
        actor,
        job,
        {"provider": provider, "tracking_number": tracking_number, "send_notification": send_notification},
        client,
    )
    reason = ship_refusal(order, tracking_number)
    if reason:
        raise push.refuse(
            reason, already_done=order.tracking_code == tracking_number and bool(tracking_number)
        )
    if not tracking_number:
        raise push.refuse("A tracking number is required.")
    if not provider:  # any name goes to Reverb, whose answer decides (our list may be stale)
        raise push.refuse("A shipping provider is required: pick one of Reverb's (or Other).")
    try:
        push.send(lambda c: c.ship_order(order.order_number, provider, tracking_number, send_notification))
    except ReverbRefused as exc:
        # A lost response (the write may have happened) or a refusal because the mirror was stale: the
        # order as Reverb has it now decides. Shipped with this tracking number means done, exactly once.
        if getattr(exc.error, "maybe_applied", False) or exc.error.status in (409, 422):
            try:
                refresh_order(order, push.reverb)
            except ReverbError:
                raise exc from None
            if order.shipped_at is not None and order.tracking_code == tracking_number:
                return order
        raise
    return refresh_order(order, push.reverb)


def picked_up_refusal(order: Order) -> str:
    """Why this order cannot be marked picked up now ('' when it can)."""
    if not order.is_local_pickup:
        return "Only local pickup orders can be marked picked up; ship this one instead."
    if order.status != "paid":
        return f"Only paid orders awaiting pickup can be marked picked up; this one is {order.status}."
    return ""


def mark_picked_up(
    order: Order,
    *,
    actor: Actor,
    date: datetime | None = None,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Order:
    push = Push(
        order.account,
        "orders.mark_picked_up",
        ("order", order.order_number),
        actor,
        job,
        {"date": date.isoformat() if date else None},
        client,
    )
    push.send(lambda c: c.mark_picked_up(order.order_number, date), refusal=picked_up_refusal(order))
    return refresh_order(order, push.reverb)


def feedback_refusal(order: Order) -> str:
    """Why Reverb would not take buyer feedback on this order now ('' when it would)."""
    if not order.needs_feedback_for_buyer:
        return "Reverb does not ask for feedback on this buyer (already left, or the order is not done)."
    return ""


def leave_buyer_feedback(
    order: Order,
    *,
    actor: Actor,
    rating: int,
    message: str,
    client: ReverbClient | None = None,
    job: BulkJob | None = None,
) -> Order:
    message = message.strip()
    push = Push(
        order.account,
        "orders.leave_feedback",
        ("order", order.order_number),
        actor,
        job,
        {"rating": rating, "message": message},
        client,
    )
    reason = feedback_refusal(order)
    if not reason and not (isinstance(rating, int) and 1 <= rating <= 5):
        reason = "The rating must be a whole number from 1 to 5."
    elif not reason and not message:
        reason = "A message is required."
    result = push.send(lambda c: c.leave_buyer_feedback(order.order_number, rating, message), refusal=reason)
    if isinstance(result, dict) and result.get("id") is not None:
        write_back(
            "feedback", order.account, [result if "role" in result else {**result, "_direction": "sent"}]
        )
    return refresh_order(order, push.reverb)
