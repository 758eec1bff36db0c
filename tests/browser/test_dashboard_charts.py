"""Chromium opens the dashboard and the payouts reconciliation report; the SVG charts render with bars."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from payouts.models import Payout, PayoutLineItem
from refunds.models import RefundRequest
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _shop() -> None:
    account = AccountFactory(name="shop")
    now = timezone.now()
    for n in range(4):
        order = Order.objects.create(
            account=account,
            reverb_id=str(n),
            order_number=str(n),
            status="shipped",
            paid_at=now - timedelta(weeks=n, days=1),
            amount_total=Decimal("100.00"),
            amount_shipping=Decimal("0.00"),
            amount_tax=Decimal("0.00"),
            selling_fee=Decimal("5.00"),
            direct_checkout_fee=Decimal("3.68"),
            currency="USD",
        )
        payout = Payout.objects.create(
            account=account,
            reverb_id=f"p{n}",
            total=Decimal("91.32"),
            currency="USD",
            remote_created_at=now - timedelta(weeks=n),
        )
        PayoutLineItem.objects.create(
            account=account,
            reverb_id=f"l{n}",
            payout=payout,
            payout_reverb_id=payout.reverb_id,
            order=order,
            order_number=order.order_number,
            amount_product=Decimal("100.00"),
            amount_shipping=Decimal("0.00"),
            amount_tax=Decimal("0.00"),
            fees=Decimal("8.68"),
            amount_total=Decimal("91.32"),
            currency="USD",
        )
    RefundRequest.objects.create(
        account=account,
        reverb_id="r1",
        order=order,
        order_number=order.order_number,
        state="approved",
        amount=Decimal("25.00"),
        currency="USD",
        remote_created_at=now - timedelta(days=2),
    )


def _bar_heights(page, selector: str) -> list[float]:
    return page.eval_on_selector_all(
        f"{selector} rect.bar", "els => els.map(e => e.getBoundingClientRect().height)"
    )


def test_dashboard_and_report_charts_render(page, live_server, admin_user, admin_login) -> None:
    _shop()
    admin_login(page, live_server, admin_user)
    assert page.locator("#work-queues").is_visible()
    for chart in ("sales", "refunds", "payouts"):
        svg = page.locator(f'figure[data-chart="{chart}"] svg.chart')
        assert svg.is_visible(), chart
        heights = _bar_heights(page, f'figure[data-chart="{chart}"] svg.chart')
        assert len(heights) == 12, chart
        assert max(heights) > 20, (chart, heights)  # the tallest bar is drawn at a visible size
    assert page.locator('figure[data-chart="sales"] svg').get_attribute("aria-label").startswith("Sales")

    page.click("#payouts-report-links a")
    assert page.locator("#findings").is_visible()
    assert "every fee matches the fee schedule" in page.locator("#answer").inner_text()
    heights = _bar_heights(page, "#period-charts svg.chart")
    assert len(heights) == 6 and max(heights) > 20
    page.goto(f"{live_server.url}/admin/payouts/payout/")
    page.locator("#result_list a", has_text="against its orders").first.click()
    assert "adds up" in page.locator("#payout-sum").inner_text()
    assert page.locator(".payout-line").count() == 1
