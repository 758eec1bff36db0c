"""Issue 16 item 4: every CSV the product writes neutralises cells a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backoffice.csvfiles import cell
from orders.models import SkuMapping
from payouts.models import Payout, PayoutLineItem
from tests.factories import AccountFactory, OrderFactory

HOSTILE = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_cells_get_a_quote(text: str) -> None:
    assert cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-12.50", "+3", "-7", "12", "Gibson", "a=b", Decimal("-1.5"), -3])
def test_numbers_and_plain_text_are_left_alone(value: object) -> None:
    assert cell(value) == value


def test_dates_and_none() -> None:
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert cell(when) == when.isoformat() and cell(None) == ""


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for value in row:
            if value.startswith(("=", "+", "-", "@", "\t", "\r")):
                float(value)  # only a real number may start so


@pytest.fixture
def hostile_orders(db: None) -> list:
    account = AccountFactory(name="shop")
    orders = []
    for i, text in enumerate(HOSTILE):
        order = OrderFactory(
            account=account,
            buyer_name=text,
            title=text,
            sku=f"{text}-{i}",
            tracking_code=text,
            shipping_provider=text,
            paid_at=timezone.now(),
        )
        orders.append(order)
    SkuMapping.objects.create(account=account, reverb_sku=orders[0].sku, shop_sku="=1+1")
    payout = Payout.objects.create(
        account=account, reverb_id="=P1", remote_created_at=timezone.now(), total=Decimal("1"), currency="USD"
    )
    PayoutLineItem.objects.create(
        account=account, payout=payout, reverb_id="-L1", title="@title", order_number="=9", currency="USD"
    )
    return orders


def test_export_selected_orders(admin_client: Client, hostile_orders: list) -> None:
    response = admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "export_csv", "_selected_action": [o.pk for o in hostile_orders]},
    )
    rows = rows_of(response.content.decode())
    assert len(rows) == len(HOSTILE) + 1
    assert_no_formula(rows)
    assert '\'=HYPERLINK("http://x")' in rows[1] + rows[2] + rows[3] + rows[4] + rows[5] + rows[6]
    assert "'=1+1" in sum(rows, [])


@pytest.mark.parametrize("name", ["admin:payouts_export_orders", "admin:payouts_export_line_items"])
def test_accounting_exports(admin_client: Client, hostile_orders: list, name: str) -> None:
    response = admin_client.get(reverse(name), {"start": "2025-01-01", "end": "2026-12-31"})
    rows = rows_of(b"".join(response.streaming_content).decode())
    assert len(rows) > 1
    assert_no_formula(rows)


def test_no_other_csv_writer_in_the_product() -> None:
    root = Path(__file__).resolve().parents[2]
    writers = [
        str(path.relative_to(root))
        for path in root.glob("*/**/*.py")
        if ".venv" not in path.parts and "tests" not in path.parts and "csv.writer(" in path.read_text()
    ]
    assert writers == ["backoffice/csvfiles.py"]
