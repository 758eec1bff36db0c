"""What the order page and the shipping queue show beyond the mirror's fields: the ship-by deadline, the
money in three lines, and the order's timeline (Reverb's events and our own staff actions)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from backoffice import clock, deadlines
from backoffice.models import ApiCall
from backoffice.sync.mapping import link

from .models import Order
from .slots import ORDER_ACTIONS, ORDER_TIMELINE, Event, OrderAction


def ship_by_at(order: Order) -> datetime | None:
    """The moment tracking is due. The stored deadline (backoffice/deadlines.py: business days, the
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
    """The one clock's word for the order's ship-by (backoffice/clock.py): overdue, today or later."""
    return clock.state_of(ship_by_at(order), order.account, now)


def is_overdue(order: Order, now: datetime | None = None) -> bool:
    return due_state(order, now) == deadlines.OVERDUE


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
    """Newest first. Queries: one per app adding to the timeline (refunds, conversations, payout lines:
    orders/slots.py ORDER_TIMELINE), staff actions 1."""
    events: list[Event] = []
    if order.remote_created_at:
        events.append(Event(order.remote_created_at, "Order placed"))
    if order.paid_at:
        events.append(Event(order.paid_at, "Paid"))
    if order.shipped_at:
        tracking = " ".join(x for x in (order.shipping_provider, order.tracking_code) if x)
        events.append(Event(order.shipped_at, f"Shipped {tracking}".strip()))
    keys = Q(target_type="order", target_key=order.order_number)
    for part in (add(order) for add in ORDER_TIMELINE):
        events.extend(part.events)
        if part.audit_keys is not None:
            keys |= part.audit_keys
    calls = ApiCall.objects.filter(keys, account_id=order.account_id).select_related("actor")
    for call in calls:
        who = call.actor.get_username() if call.actor else "system"
        events.append(Event(call.started_at, call.action, who=who, outcome=call.get_status_display()))
    far_past = timezone.make_aware(datetime(1970, 1, 1))
    return sorted(events, key=lambda e: e.when or far_past, reverse=True)


def _own_actions() -> list[OrderAction]:
    from .services import feedback_refusal, picked_up_refusal, ship_refusal

    return [
        OrderAction(
            10,
            "orders.ship_order",
            "Ship",
            "admin:orders_order_ship",
            ship_refusal,
            shown=lambda order: not order.is_local_pickup,
        ),
        OrderAction(
            20,
            "orders.mark_picked_up",
            "Mark picked up",
            "admin:orders_order_picked_up",
            picked_up_refusal,
            shown=lambda order: order.is_local_pickup,
        ),
        OrderAction(
            40, "orders.leave_feedback", "Leave feedback", "admin:orders_order_feedback", feedback_refusal
        ),
        OrderAction(60, "", "Packing slip", "admin:orders_order_packing_slip", lambda order: ""),
    ]


def actions(order: Order, user: Any) -> list[tuple[str, str, str]]:
    """(label, url, refusal) for each action the user's role allows, orders' own and those the apps above
    add (ORDER_ACTIONS), by rank; refusal '' means it can be done now."""
    candidates = sorted([*_own_actions(), *ORDER_ACTIONS], key=lambda a: a.rank)
    return [
        (a.label, reverse(a.url_name, args=[order.pk]), a.refusal(order))
        for a in candidates
        if (not a.permission or user.has_perm(a.permission)) and a.shown(order)
    ]


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
