"""What the payouts app adds to the core (from PayoutsConfig.ready()): its resources (payouts and their line
items) and the night's walk, the dashboard's weekly payouts and its links to the reconciliation report."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from backoffice.pages.dashboard import CHARTS, PANELS, Panel, Series
from backoffice.sync import registry
from backoffice.sync.resource import Stream

from . import sync
from .models import Payout


def report_links(user: Any, now: datetime) -> dict[str, Any]:
    """The payouts reconciliation of this month and of the last."""
    url = reverse("admin:payouts_reconciliation")
    last_month = timezone.localdate(now).replace(day=1) - timedelta(days=1)
    return {"url": url, "last_month_url": f"{url}?month={last_month:%Y-%m}", "last_month": last_month}


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
