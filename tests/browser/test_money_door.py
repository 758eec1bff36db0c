"""Browser tests of the money door (issue 24), one per money action: a bad amount is refused before the
confirmation with the typed values kept, the confirmation shows the amount and the percentages, and nothing
reaches the emulator until "Yes"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from automation import offers
from automation.models import Mode, OfferRule, PlannedAction
from messaging.models import Conversation, Negotiation
from orders.models import Order
from refunds.models import RefundRequest
from refunds.services import refundable_amount
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db(transaction=True)
COUNTER = ("POST", "/api/my/negotiations/{negotiation_id}/counter")
ACCEPT = ("POST", "/api/my/negotiations/{negotiation_id}/accept")
DECLINE = ("POST", "/api/my/negotiations/{negotiation_id}/decline")
RESPOND = ("PUT", "/api/my/refund_requests/selling/{refund_id}")
SELLER_REFUND = ("POST", "/api/my/orders/selling/{order_number}/refund_requests")
SCREENSHOT = "/tmp/money_counter.png"


def synth_offer(emulator: Any, shop: Any, offered: str = "449.40") -> Negotiation:
    """A 535 synth; the buyer offers 449.40 (84 % of list price)."""
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    listing["price"] = Decimal("535.00")
    payload = simulate(emulator, "offer", listing_id=listing["id"], price=offered)
    resync(shop, "listings", "negotiations")
    return Negotiation.objects.select_related("listing").get(account=shop, reverb_id=payload["id"])


def open_offer(page: Any, live_server: Any, admin_login: Any, n: Negotiation) -> None:
    admin_login(page, live_server, role_user("cs", "Customer service"))
    page.goto(f"{live_server.url}/admin/messaging/negotiation/{n.pk}/offer/")


def test_counter(page, live_server, admin_login, emulator, shop):
    n = synth_offer(emulator, shop)
    open_offer(page, live_server, admin_login, n)
    page.fill("#counter-form input[name=price]", "10.00")  # the slip seen in use
    page.fill("#counter-form textarea[name=message]", "Best I can do")
    page.click("text=Review the counter-offer")
    assert page.locator("#confirm-form").count() == 0
    assert page.locator("#counter-form .errorlist").inner_text().count("not above the buyer's offer") == 1
    assert page.input_value("#counter-form input[name=price]") == "10.00"
    assert page.input_value("#counter-form textarea[name=message]") == "Best I can do"
    page.fill("#counter-form input[name=price]", "500.00")
    page.click("text=Review the counter-offer")
    sent = page.inner_text("#will-send")
    assert "500.00 USD (93.5 % of list price)" in sent and "449.40 USD (84.0 % of list price)" in sent
    assert "Total the buyer would pay" in sent and "Best I can do" in sent
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert emulator.requests[COUNTER] == 0
    page.click("#confirm-back")  # "No, change it": the typed values come back
    assert page.input_value("#counter-form input[name=price]") == "500.00"
    page.click("text=Review the counter-offer")
    page.click("text=Yes, counter at 500.00 USD")
    page.wait_for_selector("#offer-inbox")
    assert emulator.requests[COUNTER] == 1
    n.refresh_from_db()
    assert n.last_offered_price == Decimal("500.00") and not n.actionable


def test_accept(page, live_server, admin_login, emulator, shop):
    low = synth_offer(emulator, shop, offered="300.00")  # 56 %: under the default 70 % floor
    open_offer(page, live_server, admin_login, low)
    page.fill("#accept-form textarea[name=message]", "Deal!")
    page.click("#accept-form input[type=submit]")
    assert "below this shop's floor" in page.inner_text("#accept-form")
    assert page.locator("#confirm-form").count() == 0 and emulator.requests[ACCEPT] == 0
    assert page.input_value("#accept-form textarea[name=message]") == "Deal!"
    n = synth_offer(emulator, shop)
    page.goto(f"{live_server.url}/admin/messaging/negotiation/{n.pk}/offer/")
    page.click("#accept-form input[type=submit]")
    sent = page.inner_text("#will-send")
    assert "84.0 % of list price" in sent and f"{n.offered_total:.2f} USD" in sent
    assert emulator.requests[ACCEPT] == 0
    page.click(f"text=Yes, sell for {n.offered_total:.2f} USD")
    page.wait_for_selector("#offer-inbox")
    assert emulator.requests[ACCEPT] == 1


def test_decline_with_a_message(page, live_server, admin_login, emulator, shop):
    n = synth_offer(emulator, shop)
    Conversation.objects.filter(other_party_id=n.buyer_id).delete()
    open_offer(page, live_server, admin_login, n)
    before = len(emulator.store.table("conversations"))
    page.fill("#decline-form textarea[name=message]", "Sorry, too low.")
    page.click("text=Review: decline")
    sent = page.inner_text("#will-send")
    assert "449.40 USD (84.0 % of list price)" in sent and "Sorry, too low." in sent
    assert emulator.requests[DECLINE] == 0
    page.click("text=Yes, decline the offer and send the message")
    page.wait_for_selector("#offer-inbox")
    assert emulator.requests[DECLINE] == 1
    # no conversation with this buyer here: the message started one (POST /my/conversations)
    assert len(emulator.store.table("conversations")) == before + 1


def test_answer_a_refund_request(page, live_server, admin_login, emulator, shop):
    number = simulate(emulator, "new_order")["order_number"]
    emulator.store.table("orders")[number]["status"] = "shipped"
    simulate(emulator, "refund_request", order_number=number)
    resync(shop, "orders", "refunds")
    refund = RefundRequest.objects.get(account=shop, order_number=number)
    left = refundable_amount(refund.order, refund)
    admin_login(page, live_server, role_user("cs", "Customer service"))
    page.goto(f"{live_server.url}/admin/refunds/refundrequest/{refund.pk}/respond/")
    page.check("input[name=state][value=approved]")
    too_much = f"{left + Decimal('25.00'):.2f}"
    page.fill("input[name=amount]", too_much)
    page.fill("textarea[name=note_to_buyer]", "Sorry about that")
    page.click("text=Review the answer")
    assert page.locator("#confirm-form").count() == 0
    assert page.locator(".errorlist").inner_text().count("more than the order has left") == 1
    assert page.input_value("input[name=amount]") == too_much
    assert page.input_value("textarea[name=note_to_buyer]") == "Sorry about that"
    page.fill("input[name=amount]", "")
    page.click("text=Review the answer")  # blank: refused, not a silent full refund
    assert "Type the amount to refund" in page.inner_text("#content-main")
    page.check("input[name=full]")
    page.click("text=Review the answer")
    assert f"{left} USD" in page.inner_text("#will-send") and "% of the order total" in page.inner_text(
        "#will-send"
    )
    assert emulator.requests[RESPOND] == 0
    page.click(f"text=Yes, refund {left} USD")
    page.wait_for_selector("#refund-queue")
    assert emulator.requests[RESPOND] == 1


def test_seller_initiated_refund(page, live_server, admin_login, emulator, shop):
    number = simulate(emulator, "new_order")["order_number"]
    resync(shop, "orders")
    order = Order.objects.get(account=shop, order_number=number)
    left = refundable_amount(order)
    admin_login(page, live_server, role_user("cs", "Customer service"))
    page.goto(f"{live_server.url}/admin/refunds/refundrequest/new-for-order/{order.pk}/")
    page.select_option("select[name=reason]", "item_defective")
    too_much = f"{left + Decimal('25.00'):.2f}"  # "Yes, refund 900.00 USD" on an 875 order
    page.fill("input[name=amount]", too_much)
    page.click("text=Review the refund")
    assert page.locator("#confirm-form").count() == 0
    assert page.input_value("input[name=amount]") == too_much
    assert page.input_value("select[name=reason]") == "item_defective"
    page.fill("input[name=amount]", "10.00")
    page.click("text=Review the refund")
    sent = page.inner_text("#will-send")
    assert "10.00 USD" in sent and "% of the order total" in sent
    assert emulator.requests[SELLER_REFUND] == 0
    page.click("text=Yes, refund 10.00 USD")
    page.wait_for_url(f"**/admin/orders/order/{order.pk}/change/")
    assert emulator.requests[SELLER_REFUND] == 1


def _planned(emulator: Any, shop: Any, count: int) -> list[PlannedAction]:
    OfferRule.objects.create(account=shop, name="Counter at 90%", mode=Mode.PLAN, floor=70, target=90)
    keys = [synth_offer(emulator, shop, offered="420.00").reverb_id for _ in range(count)]
    return offers.run(shop, keys)


def test_approve_one_planned(page, live_server, admin_login, emulator, shop):
    (action,) = _planned(emulator, shop, 1)
    admin_login(page, live_server, role_user("boss", "Manager"))
    page.goto(f"{live_server.url}/admin/automation/plannedaction/?status__exact=planned")
    page.locator("button.approve-one").click()
    each = page.inner_text("#will-send-each")
    assert f"Counter at {action.price:.2f} USD" in each and "% of list price" in each
    assert "420.00 USD (78.5 % of list price)" in each  # what the buyer offered
    assert emulator.requests[COUNTER] == 0
    page.click("text=Yes, send 1 answer")
    page.wait_for_selector(".messagelist")
    assert emulator.requests[COUNTER] == 1


def test_approve_all_planned(page, live_server, admin_login, emulator, shop):
    planned = _planned(emulator, shop, 2)
    admin_login(page, live_server, role_user("boss", "Manager"))
    page.goto(f"{live_server.url}/admin/automation/plannedaction/")
    page.click("#approve-all")
    rows = page.locator("#will-send-each tbody tr")
    assert rows.count() == 2 and all(
        f"{a.price:.2f} USD" in page.inner_text("#will-send-each") for a in planned
    )
    assert emulator.requests[COUNTER] == 0
    page.click("text=Yes, send 2 answers")
    page.wait_for_selector(".messagelist")
    assert "2 sent to Reverb" in page.inner_text(".messagelist") and emulator.requests[COUNTER] == 2
