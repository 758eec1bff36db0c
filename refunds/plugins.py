"""What the refunds app adds to the core (from RefundsConfig.ready()): its resource and the night's walk, the
inbox's refund requests, the dashboard's queue and its weekly approved refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F
from django.urls import reverse

from backoffice.access import for_user
from backoffice.pages import inbox
from backoffice.pages.dashboard import CHARTS, QUEUES, Queue, Series
from backoffice.sync import registry
from backoffice.sync.resource import Stream

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
