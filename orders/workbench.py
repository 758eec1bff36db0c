"""What the order page and the shipping queue show beyond the mirror's fields: the ship-by deadline, the
money in three lines, and the order's timeline (Reverb's events and our own staff actions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from backoffice.models import ApiCall

from .models import Order

SHIP_WITHIN_BUSINESS_DAYS = 3  # Reverb asks for tracking within 3 business days of payment


def shop_zone(account: Any) -> ZoneInfo:
    try:
        return ZoneInfo(account.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def ship_by(order: Order) -> date | None:
    """The day tracking is due. The stored deadline wins (automation/deadlines.py: business days, the
    account's holidays and time zone, filled on every sync); an order not stored yet gets 3 weekdays."""
    if order.ship_by is not None:  # the end of the due day in the shop's zone (callers select the account)
        return order.ship_by.astimezone(shop_zone(order.account)).date()
    if order.paid_at is None:
        return None
    return _unstored_due(timezone.localtime(order.paid_at).date())


def _unstored_due(paid: date) -> date:
    day, left = paid, SHIP_WITHIN_BUSINESS_DAYS
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def overdue_q(accounts: list[Any], today: date | None = None) -> Q:
    """The orders `is_overdue` says are overdue today, as a filter (the shipping queue counts them in the
    database instead of judging every row): a stored deadline before today began in its shop's zone, or,
    not stored yet, paid on or before the last day whose 3 weekdays are past."""
    today = today or timezone.localdate()
    stored = Q(pk__in=[])
    for account in accounts:
        began = datetime.combine(today, datetime.min.time(), tzinfo=shop_zone(account))
        stored |= Q(account_id=account.pk, ship_by__lt=began)
    paid = today
    while _unstored_due(paid) >= today:
        paid -= timedelta(days=1)
    after = timezone.make_aware(datetime.combine(paid + timedelta(days=1), datetime.min.time()))
    return stored | Q(ship_by__isnull=True, paid_at__lt=after)


def days_waiting(order: Order, today: date | None = None) -> int:
    if order.paid_at is None:
        return 0
    today = today or timezone.localdate()
    return max((today - timezone.localtime(order.paid_at).date()).days, 0)


def is_overdue(order: Order, today: date | None = None) -> bool:
    due = ship_by(order)
    return due is not None and (today or timezone.localdate()) > due


@dataclass
class Event:
    when: datetime | None
    what: str
    who: str = ""
    url: str = ""
    outcome: str = ""


def money(order: Order) -> list[tuple[str, Decimal | None]]:
    """(label, amount) lines: what the buyer paid, Reverb's fees, what the shop gets (when Reverb says)."""
    lines: list[tuple[str, Decimal | None]] = [
        ("Item", order.amount_product),
        ("Shipping", order.amount_shipping),
        ("Tax", order.amount_tax),
        ("Buyer paid", order.amount_total),
        ("Selling fee", -order.selling_fee if order.selling_fee is not None else None),
        ("Processing fee", -order.direct_checkout_fee if order.direct_checkout_fee is not None else None),
    ]
    if order.direct_checkout_payout is not None:
        lines.append(("Shop gets", order.direct_checkout_payout))
    return [(label, value) for label, value in lines if value is not None]


def timeline(order: Order) -> list[Event]:
    """Newest first. Queries: refunds 1, payout lines 1, conversations 1, staff actions 1."""
    from messaging.models import Conversation
    from payouts.models import PayoutLineItem
    from refunds.models import RefundRequest

    events: list[Event] = []
    if order.remote_created_at:
        events.append(Event(order.remote_created_at, "Order placed"))
    if order.paid_at:
        events.append(Event(order.paid_at, "Paid"))
    if order.shipped_at:
        tracking = " ".join(x for x in (order.shipping_provider, order.tracking_code) if x)
        events.append(Event(order.shipped_at, f"Shipped {tracking}".strip()))
    refunds = list(RefundRequest.objects.filter(order=order).order_by("pk"))
    for r in refunds:
        url = reverse("admin:refunds_refundrequest_change", args=[r.pk])
        events.append(Event(r.remote_created_at, f"Refund requested: {r.amount} {r.currency}", url=url))
        if r.state != "pending_seller_response" and r.remote_updated_at:
            events.append(Event(r.remote_updated_at, f"Refund {r.state.replace('_', ' ')}", url=url))
    lines = PayoutLineItem.objects.filter(order=order).select_related("payout")
    for li in lines:
        when = li.payout.remote_created_at if li.payout else li.remote_created_at
        url = reverse("admin:payouts_payout_change", args=[li.payout.pk]) if li.payout else ""
        what = f"Paid out {li.amount_total} {li.currency} (payout {li.payout_reverb_id})"
        events.append(Event(when, what, url=url))
    if order.listing_id and order.buyer_id:
        with_buyer = Conversation.objects.filter(listing_id=order.listing_id, other_party_id=order.buyer_id)
        for c in with_buyer:
            url = reverse("admin:messaging_conversation_change", args=[c.pk])
            events.append(Event(c.last_message_at, f"Message: {c.subject or 'conversation'}", url=url))
    keys = Q(target_type="order", target_key=order.order_number)
    if refunds:
        keys |= Q(target_type="refund_request", target_key__in=[r.reverb_id for r in refunds])
    calls = ApiCall.objects.filter(keys, account_id=order.account_id).select_related("actor")
    for call in calls:
        who = call.actor.get_username() if call.actor else "system"
        events.append(Event(call.started_at, call.action, who=who, outcome=call.get_status_display()))
    far_past = timezone.make_aware(datetime(1970, 1, 1))
    return sorted(events, key=lambda e: e.when or far_past, reverse=True)


def actions(order: Order, user: Any) -> list[tuple[str, str, str]]:
    """(label, url, refusal) for each action the user's role allows; refusal '' means it can be done now."""
    from refunds.services import refund_refusal

    from .services import feedback_refusal, picked_up_refusal, ship_refusal

    candidates = [
        ("orders.ship_order", "Ship", "admin:orders_order_ship", ship_refusal),
        ("orders.mark_picked_up", "Mark picked up", "admin:orders_order_picked_up", picked_up_refusal),
        ("refunds.request_refund", "Refund", "admin:refunds_refundrequest_new_for_order", refund_refusal),
        ("orders.leave_feedback", "Leave feedback", "admin:orders_order_feedback", feedback_refusal),
    ]
    result = []
    for perm, label, name, refusal in candidates:
        if not user.has_perm(perm):
            continue
        if label == "Mark picked up" and not order.is_local_pickup:
            continue
        if label == "Ship" and order.is_local_pickup:
            continue
        result.append((label, reverse(name, args=[order.pk]), refusal(order)))
    result.append(("Packing slip", reverse("admin:orders_order_packing_slip", args=[order.pk]), ""))
    return result


def workbench_context(order: Order, user: Any) -> dict[str, Any]:
    bundle = (
        Order.objects.filter(account_id=order.account_id, order_bundle_id=order.order_bundle_id).order_by(
            "order_number"
        )
        if order.order_bundle_id
        else [order]
    )
    return {
        "ship_by": ship_by(order),
        "overdue": is_overdue(order),
        "actions": actions(order, user),
        "address": order.shipping_address,
        "bundle": list(bundle),
        "money": money(order),
        "timeline": timeline(order),
    }
