"""Every change sent to Reverb about orders: ship, mark picked up, leave buyer feedback.

Each takes the acting user, refuses (recorded in the audit trail) before sending when the mirror says the
action is not allowed, sends through `audited_call`, and writes Reverb's fresh copy back to the mirror.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.cache import cache

from backoffice.actions import Refused, refuse, send, write_back
from backoffice.audit import audited_call
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import ReverbError

from .models import Order

# Reverb's documented provider list (API-NOTES 7.2); the live list comes from GET /shipping/providers.
DOCUMENTED_PROVIDERS = (
    "UPS", "USPS", "FedEx", "DHL Deutschland", "DHLExpress", "DHLGlobalMail", "DHL", "Canada Post",
    "Royal Mail", "PostNL", "Australia Post", "EMS", "La Poste", "China Post", "GLS", "Parcelforce",
    "Purolator", "Interlogistica", "Correos España", "Ukraine Post", "DPD Germany", "DPD UK", "DPD France",
    "Other",
)  # fmt: skip
PROVIDERS_CACHE_SECONDS = 3600


def shipping_providers(account: Any, client: ReverbClient | None = None) -> list[str]:
    """Reverb's provider names for this account (cached an hour); "Other" is always offered."""
    key = f"reverb:shipping-providers:{account.pk}"
    names: list[str] | None = cache.get(key)
    if names is None:
        try:
            body = (client or account.client()).shipping_providers()
        except ReverbError:
            return list(DOCUMENTED_PROVIDERS)
        rows = body.get("shipping_providers", body) if isinstance(body, dict) else body
        names = [str(r.get("name") if isinstance(r, dict) else r) for r in rows or []] or list(
            DOCUMENTED_PROVIDERS
        )
        cache.set(key, names, PROVIDERS_CACHE_SECONDS)
    if "Other" not in names:
        names = [*names, "Other"]
    return names


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
    actor: Any,
    provider: str,
    tracking_number: str,
    send_notification: bool = True,
    client: ReverbClient | None = None,
    job: Any = None,
) -> Order:
    """Mark a paid, unshipped, shipped-method order as shipped on Reverb with a tracking number."""
    account = order.account
    tracking_number = tracking_number.strip()
    provider = provider.strip()
    target = ("order", order.order_number)
    summary = {
        "provider": provider,
        "tracking_number": tracking_number,
        "send_notification": send_notification,
    }

    def no(reason: str, already_done: bool = False) -> Refused:
        return refuse(
            account=account,
            actor=actor,
            action="orders.ship",
            target=target,
            reason=reason,
            summary=summary,
            job=job,
            already_done=already_done,
        )

    reason = ship_refusal(order, tracking_number)
    if reason:
        raise no(reason, already_done=order.tracking_code == tracking_number and bool(tracking_number))
    if not tracking_number:
        raise no("A tracking number is required.")
    client = client or account.client()
    if provider not in shipping_providers(account, client):
        raise no(f"Unknown shipping provider {provider!r}: pick one of Reverb's (or Other).")
    try:
        audited_call(
            account=account,
            actor=actor,
            action="orders.ship",
            target=target,
            summary=summary,
            job=job,
            client=client,
            call=lambda c: c.ship_order(order.order_number, provider, tracking_number, send_notification),
        )
    except ReverbError as exc:
        # A lost response (the write may have happened) or a refusal because the mirror was stale: the
        # order as Reverb has it now decides. Shipped with this tracking number means done, exactly once.
        if getattr(exc, "maybe_applied", False) or exc.status in (409, 422):
            try:
                refresh_order(order, client)
            except ReverbError:
                raise exc from None
            if order.shipped_at is not None and order.tracking_code == tracking_number:
                return order
        raise
    return refresh_order(order, client)


def mark_picked_up(
    order: Order, *, actor: Any, date: datetime | None = None, client: ReverbClient | None = None
) -> Order:
    account = order.account
    target = ("order", order.order_number)
    reason = ""
    if not order.is_local_pickup:
        reason = "Only local pickup orders can be marked picked up; ship this one instead."
    elif order.status != "paid":
        reason = f"Only paid orders awaiting pickup can be marked picked up; this one is {order.status}."
    _, client = send(
        account=account,
        actor=actor,
        action="orders.mark_picked_up",
        target=target,
        refusal=reason,
        client=client,
        summary={"date": date.isoformat() if date else None},
        call=lambda c: c.mark_picked_up(order.order_number, date),
    )
    return refresh_order(order, client)


def leave_buyer_feedback(
    order: Order, *, actor: Any, rating: int, message: str, client: ReverbClient | None = None
) -> Order:
    account = order.account
    target = ("order", order.order_number)
    message = message.strip()
    summary = {"rating": rating, "message": message}
    reason = ""
    if not order.needs_feedback_for_buyer:
        reason = "Reverb does not ask for feedback on this buyer (already left, or the order is not done)."
    elif not isinstance(rating, int) or not 1 <= rating <= 5:
        reason = "The rating must be a whole number from 1 to 5."
    elif not message:
        reason = "A message is required."
    result, client = send(
        account=account,
        actor=actor,
        action="orders.leave_feedback",
        target=target,
        summary=summary,
        refusal=reason,
        client=client,
        call=lambda c: c.leave_buyer_feedback(order.order_number, rating, message),
    )
    if isinstance(result, dict) and result.get("id") is not None:
        write_back("feedback", account, [result if "role" in result else {**result, "_direction": "sent"}])
    return refresh_order(order, client)
