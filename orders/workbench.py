"""What the order page and the shipping queue show beyond the mirror's fields: the ship-by deadline, the
money in three lines, and the order's timeline (Reverb's events and our own staff actions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from automation import deadlines, queues
from backoffice.models import ApiCall
from backoffice.sync.mapping import link

from .models import Order


def ship_by_at(order: Order) -> datetime | None:
    """The moment tracking is due. The stored deadline (automation/deadlines.py: business days, the
    account's holidays and time zone, expedited or not, filled on every sync); an order not stored yet
    gets the same rule without the holidays. Callers select the account."""
    if order.ship_by is not None:
        return order.ship_by
    return deadlines.ship_by(
        order.paid_at, deadlines.zone(order.account.time_zone), shipping_method=order.shipping_method
    )


def ship_by(order: Order) -> date | None:
    """The day tracking is due, in the shop's time zone."""
    due = ship_by_at(order)
    return due.astimezone(deadlines.zone(order.account.time_zone)).date() if due is not None else None


def days_waiting(order: Order, now: datetime | None = None) -> int:
    """Days since payment, counted in the shop's time zone."""
    if order.paid_at is None:
        return 0
    tz = deadlines.zone(order.account.time_zone)
    today = (now or timezone.now()).astimezone(tz).date()
    return max((today - order.paid_at.astimezone(tz).date()).days, 0)


def due_state(order: Order, now: datetime | None = None) -> str | None:
    """The one clock's word for the order's ship-by (automation/queues.py): overdue, today or later."""
    return queues.state_of(ship_by_at(order), order.account, now)


def is_overdue(order: Order, now: datetime | None = None) -> bool:
    return due_state(order, now) == deadlines.OVERDUE


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
    if user.has_perm("messaging.reply_message"):  # a delay notice, an address check: the seller writes first
        refusal = "" if order.buyer_id else "Reverb did not say who the buyer is."
        result.append(
            ("Write to the buyer", reverse("admin:messaging_conversation_write", args=[order.pk]), refusal)
        )
    result.append(("Packing slip", reverse("admin:orders_order_packing_slip", args=[order.pk]), ""))
    return result


# Reverb's label purchase for an order: only the low-trust compiled summary names this link (API-NOTES 6.4);
# no live order shows it. So this name first, else any `_links` entry with "label" in its name.
LABEL_LINK = "purchase_shipping_label"


def _web_href(links: dict[str, Any], name: str) -> str:
    """An http(s) address of link `name`: its `href`, or its `web.href` (as `contact_buyer` has it)."""
    href = link({"_links": links}, name) or link({"_links": links.get(name) or {}}, "web")
    return href if href.startswith(("https://", "http://")) else ""


def label_url(order: Order) -> str:
    """Where Reverb sells a shipping label for this order ('' when the order's payload offers none)."""
    links = order.raw.get("_links") if isinstance(order.raw, dict) else None
    if not isinstance(links, dict):
        return ""
    names = [LABEL_LINK, *sorted(n for n in links if "label" in str(n).lower() and n != LABEL_LINK)]
    return next((href for href in (_web_href(links, n) for n in names if n in links) if href), "")


def shipment(order: Order) -> dict[str, Any]:
    """The shipment as the mirror has it (a label bought on Reverb shows here after the next pull)."""
    links = order.raw.get("_links") if isinstance(order.raw, dict) else None
    return {
        "provider": order.shipping_provider,
        "tracking": order.tracking_code,
        "status": order.shipment_status,
        "shipped_at": order.shipped_at,
        "tracking_url": _web_href(links, "web_tracking") if isinstance(links, dict) else "",
        "label_url": label_url(order),
    }


def workbench_context(order: Order, user: Any) -> dict[str, Any]:
    bundle = (
        Order.objects.filter(account_id=order.account_id, order_bundle_id=order.order_bundle_id).order_by(
            "order_number"
        )
        if order.order_bundle_id
        else [order]
    )
    state = due_state(order)
    return {
        "account": order.account,  # the shop whose time zone the page's dates are read in
        "ship_by": ship_by_at(order),
        "due": state,
        "overdue": state == deadlines.OVERDUE,
        "actions": actions(order, user),
        "address": order.shipping_address,
        "bundle": list(bundle),
        "money": money(order),
        "timeline": timeline(order),
        "shipment": shipment(order),
        "can_ship": user.has_perm("orders.ship_order"),
    }
