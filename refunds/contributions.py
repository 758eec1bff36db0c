"""What refunds adds to the order's page and admin (orders/slots.py), from RefundsConfig.ready()."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.safestring import SafeString

from backoffice.admin.links import EMPTY
from backoffice.admin.mirror import related_changelist_link
from orders.models import Order
from orders.slots import (
    ORDER_ACTIONS,
    ORDER_LINKS,
    ORDER_TIMELINE,
    Event,
    OrderAction,
    OrderLink,
    TimelinePart,
)

from .models import RefundRequest


def order_timeline(order: Order) -> TimelinePart:
    """The order's refund requests and their answers, and the staff actions on them (1 query)."""
    refunds = list(RefundRequest.objects.filter(order=order).order_by("pk"))
    events = []
    for r in refunds:
        url = reverse("admin:refunds_refundrequest_change", args=[r.pk])
        events.append(Event(r.remote_created_at, f"Refund requested: {r.amount} {r.currency}", url=url))
        if r.state != "pending_seller_response" and r.remote_updated_at:
            events.append(Event(r.remote_updated_at, f"Refund {r.state.replace('_', ' ')}", url=url))
    keys = Q(target_type="refund_request", target_key__in=[r.reverb_id for r in refunds]) if refunds else None
    return TimelinePart(events, keys)


@admin.display(description="Refund requests")
def refunds_link(obj: Order) -> SafeString | str:
    return related_changelist_link(RefundRequest, "order", obj, "refund requests") if obj else EMPTY


def add_all() -> None:
    from .services import refund_refusal

    ORDER_TIMELINE.add(order_timeline, key="refunds")
    ORDER_ACTIONS.add(
        OrderAction(
            30,
            "refunds.request_refund",
            "Refund",
            "admin:refunds_refundrequest_new_for_order",
            refund_refusal,
        ),
        key="refunds.refund",
    )
    ORDER_LINKS.add(OrderLink(40, refunds_link), key="refunds")
