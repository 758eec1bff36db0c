"""What the payouts app adds to the core (from PayoutsConfig.ready()): its resources (payouts and their line
items) and the night's walk, the dashboard's weekly payouts and its links to the reconciliation report. What
payouts adds to the order's page, admin and CSV (orders/slots.py), from PayoutsConfig.ready()."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from backoffice.admin.links import EMPTY
from backoffice.admin.mirror import related_changelist_link
from backoffice.pages.dashboard import CHARTS, PANELS, Panel, Series
from backoffice.sync import registry
from backoffice.sync.resource import Stream
from orders.exports import money_cell
from orders.models import Order
from orders.slots import (
    ORDER_CSV_COLUMNS,
    ORDER_LINKS,
    ORDER_TIMELINE,
    CsvColumns,
    Event,
    OrderLink,
    TimelinePart,
)

from . import sync
from .models import Payout, PayoutLineItem


def report_links(user: Any, now: datetime) -> dict[str, Any]:
    """The payouts reconciliation of this month and of the last."""
    url = reverse("admin:payouts_reconciliation")
    last_month = timezone.localdate(now).replace(day=1) - timedelta(days=1)
    return {"url": url, "last_month_url": f"{url}?month={last_month:%Y-%m}", "last_month": last_month}


def order_timeline(order: Order) -> TimelinePart:
    """What was paid out for the order, payout by payout (1 query)."""
    events = []
    for li in PayoutLineItem.objects.filter(order=order).select_related("payout"):
        when = li.payout.remote_created_at if li.payout else li.remote_created_at
        url = reverse("admin:payouts_payout_change", args=[li.payout.pk]) if li.payout else ""
        what = f"Paid out {li.amount_total} {li.currency} (payout {li.payout_reverb_id})"
        events.append(Event(when, what, url=url))
    return TimelinePart(events)


@admin.display(description="Payouts")
def payout_lines_link(obj: Order) -> SafeString | str:
    return related_changelist_link(PayoutLineItem, "order", obj, "payout line items") if obj else EMPTY


def csv_annotations() -> dict[str, Any]:
    """The order's first payout line: its payout and what it paid out."""
    line = PayoutLineItem.objects.filter(order=OuterRef("pk")).order_by("pk")
    return {
        "payout_id": Subquery(line.values("payout_reverb_id")[:1]),
        "payout_line_total": Subquery(line.values("amount_total")[:1]),
    }


def plug_in() -> None:
    registry.register(*sync.RESOURCES)
    registry.NIGHT_WALKS.add(
        (Stream("payouts", lambda c, s, e: c.payouts(created_start=s, created_end=e), True),), key="payouts"
    )
    CHARTS.add(
        Series(
            "payouts",
            "Payouts",
            "chart-payouts",
            "payouts.view_payout",
            Payout.objects.all,
            "remote_created_at",
            "total",
        ),
        key="payouts",
    )
    PANELS.add(
        Panel("payouts/_dashboard_reports.html", "payouts.view_payout", report_links, place="reconciliation"),
        key="payouts-reports",
    )
    ORDER_TIMELINE.add(order_timeline, key="payouts")
    ORDER_LINKS.add(OrderLink(70, payout_lines_link), key="payouts")
    ORDER_CSV_COLUMNS.add(
        CsvColumns(
            csv_annotations,
            [("payout_id", "payout id", None), ("payout_line_total", "paid out", money_cell)],
        ),
        key="payouts",
    )
