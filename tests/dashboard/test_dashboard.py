"""The dashboard on the admin index: counts against the mirror, sync health, charts, constant queries."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.utils import timezone

from backoffice.models import ApiUsage, Backfill, ReconciliationReport, SyncRun
from backoffice.pages.charts import Bar, bar_chart
from backoffice.pages.dashboard import dashboard_context, week_starts
from backoffice.sync.runner import sync_account
from messaging.models import Conversation, Negotiation
from orders.models import Order
from payouts.models import Payout
from refunds.models import RefundRequest
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def queue_counts(html: str) -> dict[str, int]:
    rows = re.findall(r'data-queue="(\w+)">.*?<td class="count"><a [^>]*>(\d+)</a>', html, re.S)
    return {key: int(count) for key, count in rows}


def test_dashboard_counts_match_the_synced_mirror(emulator, admin_client) -> None:
    account = AccountFactory(name="shop")
    sync_account(account)
    html = admin_client.get("/admin/").content.decode()
    live = Order.objects.filter(missing=False, status="paid")
    assert queue_counts(html) == {
        "ship": live.filter(local_pickup=False).count(),
        "pickup": live.filter(local_pickup=True).count(),
        # The same rows as the queues the counts link to (the refund queue also lists conditional approvals).
        "refunds": RefundRequest.objects.filter(
            state__in=["pending_seller_response", "conditionally_approved"]
        ).count(),
        "offers": Negotiation.objects.filter(state="active", actionable=True)
        .exclude(listing__state__in=["sold", "sold_out"])
        .count(),
        "unread": Conversation.objects.filter(unread=True).count(),
    }
    assert sum(queue_counts(html).values()) > 0
    # Offers expiring soonest come first, each linked.
    offers = (
        Negotiation.objects.filter(state="active", actionable=True)
        .exclude(listing__state__in=["sold", "sold_out"])
        .order_by("expires_at")
    )
    links = re.findall(r'<ul id="offers-expiring">(.*?)</ul>', html, re.S)[0]
    assert re.findall(r"/negotiation/(\d+)/offer/", links) == [str(n.pk) for n in offers[:5]]
    # Sync health: every resource of the account with its last success.
    for resource in ("orders", "listings", "payouts", "refunds"):
        assert f'data-resource="{resource}"' in html
    assert 'id="payouts-report-links"' in html


def test_sync_health_shows_the_last_error_and_last_hour_usage(admin_client) -> None:
    account = AccountFactory(name="shop")
    now = timezone.now()
    SyncRun.objects.create(
        account=account,
        resource="orders",
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2),
        status="success",
    )
    SyncRun.objects.create(
        account=account,
        resource="orders",
        started_at=now - timedelta(hours=1),
        finished_at=now - timedelta(hours=1),
        status="failed",
        error="old failure",
    )
    SyncRun.objects.create(
        account=account,
        resource="orders",
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=5),
        status="failed",
        error="401 token revoked",
    )
    SyncRun.objects.create(
        account=account,
        resource="listings",
        started_at=now - timedelta(hours=3),
        finished_at=now - timedelta(hours=3),
        status="failed",
        error="timeout",
    )
    SyncRun.objects.create(
        account=account,
        resource="listings",
        started_at=now - timedelta(minutes=1),
        finished_at=now - timedelta(minutes=1),
        status="success",
    )
    ApiUsage.objects.create(account=account, minute=now - timedelta(minutes=10), requests=40, throttled=2)
    ApiUsage.objects.create(account=account, minute=now - timedelta(minutes=50), requests=7, throttled=1)
    ApiUsage.objects.create(account=account, minute=now - timedelta(hours=2), requests=999, throttled=99)
    user = User.objects.get(username="admin")
    (health,) = dashboard_context(user, now)["health"]
    by_resource = {r.resource: r for r in health.resources}
    assert by_resource["orders"].failing and by_resource["orders"].last_error == "401 token revoked"
    assert not by_resource["listings"].failing and by_resource["listings"].last_error == "timeout"
    assert (health.requests_last_hour, health.throttled_last_hour) == (47, 3)
    html = admin_client.get("/admin/").content.decode()
    assert "401 token revoked" in html and "47 requests" in html and "3 × 429" in html


def test_last_reconciliation_report(admin_client) -> None:
    html = admin_client.get("/admin/").content.decode()
    assert "No mirror reconciliation has run yet" in html
    account = AccountFactory(name="shop")
    ReconciliationReport.objects.create(
        account=account, state="clean", started_at=timezone.now() - timedelta(days=2)
    )
    ReconciliationReport.objects.create(account=account, state="attention", started_at=timezone.now())
    html = admin_client.get("/admin/").content.decode()
    assert re.search(r'id="last-reconciliation">.*Needs a person', html, re.S)


def test_charts_are_svg_bars_per_week(admin_client) -> None:
    account = AccountFactory(name="shop")
    now = timezone.now()
    Order.objects.create(
        account=account,
        reverb_id="1",
        order_number="1",
        status="shipped",
        paid_at=now,
        amount_total=Decimal("100.00"),
        currency="USD",
    )
    Order.objects.create(
        account=account,
        reverb_id="2",
        order_number="2",
        status="paid",
        paid_at=now - timedelta(weeks=3),
        amount_total=Decimal("50.00"),
        currency="USD",
    )
    Order.objects.create(
        account=account,
        reverb_id="3",
        order_number="3",
        status="paid",
        paid_at=now - timedelta(weeks=20),
        amount_total=Decimal("999.00"),
        currency="USD",
    )
    Payout.objects.create(
        account=account, reverb_id="9", total=Decimal("80.00"), currency="USD", remote_created_at=now
    )
    html = admin_client.get("/admin/").content.decode()
    charts = dict(re.findall(r'<figure data-chart="(\w+)">(.*?)</figure>', html, re.S))
    assert set(charts) == {"sales", "refunds", "payouts"}
    for svg in charts.values():
        assert svg.count('<rect class="bar"') == 12
    assert "Sales USD: 150.00" in charts["sales"]  # the order 20 weeks ago is outside the window
    assert "100.00 USD</title>" in charts["sales"] and "50.00 USD</title>" in charts["sales"]
    assert "Payouts USD: 80.00" in charts["payouts"]


def test_bar_chart_scales_and_escapes() -> None:
    svg = bar_chart("<b>", [Bar("a", Decimal("10")), Bar("b", Decimal("5")), Bar("<x>", Decimal("0"))], "USD")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "&lt;x&gt;" in svg
    heights = [
        float(h)
        for h in re.findall(r'class="bar" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg)
    ]
    assert heights[0] == pytest.approx(2 * heights[1]) and heights[2] == 1.0


def test_week_starts_are_mondays() -> None:
    weeks = week_starts(timezone.now())
    assert len(weeks) == 12 and all(w.weekday() == 0 for w in weeks)
    assert weeks[-1] <= timezone.localtime() < weeks[-1] + timedelta(weeks=1)


def _populate(n_accounts: int, n_rows: int) -> None:
    now = timezone.now()
    for a in range(n_accounts):
        account = AccountFactory()
        for r in range(n_rows):
            key = f"{a}-{r}"
            order = Order.objects.create(
                account=account,
                reverb_id=key,
                order_number=key,
                status="paid",
                local_pickup=r % 2 == 0,
                paid_at=now - timedelta(days=r),
                amount_total=Decimal("10"),
                currency="USD",
            )
            RefundRequest.objects.create(
                account=account,
                reverb_id=key,
                order=order,
                state="approved",
                amount=Decimal("1"),
                remote_created_at=now - timedelta(days=r),
            )
            Negotiation.objects.create(
                account=account,
                reverb_id=key,
                state="active",
                actionable=True,
                expires_at=now + timedelta(hours=r + 1),
            )
            Conversation.objects.create(account=account, reverb_id=key, unread=True)
            Payout.objects.create(
                account=account,
                reverb_id=key,
                total=Decimal("9"),
                currency="USD",
                remote_created_at=now - timedelta(days=r),
            )
            for resource, status in (("orders", "success"), ("orders", "failed"), (f"res{r}", "failed")):
                SyncRun.objects.create(
                    account=account,
                    resource=resource,
                    started_at=now,
                    finished_at=now,
                    status=status,
                    error="boom",
                )
            ApiUsage.objects.create(account=account, minute=now - timedelta(minutes=r), requests=3)
        ReconciliationReport.objects.create(account=account, state="clean")
        Backfill.objects.create(account=account)  # each being pulled for the first time


@pytest.mark.parametrize("accounts,rows", [(1, 1), (4, 6)])
def test_dashboard_query_count_is_constant(admin_client, django_assert_num_queries, accounts, rows) -> None:
    _populate(accounts, rows)
    admin_client.get("/admin/")  # warm the session
    # session, user, permissions 3; dashboard: work queues 5, deadlines 4 (accounts + one per queue),
    # sync health 4 (accounts, runs grouped, the last failed runs, usage), reconciliation 1, charts 1 (the
    # accounts' time zones) + 3 per zone; the session renewed (SESSION_SAVE_EVERY_REQUEST: savepoint, update,
    # release) 3; the first pulls' progress 1; catalogue health 2 (duplicate SKUs grouped apart).
    with django_assert_num_queries(27):
        response = admin_client.get("/admin/")
    html = response.content.decode()
    assert queue_counts(html)["unread"] == accounts * rows
    assert html.count('class="account-row"') == accounts


def test_dashboard_shows_only_what_the_user_may_see(client) -> None:
    user = User.objects.create_user("viewer", password="password", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)
    html = client.get("/admin/").content.decode()
    assert set(queue_counts(html)) == {"ship", "pickup"}
    assert 'id="sync-health"' not in html and 'data-chart="payouts"' not in html
    assert 'data-chart="sales"' in html


def test_weekly_figures_bucket_by_the_accounts_time_zone() -> None:
    """A sale at 03:00 UTC on a Monday is Sunday evening in Chicago: that shop's previous week."""
    from datetime import UTC, datetime

    from backoffice.pages.dashboard import _weekly

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
    weeks = week_starts(now)
    monday_3am_utc = weeks[-1].astimezone(UTC).replace(hour=3)
    chicago, london = AccountFactory(time_zone="America/Chicago"), AccountFactory(time_zone="Europe/London")
    for account in (chicago, london):
        Order.objects.create(
            account=account,
            reverb_id=f"tz-{account.pk}",
            order_number=f"tz-{account.pk}",
            status="paid",
            paid_at=monday_3am_utc,
            amount_total=Decimal("10") if account == chicago else Decimal("1"),
            currency="USD",
        )
    bars = _weekly(Order.objects.all(), "paid_at", "amount_total", weeks)["USD"]
    assert bars[-2].value == Decimal("10")  # Chicago: Sunday 21:00, the week before
    assert bars[-1].value == Decimal("1")  # London: Monday 03:00, this week


