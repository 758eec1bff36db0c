"""What a month's payouts report reads on PostgreSQL: that month's rows, not the shop's history
(EXPLAIN ANALYZE of the report's own queries; the planner's choices need real table statistics)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.models.account import zone_named
from orders.models import Order
from payouts.matching import Period, match_period
from payouts.models import Payout, PayoutLineItem
from tests.factories import AccountFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only (EXPLAIN ANALYZE)"),
]
MONTH = Period.month(2026, 6)


def rows_read(node: dict, table: str) -> int:
    """Rows a plan node and its children read from `table` (returned and filtered out, every loop)."""
    read = 0
    if node.get("Relation Name") == table:
        read += (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get(
            "Actual Loops", 1
        )
    return read + sum(rows_read(child, table) for child in node.get("Plans", []))


def paid_out_orders(account, payout: Payout, paid_at: datetime, n: int, tag: str) -> None:
    orders = Order.objects.bulk_create(
        Order(
            account=account,
            reverb_id=f"{tag}{i}",
            order_number=f"{tag}{i}",
            status="shipped",
            paid_at=paid_at,
            amount_total=Decimal("110.00"),
            currency="USD",
            raw={},
        )
        for i in range(n)
    )
    PayoutLineItem.objects.bulk_create(
        PayoutLineItem(
            account=account,
            reverb_id=f"{tag}{order.pk}",
            payout=payout,
            payout_reverb_id=payout.reverb_id,
            order=order,
            order_number=order.order_number,
            amount_total=Decimal("101.50"),
            fees=Decimal("8.50"),
            currency="USD",
            remote_created_at=paid_at,
            raw={},
        )
        for order in orders
    )


def test_a_months_order_totals_read_that_months_line_items_only() -> None:
    """The orders' classes (paid out, waiting, overdue) count each order's line items by the index on
    their order: the old join grouped over the line items hashed every line item of every month (the
    bench's payouts report: 15,107 read for a month's 727 orders)."""
    account = AccountFactory(currency="USD")
    in_month = datetime(2026, 6, 10, tzinfo=zone_named(account.time_zone))
    for months_back in range(9):  # the month, and eight before it
        made = in_month - timedelta(days=30 * months_back)
        payout = Payout.objects.create(
            account=account,
            reverb_id=f"p{months_back}",
            remote_created_at=made + timedelta(days=2),
            total=0,
            currency="USD",
            raw={},
        )
        paid_out_orders(account, payout, made, 400, f"m{months_back}-")
    with connection.cursor() as cursor:
        for model in (Order, PayoutLineItem, Payout):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    with CaptureQueriesContext(connection) as ctx:
        report = match_period(MONTH, [account.pk])
    (usd,) = report.totals
    assert usd.orders_paid == 400 and usd.paid_out == 400
    (sql,) = [q["sql"] for q in ctx.captured_queries if "class_" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        answer = cursor.fetchone()[0]
    (plan,) = json.loads(answer) if isinstance(answer, str) else answer
    assert rows_read(plan["Plan"], PayoutLineItem._meta.db_table) <= 2 * 400  # count and sum: a probe each
