"""Bookkeeping (issue 12, findings 10 and 13): money in CSVs with two decimals, one orders export for the
admin action and the report, refunds booked in the month they were approved, readable order links on a
payout's reconciliation page."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from payouts.matching import Period, match_period
from tests.factories import AccountFactory, OrderFactory, PayoutLineItemFactory, RefundRequestFactory

pytestmark = pytest.mark.django_db


def read(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


def at(y: int, m: int, d: int) -> datetime:
    return timezone.make_aware(datetime(y, m, d, 12))


@pytest.fixture
def sold():
    account = AccountFactory()
    order = OrderFactory(
        account=account,
        paid_at=timezone.now(),
        amount_total=Decimal("830.39"),
        selling_fee=Decimal("41.5"),
        raw={"shipping_address": {}},
    )
    PayoutLineItemFactory(account=account, order=order, amount_total=Decimal("770.4"), fees=Decimal("59.99"))
    return order


def test_the_admin_action_and_the_report_write_the_same_orders_csv_with_two_decimals(sold, admin_client):
    today = timezone.localdate().isoformat()
    report = read(admin_client.get(reverse("admin:payouts_export_orders"), {"start": today, "end": today}))
    action = read(
        admin_client.post(
            reverse("admin:orders_order_changelist"), {"action": "export_csv", "_selected_action": [sold.pk]}
        )
    )
    assert report == action
    header, row = report
    assert row[header.index("total")] == "830.39"
    assert row[header.index("selling fee")] == "41.50"
    assert row[header.index("paid out")] == "770.40"
    assert not [cell for cell in row if re.fullmatch(r"-?\d+\.\d{3,}", cell)]  # no 830.390000000000


def test_line_items_csv_has_two_decimals(sold, admin_client):
    day = timezone.localdate().isoformat()  # the factory's payout is made now
    rows = read(admin_client.get(reverse("admin:payouts_export_line_items"), {"start": day, "end": day}))
    header, row = rows[0], rows[1]
    assert row[header.index("fees")] == "59.99" and row[header.index("paid out")] == "770.40"
    assert row[header.index("order total")] == "830.39"


def september_refund(state: str, amount: str) -> str:
    """A refund requested in September on an order paid then, last updated (approved) in November."""
    order = OrderFactory(paid_at=at(2026, 9, 5), status="shipped")
    RefundRequestFactory(
        account=order.account,
        order=order,
        order_number=order.order_number,
        state=state,
        amount=Decimal(amount),
        currency="USD",
        remote_created_at=at(2026, 9, 20),
        remote_updated_at=at(2026, 11, 3),
    )
    return order.order_number


SEPTEMBER = Period(date(2026, 9, 1), date(2026, 9, 30))
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


def test_a_refund_approved_in_november_is_booked_in_november_not_september():
    september_refund("approved", "50.00")
    refunds = {t.currency: t.refunds_approved_amount for t in match_period(NOVEMBER).totals}
    assert refunds.get("USD") == Decimal("50.00")
    assert all(t.refunds_approved_amount == 0 for t in match_period(SEPTEMBER).totals)


def test_an_open_refund_request_still_shows_in_the_month_it_was_made():
    number = september_refund("pending_seller_response", "20.00")
    assert any(f.order_number == number and f.kind == "refund" for f in match_period(SEPTEMBER).findings)


def test_payout_reconciliation_order_links_use_the_header_link_colour(sold, admin_client):
    line = sold.payout_line_items.get()
    html = admin_client.get(reverse("admin:payouts_payout_reconcile", args=[line.payout.pk])).content.decode()
    assert f'class="payout-order-link" href="{reverse("admin:orders_order_change", args=[sold.pk])}"' in html
    css = Path(finders.find("backoffice/backoffice.css")).read_text()
    assert ".module h2 a.payout-order-link" in css and "var(--header-link-color)" in css
