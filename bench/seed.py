"""The big shop for the admin and team scenarios, seeded with bulk inserts into the database DATABASE_URL
names: `orders` orders in the worst case for pages, the emulator's older shape (half as many listings, most
sold or live; orders over two years, about one in eight paid and waiting for tracking, the rest mostly
shipped or received; repeat buyers; a refund request per 50 orders, an offer per 10 listings and a
conversation per 10 orders, a share of each awaiting the shop; a payout per 20 orders with its line items;
a year of sync runs in proportion), and a second shop a tenth of its size that the bench's Manager does not
work for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

BATCH = 5000
MAKES = ["Fender", "Gibson", "Ibanez", "Yamaha", "Roland", "Korg", "Boss", "Martin"]
NAMES = ["Alice Walker", "Bob Marley", "Carla Bley", "Dave Brubeck", "Ella Fitzgerald", "Fred Frith"]
CITIES = [("Austin", "TX", "US"), ("Leeds", "", "GB"), ("Lyon", "", "FR"), ("Portland", "OR", "US")]
SPAN_MINUTES = 2 * 365 * 24 * 60  # two years of orders, the newest now
LISTING_STATES = ["sold", "live", "sold", "live", "sold", "ended", "live", "sold", "draft", "live"]
# One order in eight waits (the shop: 25,308 of 200,000 to ship), one in 64 unpaid, the rest done.
DONE_STATUSES = ["received", "shipped", "received", "received", "refunded", "cancelled", "picked_up"]
SYNCED_RESOURCES = ["listings", "orders", "payments", "payouts", "feedback", "conversations", "offers"]


@dataclass
class Shop:
    """The seeded shop's account, size and the ids the later steps point at."""

    account: Any
    orders: int
    now: datetime
    listing_ids: list[int] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)

    @property
    def n_listings(self) -> int:
        return max(1, self.orders // 2)

    @property
    def n_buyers(self) -> int:
        return max(1, self.orders // 3)  # repeat buyers: three orders each on average

    def minutes_ago(self, i: int) -> timedelta:
        """The age of order `i` of this shop's orders, newest first, spread over the two years."""
        return timedelta(minutes=i * SPAN_MINUTES // max(self.orders, 1))


def seed(orders: int) -> dict[str, str]:
    """Bulk-insert the shop (and the other shop); returns a few values to search for."""
    from django.db import connection
    from django.utils import timezone

    shop = Shop(_account("bench"), orders, timezone.now())
    _seed_listings(shop)
    _seed_orders(shop, other=_account("bench other"))
    _seed_payouts(shop)
    _seed_refund_requests(shop)
    _seed_offers(shop)
    _seed_conversations(shop)
    _seed_sync_runs(shop)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    middle = orders // 2
    return {
        "order_number": str(5_000_000 + middle),
        "buyer": NAMES[middle % len(NAMES)].split()[0],
        "sku": f"SKU-{middle % shop.n_listings:07d}",
        "title_word": "guitar model 77",
    }


def _account(name: str) -> Any:
    from backoffice.models import ReverbAccount

    account = ReverbAccount(name=name, api_url="http://127.0.0.1:9/api", currency="USD")
    account.set_token("bench")
    account.save()
    return account


def _seed_listings(shop: Shop) -> None:
    from listings.models import Listing

    n = shop.n_listings
    Listing.objects.bulk_create(
        (
            Listing(
                account=shop.account,
                reverb_id=str(1_000_000 + i),
                sku=f"SKU-{i:07d}",
                title=f"{MAKES[i % len(MAKES)]} guitar model {i}",
                make=MAKES[i % len(MAKES)],
                model=f"model {i}",
                state=LISTING_STATES[i % len(LISTING_STATES)],
                inventory=0 if LISTING_STATES[i % len(LISTING_STATES)] == "sold" else 1,
                remote_created_at=shop.now - timedelta(minutes=i * SPAN_MINUTES // (2 * n)),
                cost=Decimal("60.00") if i % 3 else None,  # the margin report: most with a cost, some apart
            )
            for i in range(n)
        ),
        batch_size=BATCH,
    )
    shop.listing_ids = list(Listing.objects.order_by("pk").values_list("pk", flat=True))


def _seed_orders(shop: Shop, other: Any) -> None:
    """The shop's orders, then the other shop's: a tenth of the size, same shape."""
    from orders.models import Order

    Order.objects.bulk_create((_order(shop, i) for i in range(shop.orders)), batch_size=BATCH)
    tenth, first = shop.orders // 10, shop.listing_ids[:1]
    Order.objects.bulk_create(
        (_order(shop, i, other, tenth, first) for i in range(shop.orders, shop.orders + tenth)),
        batch_size=BATCH,
    )
    shop.order_ids = list(Order.objects.order_by("pk").values_list("pk", flat=True))


def _order(
    shop: Shop, i: int, account: Any = None, orders: int | None = None, listing_ids: list[int] | None = None
) -> Any:
    """Order `i`, newest first, its age spread over `orders` (default the shop's) in two years; another
    `account` (the other shop) takes the shop's listings' and buyers' numbers."""
    from orders.models import Order

    orders = shop.orders if orders is None else orders
    listing_ids = listing_ids or shop.listing_ids
    n_listings = shop.n_listings
    age = timedelta(minutes=i * SPAN_MINUTES // max(orders, 1))
    waiting = i % 8 == 0  # to ship (or unpaid), spread over the two years like the emulator's shop
    status = ("unpaid" if i % 64 == 0 else "paid") if waiting else DONE_STATUSES[i % len(DONE_STATUSES)]
    buyer = i * 7919 % shop.n_buyers
    city = CITIES[i % len(CITIES)]
    paid_at = shop.now - age if status != "unpaid" else None
    return Order(
        account=account or shop.account,
        reverb_id=str(5_000_000 + i),
        order_number=str(5_000_000 + i),
        buyer_name=f"{NAMES[buyer % len(NAMES)]} {buyer}",
        buyer_id=str(buyer),
        sku=f"SKU-{i % n_listings:07d}",
        title=f"{MAKES[i % len(MAKES)]} guitar model {i % n_listings}",
        status=status,
        shipping_method="local" if i % 50 == 1 else "shipped",
        listing_id=listing_ids[i % len(listing_ids)],
        amount_product=Decimal(100 + i % 900),
        amount_total=Decimal(110 + i % 900),
        currency="USD",
        paid_at=paid_at,
        ship_by=paid_at + timedelta(days=3) if paid_at else None,
        shipped_at=None if status in ("paid", "unpaid") else shop.now - age + timedelta(days=2),
        shipping_provider="" if status in ("paid", "unpaid") else "UPS",
        remote_created_at=shop.now - age,
        raw={"shipping_address": {"locality": city[0], "region": city[1], "country_code": city[2]}},
    )


def _seed_payouts(shop: Shop) -> None:
    """A payout per 20 orders, and a line item for three orders in four."""
    from payouts.models import Payout, PayoutLineItem

    n_payouts = max(1, shop.orders // 20)
    Payout.objects.bulk_create(
        (
            Payout(
                account=shop.account,
                reverb_id=str(9_000_000 + p),
                total=Decimal("2000.00"),
                currency="USD",
                remote_created_at=shop.now - timedelta(days=p // 24),
            )
            for p in range(n_payouts)
        ),
        batch_size=BATCH,
    )
    payout_ids = list(Payout.objects.order_by("pk").values_list("pk", flat=True))
    PayoutLineItem.objects.bulk_create(
        (
            PayoutLineItem(
                account=shop.account,
                reverb_id=f"line-{i}",
                payout_reverb_id=str(9_000_000 + i // 20),
                payout_id=payout_ids[min(i // 20, n_payouts - 1)],
                order_number=str(5_000_000 + i),
                order_id=shop.order_ids[i],
                amount_product=Decimal("100.00"),
                amount_total=Decimal("100.00"),
                currency="USD",
                remote_created_at=shop.now - timedelta(hours=i // 20),
            )
            for i in range(shop.orders)
            if i % 4 != 3
        ),
        batch_size=BATCH,
    )


def _seed_refund_requests(shop: Shop) -> None:
    from refunds.models import RefundRequest

    RefundRequest.objects.bulk_create(
        (
            RefundRequest(
                account=shop.account,
                reverb_id=f"refund-{r}",
                # the newest fortieth still open, the rest answered long ago
                state="pending_seller_response" if r % 40 == 0 else ["approved", "denied"][r % 2],
                amount=Decimal("50.00"),
                currency="USD",
                reason="not_as_described",
                order_number=str(5_000_000 + r * 50),
                order_id=shop.order_ids[r * 50],
                remote_created_at=shop.now - shop.minutes_ago(r * 50),
                answer_by=shop.now - shop.minutes_ago(r * 50) + timedelta(hours=24),
            )
            for r in range(shop.orders // 50)
        ),
        batch_size=BATCH,
    )


def _seed_offers(shop: Shop) -> None:
    from messaging.models import Negotiation

    n_listings, n_buyers = shop.n_listings, shop.n_buyers
    Negotiation.objects.bulk_create(
        (
            Negotiation(
                account=shop.account,
                reverb_id=f"offer-{n}",
                # a twentieth active and the shop's turn; the rest accepted, declined or expired
                state="active" if n % 20 == 0 else ["accepted", "declined", "expired"][n % 3],
                actionable=n % 20 == 0,
                buyer_name=f"{NAMES[n % len(NAMES)]} {n % n_buyers}",
                buyer_id=str(n % n_buyers),
                last_offered_price=Decimal("90.00"),
                last_offered_total=Decimal("100.00"),
                currency="USD",
                listing_reverb_id=str(1_000_000 + n * 10 % n_listings),
                listing_id=shop.listing_ids[n * 10 % n_listings],
                expires_at=shop.now + timedelta(hours=48) - timedelta(minutes=n),
                remote_created_at=shop.now - timedelta(minutes=n * 20),
                remote_updated_at=shop.now - timedelta(minutes=n * 20),
            )
            for n in range(n_listings // 10)
        ),
        batch_size=BATCH,
    )


def _seed_conversations(shop: Shop) -> None:
    from messaging.models import Conversation

    Conversation.objects.bulk_create(
        (
            Conversation(
                account=shop.account,
                reverb_id=f"conv-{c}",
                subject=f"About order {5_000_000 + c * 10}",
                unread=c % 25 == 0,
                other_party_name=f"{NAMES[c % len(NAMES)]} {c % shop.n_buyers}",
                other_party_id=str(c % shop.n_buyers),
                last_message_at=shop.now - shop.minutes_ago(c * 10),
            )
            for c in range(shop.orders // 10)
        ),
        batch_size=BATCH,
    )


def _seed_sync_runs(shop: Shop) -> None:
    from backoffice.models import SyncRun

    kinds = SYNCED_RESOURCES
    SyncRun.objects.bulk_create(
        (
            SyncRun(
                account=shop.account,
                resource=kinds[i % len(kinds)],
                started_at=shop.now - timedelta(minutes=5 * (i // len(kinds))),
                finished_at=shop.now - timedelta(minutes=5 * (i // len(kinds))),
                status=SyncRun.Status.FAILED if i % 50 == 0 else SyncRun.Status.SUCCESS,
                error="HTTP 503" if i % 50 == 0 else "",
            )
            for i in range(shop.orders * 2)
        ),
        batch_size=BATCH,
    )