def test_sync_health_reads_the_history_once_not_once_per_run(db) -> None:
    """The last error is the latest failed run's, looked up per (account, resource), in a constant number
    of queries (never a query per run or per resource)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backoffice.pages.dashboard import sync_health

    account = AccountFactory(name="shop")
    now = timezone.now()
    for minutes, status, error in ((30, "failed", "first"), (20, "failed", "second"), (10, "success", "")):
        for resource in ("orders", "listings", "payouts"):
            SyncRun.objects.create(
                account=account,
                resource=resource,
                started_at=now - timedelta(minutes=minutes),
                finished_at=now - timedelta(minutes=minutes),
                status=status,
                error=f"{resource} {error}",
            )
    with CaptureQueriesContext(connection) as ctx:
        (health,) = sync_health(User.objects.create_superuser("root", "r@example.com", "pw"))
    assert {r.resource: r.last_error for r in health.resources} == {
        "listings": "listings second",
        "orders": "orders second",
        "payouts": "payouts second",
    }
    assert {r.last_success for r in health.resources} == {now - timedelta(minutes=10)}
    assert {r.last_failure for r in health.resources} == {now - timedelta(minutes=20)}
    assert len([q for q in ctx.captured_queries if "backoffice_syncrun" in q["sql"]]) == 2


def rows_read(plan: dict, table: str) -> int:
    """Rows a plan (EXPLAIN ANALYZE, JSON) read from `table`: what its scans returned and filtered out."""
    node = plan
    read = 0
    if node.get("Relation Name") == table:
        read += (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get(
            "Actual Loops", 1
        )
    for child in node.get("Plans", []):
        read += rows_read(child, table)
    return read


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only (EXPLAIN ANALYZE)")
def test_sync_health_reads_the_latest_runs_not_the_whole_history(db) -> None:
    """A month of runs every five minutes: the dashboard reads each resource's latest runs by the index
    (account, resource, status, started_at) and the last day's by started_at, not the month (it read every
    run kept: 87-99 ms at a big shop)."""
    from django.test.utils import CaptureQueriesContext

    from backoffice.pages.dashboard import sync_health

    account = AccountFactory(name="shop")
    now = timezone.now()
    SyncRun.objects.bulk_create(
        SyncRun(
            account=account,
            resource=resource,
            started_at=now - timedelta(minutes=5 * i + 2),
            finished_at=now - timedelta(minutes=5 * i),
            status="failed" if i % 50 == 7 else "success",
            error="timeout" if i % 50 == 7 else "",
            requests=1,
        )
        for i in range(30 * 24 * 12)  # a month of runs, each resource
        for resource in ("orders", "listings", "conversations")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {SyncRun._meta.db_table}")
    with CaptureQueriesContext(connection) as ctx:
        (health,) = sync_health(User.objects.create_superuser("root", "r@example.com", "pw"), now)
    assert {r.resource: r.requests_last_hour for r in health.resources} == {
        "conversations": 12,
        "listings": 12,
        "orders": 12,
    }
    assert {r.last_error for r in health.resources} == {"timeout"}
    read = 0
    for query in ctx.captured_queries:
        if "backoffice_syncrun" in query["sql"]:
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
                answer = cursor.fetchone()[0]
            (plan,) = json.loads(answer) if isinstance(answer, str) else answer
            read += rows_read(plan["Plan"], "backoffice_syncrun")
    assert read < 3 * (24 * 12 + 30)  # the last day's runs and a few probes, of 25,920 kept


def test_sync_health_shows_requests_per_resource_in_one_grouped_query(admin_client) -> None:
    """Where the request budget goes (issue 17): each resource's pull requests in the last hour and per
    hour over the last day, from a grouped query over the last day's runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backoffice.pages.dashboard import sync_health

    account = AccountFactory(name="shop")
    now = timezone.now()
    for minutes, resource, requests in (
        (5, "orders", 1),
        (10, "orders", 3),
        (90, "orders", 20),  # in the day, not the last hour
        (30, "negotiations", 7),
        (26 * 60, "negotiations", 500),  # older than a day: in neither figure
    ):
        at = now - timedelta(minutes=minutes)
        SyncRun.objects.create(
            account=account,
            resource=resource,
            started_at=at,
            finished_at=at,
            status="success",
            requests=requests,
        )
    user = User.objects.get(username="admin")
    with CaptureQueriesContext(connection) as ctx:
        (health,) = sync_health(user, now)
    figures = {r.resource: (r.requests_last_hour, r.requests_per_hour_day) for r in health.resources}
    assert figures == {"orders": (4, 1.0), "negotiations": (7, 0.3)}
    assert len([q for q in ctx.captured_queries if "backoffice_syncrun" in q["sql"]]) == 2  # latest, last day
    html = admin_client.get("/admin/").content.decode()
    assert re.search(r'data-resource="orders">.*?<td class="requests">4 · 1.0</td>', html, re.S)


def test_the_dashboard_counts_catalogue_issues_and_links_to_the_health_page(admin_client) -> None:
    from listings.models import Listing
    from tests.factories import AccountFactory

    account = AccountFactory()
    Listing.objects.create(
        account=account, reverb_id="9001", state="draft", sku="", category="Amps", images=["https://x/1.jpg"]
    )
    html = admin_client.get("/admin/").content.decode()
    assert 'id="catalogue-health"' in html and "1 listing issue to fix" in html
    assert "Without a SKU: 1" in html and "/admin/listings/listing/health/" in html
