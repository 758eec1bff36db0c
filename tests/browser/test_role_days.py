"""Browser tests (Chromium) of two roles' days through the issue-12 pages: the shipping clerk (queue, scanner
typing, check page, one job, the emulator shows the orders shipped) and the bookkeeper (payouts report, CSV
export). Screenshots go to test-results/ at laptop and phone widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from orders.models import Order
from tests.factories import PayoutLineItemFactory
from tests.orders.helpers import resync, role_user, ship_calls, simulate

pytestmark = pytest.mark.django_db(transaction=True)

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def shoot(page: Any, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(RESULTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(LAPTOP)


@pytest.fixture
def thread_jobs(settings: Any) -> None:
    settings.WORKER_BACKEND = "thread"


def test_shipping_clerk_day(page, live_server, admin_login, emulator, shop, thread_jobs):
    numbers = [simulate(emulator, "new_order")["order_number"] for _ in range(3)]
    resync(shop, "orders")
    page.set_viewport_size(LAPTOP)
    admin_login(page, live_server, role_user("clerk", "Shipping"))
    page.click("text=Orders awaiting shipment")  # the dashboard's queue count opens the shipping queue
    page.wait_for_selector("#ship-queue")
    shoot(page, "clerk-1-queue")
    shown = page.locator("tr.queue-row").evaluate_all("rows => rows.map(r => r.dataset.order)")
    assert set(numbers) <= set(shown)  # with the demo shop's own paid orders
    first, second = (Order.objects.get(account=shop, order_number=n) for n in shown[:2])
    page.fill(f"input[name=provider_{first.pk}]", "UPS")
    page.fill(f"input[name=provider_{second.pk}]", "UPS")
    page.click(f"input[name=tracking_{first.pk}]")
    page.keyboard.type("1ZSCAN0001")
    page.keyboard.press("Enter")  # a scanner's Enter: next row, no submit
    assert page.evaluate("document.activeElement.name") == f"tracking_{second.pk}"
    page.keyboard.type("1ZSCAN0002")
    page.keyboard.press("Enter")
    third = Order.objects.get(account=shop, order_number=shown[2])
    assert page.evaluate("document.activeElement.name") == f"tracking_{third.pk}"
    assert ship_calls(emulator) == 0 and page.locator("#ship-queue").count() == 1  # nothing was submitted
    shoot(page, "clerk-2-typed")
    page.click("input[data-check]")
    assert page.locator("#confirm-yes").input_value() == "Yes, ship 2 orders"
    shoot(page, "clerk-3-check")
    page.click("text=Yes, ship 2 orders")
    page.wait_for_selector("#job-state:has-text('Succeeded')", timeout=30_000)
    shoot(page, "clerk-4-job")
    orders = emulator.store.table("orders")
    assert orders[first.order_number]["status"] == "shipped"
    assert orders[second.order_number]["status"] == "shipped"
    assert orders[shown[2]]["status"] == "paid"
    assert ship_calls(emulator) == 2
    page.goto(f"{live_server.url}/admin/orders/order/{first.pk}/change/")
    page.wait_for_selector("#order-workbench")
    shoot(page, "clerk-5-order")


def test_bookkeeper_day(page, live_server, admin_login, shop):
    line = PayoutLineItemFactory(account=shop, order__paid_at=timezone.now())
    admin_login(page, live_server, role_user("books", "Bookkeeper"))
    page.goto(f"{live_server.url}/admin/payouts/payout/reconciliation/")
    page.wait_for_selector("text=Payouts reconciliation")
    shoot(page, "books-1-report")
    with page.expect_download() as download:
        page.click("text=orders paid (CSV)")
    body = Path(download.value.path()).read_text()
    assert line.order.order_number in body and "110.00" in body
    page.goto(f"{live_server.url}/admin/payouts/payout/{line.payout.pk}/reconcile/")
    page.wait_for_selector("a.payout-order-link")
    shoot(page, "books-2-payout")
