"""What the refunds app adds to the core (from RefundsConfig.ready()): its resource and the night's walk, the
inbox's refund requests, the dashboard's queue and its weekly approved refunds. What refunds adds to the
order's page and admin (orders/slots.py), from RefundsConfig.ready()."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin
from django.db.models import F, Q
from django.urls import reverse
from django.utils.safestring import SafeString

from backoffice.access import for_user
from backoffice.admin.links import EMPTY
from backoffice.admin.mirror import related_changelist_link
from backoffice.pages import inbox
from backoffice.pages.dashboard import CHARTS, QUEUES, Queue, Series
from backoffice.sync import registry
from backoffice.sync.resource import Stream
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

from . import sync
from .models import REFUNDED_STATES, RefundRequest, awaiting_shop


def refund_item(r: RefundRequest, user: Any, now: datetime) -> inbox.Item:
    can = user.has_perm("refunds.respond_refund")
    return inbox.Item(
        "refund",
        "Refund request",
        r.remote_created_at,
        None,  # its answer-by: the inbox's DEADLINES
        r.order.buyer_name if r.order else "",
        f"order {r.order_number}: {r.reason.replace('_', ' ') or 'no reason given'}",
        r.amount,
        r.currency,
        reverse(
            "admin:refunds_refundrequest_respond" if can else "admin:refunds_refundrequest_queue",
            args=[r.pk] if can else [],
        ),
        "Respond" if can else "View",
        r.account,
    )


def refund_queue(user: Any, now: datetime) -> list[Queue]:
    if not user.has_perm("refunds.view_refundrequest"):
        return []
    return [
        Queue(
            "refunds",
            "Refund requests awaiting a response",
            for_user(awaiting_shop(), user).count(),  # the queue's own queryset, so the two agree
            reverse("admin:refunds_refundrequest_queue"),
        )
    ]


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


def plug_in() -> None:
    registry.register(*sync.RESOURCES)
    registry.NIGHT_WALKS.add(
        (
            Stream(
                "refund_requests",
                lambda c, s, e: c.refund_requests(
                    state=list(sync.ALL_STATES), created_start=s, created_end=e
                ),
                True,
            ),
        ),
        key="refunds",
    )
    inbox.SOURCES.add(
        inbox.Source(
            "refund",
            "Refund requests",
            "refunds.view_refundrequest",
            lambda: awaiting_shop().select_related("order", "account"),
            F("remote_created_at"),
            refund_item,
            ("refund requests", lambda: reverse("admin:refunds_refundrequest_queue")),
        ),
        key="refund",
    )
    QUEUES.add(refund_queue, key="refunds")
    CHARTS.add(
        Series(
            "refunds",
            "Refunds",
            "chart-refunds",
            "refunds.view_refundrequest",
            lambda: RefundRequest.objects.filter(state__in=REFUNDED_STATES),
            "remote_created_at",
            "amount",
        ),
        key="refunds",
    )
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
