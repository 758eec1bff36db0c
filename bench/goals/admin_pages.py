"""The `admin` scenario of `bench`: the big shop of `orders` orders (bench/seed.py) seeded into the
database DATABASE_URL names, then every page staff use (the shipping queue, the inbox, the refund queue, the
changelists and their sorts, searches, the catalogue health page, the reports) is requested 5 times through
Django's test client by a Manager who is a member of the shop (not a superuser: the shop-scope filter is
measured too); the figure is the worst median server time (in-process, so it is what the server spends: no
network, no browser).

Run in its own process (`bench --worker admin`) so DATABASE_URL can point at a scratch PostgreSQL
database, which the worker empties first.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import CommandError

from bench.kit import GOAL_TARGETS, check_scratch, fresh_database, goal_line, run_worker
from bench.seed import seed

REPEATS = 5


def admin_goal(out: Any, orders: int, database_url: str) -> str:
    check_scratch(database_url, "--admin-database-url")
    out.write(f"admin: {orders} orders on {urlsplit(database_url).scheme or 'sqlite'}")
    with tempfile.TemporaryDirectory(prefix="bench-admin-") as tmp:
        result = run_worker("admin", "", Path(tmp), 0, database_url, "--orders", str(orders))
    worst_name, worst = "", 0.0
    for name, page in result["pages"].items():
        out.write(f"    {page['ms']:8.1f} ms  {page['queries']:3d} queries  HTTP {page['status']}  {name}")
        if page["status"] != 200:
            raise CommandError(f"admin: {name} answered HTTP {page['status']}")
        if page["ms"] > worst:
            worst_name, worst = name, page["ms"]
    out.write(
        f"    migrated in {result['migrate_seconds']:.0f}s, seeded in {result['seed_seconds']:.0f}s; "
        f"worst: {worst_name}"
    )
    note = f"({result['orders']} orders on {result['vendor']}, median of 5, worst page)"
    return goal_line("admin", f"{worst:.0f}ms", GOAL_TARGETS["admin"], note, ok=worst < 300)


def admin_worker(workdir: Path, orders: int) -> None:
    """`bench --worker admin`: on the scratch database (emptied here; its name checked by the caller)."""
    (workdir / "admin.json").write_text(json.dumps(measure(orders)))


def pages(found: dict[str, str], orders_count: int) -> dict[str, str]:
    from django.urls import reverse
    from django.utils import timezone

    # The last 30 days, not the calendar month: on the 1st a month holds an hour of orders.
    today = timezone.localdate()
    last_30_days = f"start={today - timedelta(days=30):%Y-%m-%d}&end={today:%Y-%m-%d}"
    orders = reverse("admin:orders_order_changelist")
    listings = reverse("admin:listings_listing_changelist")
    return {
        "orders changelist": orders,
        "orders middle page": f"{orders}?p={max(1, orders_count // 100)}",
        "shipping queue": reverse("admin:orders_order_queue"),
        "shipping queue page 2": f"{reverse('admin:orders_order_queue')}?p=2",
        "customer-service inbox": reverse("cs_inbox"),
        "offers": reverse("admin:messaging_negotiation_inbox"),
        "refund queue": reverse("admin:refunds_refundrequest_queue"),
        "orders sorted by buyer": f"{orders}?o=5",
        "orders sorted by total": f"{orders}?o=-8",
        "orders filtered by status": f"{orders}?status__exact=shipped",
        "orders search order number": f"{orders}?q={found['order_number']}",
        "orders search buyer name": f"{orders}?q={found['buyer']}",
        "listings changelist": listings,
        "listings live": f"{listings}?state__exact=live",
        "catalogue health": reverse("admin:listings_listing_health"),
        "listings search SKU": f"{listings}?q={found['sku']}",
        "listings search title": f"{listings}?q={found['title_word'].replace(' ', '+')}",
        "payouts changelist": reverse("admin:payouts_payout_changelist"),
        "payout line items changelist": reverse("admin:payouts_payoutlineitem_changelist"),
        "payouts reconciliation report": f"{reverse('admin:payouts_reconciliation')}?{last_30_days}",
        "payouts margin report": f"{reverse('admin:payouts_margin')}?{last_30_days}",
        "sync runs changelist": reverse("admin:backoffice_syncrun_changelist"),
        "dashboard": reverse("admin:index"),
    }


def measure(orders: int) -> dict[str, Any]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from backoffice.models import ReverbAccount
    from backoffice.roles import MANAGER, ensure_roles

    clock = time.perf_counter()
    fresh_database()
    migrate_seconds, clock = time.perf_counter() - clock, time.perf_counter()
    settings.ALLOWED_HOSTS = ["*"]
    found = seed(orders)
    seed_seconds = time.perf_counter() - clock
    ensure_roles()
    user = get_user_model().objects.create_user("bench", "bench@example.com", "bench", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER))
    ReverbAccount.objects.get(name="bench").members.add(user)
    client = Client()
    client.force_login(user)
    results = {}
    for name, url in pages(found, orders).items():
        times, queries, status = [], 0, 0
        for _ in range(REPEATS):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
            queries, status = len(ctx.captured_queries), response.status_code
        results[name] = {"ms": statistics.median(times) * 1000, "queries": queries, "status": status}
    return {
        "orders": orders,
        "vendor": connection.vendor,
        "migrate_seconds": migrate_seconds,
        "seed_seconds": seed_seconds,
        "pages": results,
    }
