"""The `admin` scenario of `bench`: a shop of `orders` orders shaped like the emulator's big shop (half as
many listings, most sold or live; orders over two years, about one in eight paid and waiting for tracking,
the rest mostly shipped or received; repeat buyers; a refund request per 50 orders, an offer per 10
listings and a conversation per 10 orders, a share of each awaiting the shop; a payout per 20 orders with
its line items; a year of sync runs in proportion) seeded with bulk inserts into the database DATABASE_URL
names, then every page staff use (the shipping queue, the inbox, the refund queue, the changelists and
their sorts, searches, the catalogue health page, the reports) is requested 5 times through Django's test
client by a Manager who is a member of the shop (not a superuser: the shop-scope filter is measured too);
the figure is the worst median server time (in-process, so it is what the server spends: no network, no
browser).

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
    from messaging.models import Conversation, Negotiation
    from orders.models import Order
    from payouts.models import Payout, PayoutLineItem
    from refunds.models import RefundRequest

    now = timezone.now()
    account = ReverbAccount(name="bench", api_url="http://127.0.0.1:9/api", currency="USD")
    account.set_token("bench")
    account.save()
    # A second shop the Manager does not work for: the scope filter has rows to leave out.
    other = ReverbAccount(name="bench other", api_url="http://127.0.0.1:9/api", currency="USD")
    other.set_token("bench")
    other.save()
    makes = ["Fender", "Gibson", "Ibanez", "Yamaha", "Roland", "Korg", "Boss", "Martin"]
    names = ["Alice Walker", "Bob Marley", "Carla Bley", "Dave Brubeck", "Ella Fitzgerald", "Fred Frith"]
    cities = [("Austin", "TX", "US"), ("Leeds", "", "GB"), ("Lyon", "", "FR"), ("Portland", "OR", "US")]
    n_listings = max(1, orders // 2)
    n_buyers = max(1, orders // 3)  # repeat buyers: three orders each on average
    span_minutes = 2 * 365 * 24 * 60  # two years of orders, the newest now
    listings = [
        Listing(
            account=account,
            reverb_id=str(1_000_000 + i),
            sku=f"SKU-{i:07d}",
            title=f"{makes[i % len(makes)]} guitar model {i}",
            make=makes[i % len(makes)],
            model=f"model {i}",
            state=LISTING_STATES[i % len(LISTING_STATES)],
            inventory=0 if LISTING_STATES[i % len(LISTING_STATES)] == "sold" else 1,
            remote_created_at=now - timedelta(minutes=i * span_minutes // (2 * n_listings)),
            cost=Decimal("60.00") if i % 3 else None,  # the margin report: most with a cost, some apart
        )
        for i in range(n_listings)
    ]
    Listing.objects.bulk_create(listings, batch_size=BATCH)
    listing_ids = list(Listing.objects.order_by("pk").values_list("pk", flat=True))
    Order.objects.bulk_create(
        (
            _order(account, i, orders, n_listings, n_buyers, listing_ids, now, names, makes, cities)
            for i in range(orders)
        ),
        batch_size=BATCH,
    )
    Order.objects.bulk_create(  # the other shop: a tenth of the size, same shape
        (
            _order(other, i, orders // 10, n_listings, n_buyers, listing_ids[:1], now, names, makes, cities)
            for i in range(orders, orders + orders // 10)
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
    RefundRequest.objects.bulk_create(
        (
            RefundRequest(
                account=account,
                reverb_id=f"refund-{r}",
                # the newest fortieth still open, the rest answered long ago
                state="pending_seller_response" if r % 40 == 0 else ["approved", "denied"][r % 2],
                amount=Decimal("50.00"),
                currency="USD",
                reason="not_as_described",
                order_number=str(5_000_000 + r * 50),
                order_id=order_ids[r * 50],
                remote_created_at=now - timedelta(minutes=r * 50 * span_minutes // orders),
                answer_by=now - timedelta(minutes=r * 50 * span_minutes // orders) + timedelta(hours=24),
            )
            for r in range(orders // 50)
        ),
        batch_size=BATCH,
    )
    Negotiation.objects.bulk_create(
        (
            Negotiation(
                account=account,
                reverb_id=f"offer-{n}",
                # a twentieth active and the shop's turn; the rest accepted, declined or expired
                state="active" if n % 20 == 0 else ["accepted", "declined", "expired"][n % 3],
                actionable=n % 20 == 0,
                buyer_name=f"{names[n % len(names)]} {n % n_buyers}",
                buyer_id=str(n % n_buyers),
                last_offered_price=Decimal("90.00"),
                last_offered_total=Decimal("100.00"),
                currency="USD",
                listing_reverb_id=str(1_000_000 + n * 10 % n_listings),
                listing_id=listing_ids[n * 10 % n_listings],
                expires_at=now + timedelta(hours=48) - timedelta(minutes=n),
                remote_created_at=now - timedelta(minutes=n * 20),
                remote_updated_at=now - timedelta(minutes=n * 20),
            )
            for n in range(n_listings // 10)
        ),
        batch_size=BATCH,
    )
    Conversation.objects.bulk_create(
        (
            Conversation(
                account=account,
                reverb_id=f"conv-{c}",
                subject=f"About order {5_000_000 + c * 10}",
                unread=c % 25 == 0,
                other_party_name=f"{names[c % len(names)]} {c % n_buyers}",
                other_party_id=str(c % n_buyers),
                last_message_at=now - timedelta(minutes=c * 10 * span_minutes // orders),
            )
            for c in range(orders // 10)
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


LISTING_STATES = ["sold", "live", "sold", "live", "sold", "ended", "live", "sold", "draft", "live"]
# One order in eight waits (the shop: 25,308 of 200,000 to ship), one in 64 unpaid, the rest done.
DONE_STATUSES = ["received", "shipped", "received", "received", "refunded", "cancelled", "picked_up"]


def _order(account, i, orders, n_listings, n_buyers, listing_ids, now, names, makes, cities):  # type: ignore[no-untyped-def]
    """Order `i` of `orders`, newest first."""
    from orders.models import Order

    span_minutes = 2 * 365 * 24 * 60
    age = timedelta(minutes=i * span_minutes // max(orders, 1))
    waiting = i % 8 == 0  # to ship (or unpaid), spread over the two years like the emulator's shop
    status = ("unpaid" if i % 64 == 0 else "paid") if waiting else DONE_STATUSES[i % len(DONE_STATUSES)]
    buyer = i * 7919 % n_buyers
    city = cities[i % len(cities)]
    paid_at = now - age if status != "unpaid" else None
    return Order(
        account=account,
        reverb_id=str(5_000_000 + i),
        order_number=str(5_000_000 + i),
        buyer_name=f"{names[buyer % len(names)]} {buyer}",
        buyer_id=str(buyer),
        sku=f"SKU-{i % n_listings:07d}",
        title=f"{makes[i % len(makes)]} guitar model {i % n_listings}",
        status=status,
        shipping_method="local" if i % 50 == 1 else "shipped",
        listing_id=listing_ids[i % len(listing_ids)],
        amount_product=Decimal(100 + i % 900),
        amount_total=Decimal(110 + i % 900),
        currency="USD",
        paid_at=paid_at,
        ship_by=paid_at + timedelta(days=3) if paid_at else None,
        shipped_at=None if status in ("paid", "unpaid") else now - age + timedelta(days=2),
        shipping_provider="" if status in ("paid", "unpaid") else "UPS",
        remote_created_at=now - age,
        raw={"shipping_address": {"locality": city[0], "region": city[1], "country_code": city[2]}},
    )


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
    from django.contrib.auth.models import Group

    from backoffice.models import ReverbAccount
    from backoffice.roles import MANAGER, ensure_roles

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
