"""Browser tests (Chromium) for the day's work of a shipping clerk and a customer-service person."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from emulator.faults import Faults
from messaging.models import Conversation, Negotiation
from orders.models import Order
from refunds.models import RefundRequest
from tests.orders.helpers import resync, role_user, ship_calls, simulate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def thread_jobs(settings: Any) -> None:
    # A worker thread beside the live server, as django-q2 would be: the page must show it progressing.
    settings.WORKER_BACKEND = "thread"


def test_bulk_ship_three_orders_and_watch_progress(
    page, live_server, admin_login, emulator, shop, thread_jobs
):
    numbers = [simulate(emulator, "new_order")["order_number"] for _ in range(3)]
    resync(shop, "orders")
    orders = list(Order.objects.filter(account=shop, order_number__in=numbers))
    admin_login(page, live_server, role_user("clerk", "Shipping"))
    page.goto(f"{live_server.url}/admin/orders/order/?q=&status__exact=paid")
    for order in orders:
        page.check(f"input[name=_selected_action][value='{order.pk}']")
    page.select_option("select[name=action]", "ship_selected")
    page.click("button[name=index]")
    page.wait_for_selector("#bulk-ship-rows")
    for i, order in enumerate(orders):
        page.fill(f"input[name=provider_{order.pk}]", "UPS")
        page.fill(f"input[name=tracking_{order.pk}]", f"1ZBROWSER{i}")
    page.click("#bulk-ship-rows input[type=submit]")
    assert page.locator("#confirm-yes").input_value() == "Yes, ship 3 orders"
    assert ship_calls(emulator) == 0
    # Slow answers so the job is still running when its page first loads.
    emulator.faults = Faults(slow_rate=1.0, slow_seconds=0.4)
    page.click("text=Yes, ship 3 orders")
    page.wait_for_selector("#job-progress")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloaded
    page.wait_for_selector("#job-state:has-text('Succeeded')", timeout=30_000)
    assert page.evaluate("window.__sameDocument === true"), "the progress page reloaded"
    assert page.locator("#job-progress").evaluate("bar => bar.value") == 100
    assert page.locator("#job-items td.item-state-succeeded").count() == 3
    assert ship_calls(emulator) == 3


def test_approve_refund_with_lower_amount(page, live_server, admin_login, emulator, shop):
    number = simulate(emulator, "new_order")["order_number"]
    emulator.store.table("orders")[number]["status"] = "shipped"
    simulate(emulator, "refund_request", order_number=number)
    resync(shop, "orders", "refunds")
    refund = RefundRequest.objects.get(account=shop, order_number=number)
    lower = (refund.amount - Decimal("5.00")).quantize(Decimal("0.01"))
    admin_login(page, live_server, role_user("cs", "Customer service"))
    page.goto(f"{live_server.url}/admin/refunds/refundrequest/queue/")
    page.click(f"tr[data-refund='{refund.reverb_id}'] a.respond")
    page.check("input[name=state][value=approved]")
    page.fill("input[name=amount]", str(lower))
    page.click("text=Review the answer")
    # The confirmation repeats the amount before anything is sent.
    page.wait_for_selector("#will-send")
    assert str(lower) in page.locator("#will-send").inner_text()
    page.click(f"text=Yes, refund {lower}")
    page.wait_for_selector("#refund-queue")
    refund.refresh_from_db()
    assert (refund.state, refund.amount) == ("approved", lower)


def test_counter_an_offer(page, live_server, admin_login, emulator, shop):
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    payload = simulate(emulator, "offer", listing_id=listing["id"])
    resync(shop, "listings", "negotiations")
    n = Negotiation.objects.get(account=shop, reverb_id=payload["id"])
    price = (n.listing.price * Decimal("0.95")).quantize(Decimal("0.01"))
    admin_login(page, live_server, role_user("cs", "Customer service"))
    page.goto(f"{live_server.url}/admin/messaging/negotiation/inbox/")
    page.click(f"tr[data-negotiation='{n.reverb_id}'] a.open-offer")
    page.fill("#counter-form input[name=price]", str(price))
    page.fill("#counter-form textarea[name=message]", "How about this?")
    page.click("text=Review the counter-offer")
    page.click("#confirm-yes")
    page.wait_for_selector("#offer-inbox")
    n.refresh_from_db()
    assert n.last_offered_price == price and not n.actionable


def test_reply_to_a_conversation(page, live_server, admin_login, emulator, shop):
    convo = Conversation.objects.filter(account=shop).first()
    admin_login(page, live_server, role_user("cs", "Customer service"))
    page.goto(f"{live_server.url}/admin/messaging/conversation/{convo.pk}/thread/")
    page.fill("#reply-form textarea[name=body]", "It ships on Monday.")
    page.click("text=Send reply")
    page.wait_for_selector("#thread li.message:last-child:has-text('It ships on Monday.')")
    assert convo.messages.filter(body="It ships on Monday.").exists()
