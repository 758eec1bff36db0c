"""The `admin` scenario of `bench`: a shop of `orders` orders (half as many listings, a payout per 20
orders with its line items, a year of sync runs in proportion) seeded with bulk inserts into the database
DATABASE_URL names, then every changelist, search and report the issue lists is requested 5 times by a
superuser through Django's test client; the figure is the worst median server time (in-process, so it
is what the server spends: no network, no browser).

Run in its own process (`bench --worker admin`) so DATABASE_URL can point at a scratch PostgreSQL
database; the caller empties it first.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

BATCH = 5000
REPEATS = 5


def seed(orders: int) -> dict[str, str]:
    """Bulk-insert the shop; returns a few values to search for."""
    from django.utils import timezone

    from backoffice.models import ReverbAccount, SyncRun
    from listings.models import Listing
    from orders.models import Order
    from payouts.models import Payout, PayoutLineItem

    now = timezone.now()
    account = ReverbAccount(name="bench", api_url="http://127.0.0.1:9/api", currency="USD")
    account.set_token("bench")
    account.save()
    makes = ["Fender", "Gibson", "Ibanez", "Yamaha", "Roland", "Korg", "Boss", "Martin"]
    names = ["Alice Walker", "Bob Marley", "Carla Bley", "Dave Brubeck", "Ella Fitzgerald", "Fred Frith"]
    n_listings = max(1, orders // 2)
    listings = [
        Listing(
            account=account,
            reverb_id=str(1_000_000 + i),
            sku=f"SKU-{i:07d}",
            title=f"{makes[i % len(makes)]} guitar model {i}",
            make=makes[i % len(makes)],
            model=f"model {i}",
            state="live",
            cost=Decimal("60.00") if i % 3 else None,  # the margin report: most with a cost, some apart
            remote_created_at=now - timedelta(minutes=i),
        )
        for i in range(n_listings)
    ]
    Listing.objects.bulk_create(listings, batch_size=BATCH)
    listing_ids = list(Listing.objects.order_by("pk").values_list("pk", flat=True))
    Order.objects.bulk_create(
        (
            Order(
                account=account,
                reverb_id=str(5_000_000 + i),
                order_number=str(5_000_000 + i),
                buyer_name=f"{names[i % len(names)]} {i}",
                sku=f"SKU-{i % n_listings:07d}",
                title=f"{makes[i % len(makes)]} guitar model {i % n_listings}",
                status=["paid", "shipped", "received", "refunded"][i % 4],
                listing_id=listing_ids[i % n_listings],
                amount_product=Decimal("100.00"),
                amount_total=Decimal("110.00"),
                currency="USD",
                paid_at=now - timedelta(hours=i // 20),
                remote_created_at=now - timedelta(hours=i // 20),
            )
            for i in range(orders)
        ),
        batch_size=BATCH,
    )
    n_payouts = max(1, orders // 20)
    Payout.objects.bulk_create(
        (
            Payout(
                account=account,
                reverb_id=str(9_000_000 + p),
                total=Decimal("2000.00"),
                currency="USD",
                remote_created_at=now - timedelta(days=p // 24),
            )
            for p in range(n_payouts)
        ),
        batch_size=BATCH,
    )
    payout_ids = list(Payout.objects.order_by("pk").values_list("pk", flat=True))
    order_ids = list(Order.objects.order_by("pk").values_list("pk", flat=True))
    PayoutLineItem.objects.bulk_create(
        (
            PayoutLineItem(
                account=account,
                reverb_id=f"line-{i}",
                payout_reverb_id=str(9_000_000 + i // 20),
                payout_id=payout_ids[min(i // 20, n_payouts - 1)],
                order_number=str(5_000_000 + i),
                order_id=order_ids[i],
                amount_product=Decimal("100.00"),
                amount_total=Decimal("100.00"),
                currency="USD",
                remote_created_at=now - timedelta(hours=i // 20),
            )
            for i in range(orders)
            if i % 4 != 3
        ),
        batch_size=BATCH,
    )
    resources = ["listings", "orders", "payments", "payouts", "feedback", "conversations", "offers"]
    SyncRun.objects.bulk_create(
        (
            SyncRun(
                account=account,
                resource=resources[i % len(resources)],
                started_at=now - timedelta(minutes=5 * (i // len(resources))),
                finished_at=now - timedelta(minutes=5 * (i // len(resources))),
                status=SyncRun.Status.FAILED if i % 50 == 0 else SyncRun.Status.SUCCESS,
                error="HTTP 503" if i % 50 == 0 else "",
            )
            for i in range(orders * 2)
        ),
        batch_size=BATCH,
    )
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    middle = orders // 2
    return {
        "order_number": str(5_000_000 + middle),
        "buyer": names[middle % len(names)].split()[0],
        "sku": f"SKU-{middle % n_listings:07d}",
        "title_word": "guitar model 77",
    }


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
        "orders sorted by buyer": f"{orders}?o=5",
        "orders filtered by status": f"{orders}?status__exact=shipped",
        "orders search order number": f"{orders}?q={found['order_number']}",
        "orders search buyer name": f"{orders}?q={found['buyer']}",
        "listings changelist": listings,
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
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clock = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_seconds, clock = time.perf_counter() - clock, time.perf_counter()
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    found = seed(orders)
    seed_seconds = time.perf_counter() - clock
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
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
