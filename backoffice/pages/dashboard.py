"""The dashboard's queries (the admin index, see templatetags/dashboard.py). Every section costs a fixed
number of queries whatever the number of rows or accounts: counts and sums are aggregates, lists are sliced.

Sections are only computed for users who may view the models behind them. The apps add theirs from their
AppConfig.ready() (<app>/plugins.py): work queues (QUEUES), panels (PANELS: a template and what it shows) and
weekly charts (CHARTS); the core's own are sync health, backfills and the last reconciliation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncWeek
from django.urls import reverse
from django.utils import timezone

from backoffice.access import accounts_of, for_user
from backoffice.admin.links import change_url
from backoffice.models.account import account_zones, zone_named
from backoffice.pages import inbox
from backoffice.pages.charts import Bar, bar_chart
from backoffice.pages.latest_runs import latest_runs
from backoffice.plugins import Slot

WEEKS = 12


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    count: int
    url: str


@dataclass
class WorkQueues:
    queues: list[Queue] = field(default_factory=list)


@dataclass(frozen=True)
class Panel:
    """A box of the dashboard: `template` shows `context(user, now)` as `panel`, for users with `perm`.
    `place`: "work" (under today's queues) or "reconciliation"; `position` orders a place's panels."""

    template: str
    perm: str
    context: Callable[[Any, datetime], Any]
    place: str = "work"
    position: int = 0


@dataclass(frozen=True)
class Series:
    """A weekly chart: the sums of `amount_field` of `rows()` per week of `date_field`, per currency."""

    key: str
    title: str
    css: str
    perm: str
    rows: Callable[[], QuerySet[Any]]
    date_field: str
    amount_field: str


# (user, now) -> the queues a user may see, each its count and the page that lists it; INSTALLED_APPS order.
QUEUES: Slot[Callable[[Any, datetime], list[Queue]]] = Slot("dashboard queues")
PANELS: Slot[Panel] = Slot("dashboard panels")
CHARTS: Slot[Series] = Slot("dashboard charts")


def work_queues(user: Any, now: datetime | None = None) -> WorkQueues:
    """What awaits the shop, as the apps count it (orders to ship, refund requests, offers, unread
    conversations, what is overdue or due today...): a fixed number of queries per queue."""
    now = now or timezone.now()
    return WorkQueues([queue for queues in QUEUES for queue in queues(user, now)])


def panels(user: Any, now: datetime) -> dict[str, list[tuple[str, Any]]]:
    """{place: [(template, what it shows)]} of the panels `user` may see, in their order."""
    shown: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for panel in sorted(PANELS, key=lambda p: p.position):
        if user.has_perm(panel.perm):
            shown[panel.place].append((panel.template, panel.context(user, now)))
    return dict(shown)


@dataclass
class ResourceHealth:
    resource: str
    last_success: datetime | None
    last_failure: datetime | None
    last_error: str
    runs_url: str
    # Requests its pulls sent (SyncRun.requests): in the last hour, and per hour over the last day.
    requests_last_hour: int = 0
    requests_per_hour_day: float = 0.0

    @property
    def failing(self) -> bool:
        return self.last_failure is not None and (
            self.last_success is None or self.last_failure > self.last_success
        )


@dataclass
class AccountHealth:
    account: Any
    resources: list[ResourceHealth]
    requests_last_hour: int = 0
    throttled_last_hour: int = 0

    @property
    def failing(self) -> bool:
        return any(r.failing for r in self.resources)


def sync_health(user: Any, now: datetime | None = None) -> list[AccountHealth]:
    """Per account and resource: last success, last failure and its error, the requests its pulls sent in
    the last hour and per hour over the last day (issue 17: where the request budget goes); the account's
    requests and 429s in the last hour. Queries (constant): accounts 1, runs 2 (the latest runs by the
    index on account, resource, status, started_at: `latest_runs`; the last day's requests by started_at),
    usage 1. What is read grows with the accounts and resources, not with the runs kept."""
    from backoffice.models import ApiUsage, SyncRun

    now = now or timezone.now()
    accounts = list(accounts_of(user).order_by("name").only("pk", "name", "enabled"))
    day = (
        SyncRun.objects.filter(
            account_id__in=[a.pk for a in accounts], started_at__gte=now - timedelta(days=1)
        )
        .values("account_id", "resource")
        .annotate(
            last_hour=Sum("requests", filter=Q(started_at__gte=now - timedelta(hours=1))),
            last_day=Sum("requests"),
        )
        .order_by()
    )
    requests = {(row["account_id"], row["resource"]): row for row in day}
    by_account: dict[int, list[ResourceHealth]] = defaultdict(list)
    runs_base = reverse("admin:backoffice_syncrun_changelist")
    for run in latest_runs([a.pk for a in accounts]):
        used = requests.get((run.account_id, run.resource), {})
        url = f"{runs_base}?account__id__exact={run.account_id}&resource__exact={run.resource}"
        by_account[run.account_id].append(
            ResourceHealth(
                run.resource,
                run.last_success,
                run.last_failure,
                run.last_error or "",
                url,
                used.get("last_hour") or 0,
                round((used.get("last_day") or 0) / 24, 1),
            )
        )
    usage = {
        row["account_id"]: row
        for row in for_user(ApiUsage.objects.filter(minute__gte=now - timedelta(hours=1)), user)
        .values("account_id")
        .annotate(requests=Sum("requests"), throttled=Sum("throttled"))
        .order_by()
    }
    result = []
    for account in accounts:
        used = usage.get(account.pk, {})
        result.append(
            AccountHealth(
                account, by_account.get(account.pk, []), used.get("requests") or 0, used.get("throttled") or 0
            )
        )
    return result


def backfills(user: Any, now: datetime | None = None) -> list[Any]:
    """Per account of the user's being pulled for the first time (or after an outage), or finished in the
    last day: the backfill's progress (backoffice/sync/backfill.py): what is done, requests left and the
    time they take at the account's paced rate. One query."""
    from backoffice.models import Backfill
    from backoffice.sync.backfill import progress

    now = now or timezone.now()
    rows = (
        for_user(Backfill.objects.all(), user)
        .filter(Q(state=Backfill.State.RUNNING) | Q(finished_at__gte=now - timedelta(days=1)))
        .select_related("account")
        .order_by("account__name")
    )
    return [progress(row) for row in rows]


def last_reconciliation(user: Any) -> Any | None:
    """The newest nightly reconciliation report with its findings count (one query), or None."""
    from backoffice.models import ReconciliationReport

    report = (
        for_user(ReconciliationReport.objects.all(), user)
        .select_related("account")
        .annotate(findings_count=Count("findings"))
        .order_by("-started_at", "-pk")
        .first()
    )
    if report is not None:
        report.admin_url = change_url(report)
    return report


def week_starts(now: datetime, weeks: int = WEEKS) -> list[datetime]:
    """Mondays 00:00 (current timezone) of the last `weeks` weeks, this week last."""
    local = timezone.localtime(now)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _weekly(
    qs: QuerySet,
    date_field: str,
    amount_field: str,
    weeks: list[datetime],
    zones: dict[str, list[int]] | None = None,
) -> dict[str, list[Bar]]:
    """{currency: 12 bars}: one grouped query per account time zone (weeks start on Monday 00:00 in the
    account's zone, so a sale late on Sunday evening in Chicago counts in that Sunday's week)."""
    zones = zones if zones is not None else account_zones()
    sums: dict[str, dict[Any, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for name, ids in zones.items():
        tz = zone_named(name)
        scoped = qs.filter(account_id__in=ids) if len(zones) > 1 else qs
        rows = (
            scoped.filter(**{f"{date_field}__gte": weeks[0] - timedelta(days=1)})
            .annotate(week=TruncWeek(date_field, tzinfo=tz))
            .values("week", "currency")
            .annotate(total=Sum(amount_field))
            .order_by()
        )
        for row in rows:
            week = row["week"].astimezone(tz).date() if isinstance(row["week"], datetime) else row["week"]
            sums[row["currency"] or ""][week] += row["total"] or Decimal(0)
    return {
        currency: [Bar(f"{w:%b %d}", values.get(w.date(), Decimal(0))) for w in weeks]
        for currency, values in sorted(sums.items())
    }


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    currency: str
    svg: Any
    total: Decimal


def weekly_charts(user: Any, now: datetime | None = None) -> list[Chart]:
    """The apps' weekly series (sales, approved refunds, payouts...), last 12 weeks, each account's in its
    own time zone; 1 query for the zones, then 1 each per time zone."""
    weeks = week_starts(now or timezone.now())
    zones = account_zones()
    series = [
        (s.key, s.title, s.css, _weekly(for_user(s.rows(), user), s.date_field, s.amount_field, weeks, zones))
        for s in CHARTS
        if user.has_perm(s.perm)
    ]
    charts = []
    for key, title, css, by_currency in series:
        if not by_currency:  # nothing in 12 weeks: an all-zero chart still shows the weeks
            by_currency = {"": [Bar(f"{w:%b %d}", Decimal(0)) for w in weeks]}
        for currency, bars in by_currency.items():
            charts.append(
                Chart(
                    key,
                    title,
                    currency,
                    bar_chart(title, bars, currency, css),
                    sum((b.value for b in bars), Decimal(0)),
                )
            )
    return charts


def dashboard_context(user: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    context: dict[str, Any] = {"work": work_queues(user, now), "charts": weekly_charts(user, now), "now": now}
    context["backfills"] = backfills(user, now)
    # Staff see only their shops: one with none sees nothing, and is told why.
    context["no_accounts"] = not user.is_superuser and not accounts_of(user).exists()
    if any(user.has_perm(p) for p in inbox.perms()):
        context["inbox_url"] = reverse("cs_inbox")
    context["panels"] = panels(user, now)
    if user.has_perm("backoffice.view_syncrun"):
        context["health"] = sync_health(user, now)
    if user.has_perm("backoffice.view_reconciliationreport"):
        context["reconciliation_allowed"] = True
        context["reconciliation"] = last_reconciliation(user)
    return context
