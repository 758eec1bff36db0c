"""Refund services against the emulator, the monthly count, and the pages' permissions."""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.actions import Refused
from backoffice.models import ApiCall, SyncLogEntry
from inventory.models import StockIntent
from inventory.returns import restock_returned
from orders.models import Order
from refunds.models import RefundRequest
from refunds.services import (
    refundable_amount,
    request_refund,
    respond_to_refund,
    seller_refunds_this_month,
)
from tests.conftest import nothing_changes
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db
PUT = ("PUT", "/api/my/refund_requests/selling/{refund_id}")
POST = ("POST", "/api/my/orders/selling/{order_number}/refund_requests")


def buyer_request(emulator: Any, account: Any) -> RefundRequest:
    order = simulate(emulator, "new_order")
    emulator.store.table("orders")[order["order_number"]]["status"] = "shipped"
    simulate(emulator, "refund_request", order_number=order["order_number"])
    resync(account, "orders", "refunds")
    return RefundRequest.objects.get(account=account, order_number=order["order_number"])


def test_approve_with_lower_amount(emulator, shop):
    refund = buyer_request(emulator, shop)
    lower = (refund.amount - Decimal("10.00")).quantize(Decimal("0.01"))
    respond_to_refund(refund, actor=None, state="approved", amount=lower)
    assert (refund.state, refund.amount) == ("approved", lower)
    assert ApiCall.objects.get(action="refunds.respond").status == ApiCall.Status.SUCCESS


def test_conditionally_approve_with_note_then_deny(emulator, shop):
    refund = buyer_request(emulator, shop)
    respond_to_refund(refund, actor=None, state="conditionally_approved", note_to_buyer="Send it back first")
    assert refund.state == "conditionally_approved" and refund.note_to_buyer == "Send it back first"
    respond_to_refund(refund, actor=None, state="denied")
    assert refund.state == "denied"


@pytest.mark.parametrize(
    "state,amount,expected",
    [
        ("approved", "100000.00", "more than the refundable"),
        ("approved", "0", "more than 0"),
        ("denied", "5.00", "no amount"),
        ("refund_sent", None, "cannot become"),
    ],
)
def test_respond_refusals_send_nothing(emulator, shop, state, amount, expected):
    refund = buyer_request(emulator, shop)
    with nothing_changes(emulator, refund, refund.order), pytest.raises(Refused, match=expected):
        respond_to_refund(refund, actor=None, state=state, amount=amount)
    assert emulator.requests[PUT] == 0
    assert ApiCall.objects.get(action="refunds.respond").status == ApiCall.Status.REFUSED


def test_final_request_cannot_be_answered_again(emulator, shop):
    refund = buyer_request(emulator, shop)
    respond_to_refund(refund, actor=None, state="denied")
    with nothing_changes(emulator, refund, refund.order), pytest.raises(Refused, match="cannot become"):
        respond_to_refund(refund, actor=None, state="approved")
    assert emulator.requests[PUT] == 1


def test_seller_initiated_refund_and_monthly_count(emulator, shop):
    number = simulate(emulator, "new_order")["order_number"]
    resync(shop, "orders")
    order = Order.objects.get(account=shop, order_number=number)
    before = seller_refunds_this_month(shop)
    with nothing_changes(emulator, order):
        with pytest.raises(Refused, match="Unknown reason"):
            request_refund(order, actor=None, reason="because", amount="5.00")
        with pytest.raises(Refused, match="refundable"):
            request_refund(order, actor=None, reason="sold_elsewhere", amount=refundable_amount(order) + 1)
    assert emulator.requests[POST] == 0
    refund = request_refund(order, actor=None, reason="sold_elsewhere", amount="5.00")
    assert refund.initiated_by == "seller" and refund.amount == Decimal("5.00")
    assert seller_refunds_this_month(shop) == before + 1
    order.refresh_from_db()
    assert refundable_amount(order) == order.amount_total - Decimal("5.00")


def test_unpaid_order_cannot_be_refunded(emulator, shop):
    number = simulate(emulator, "new_order", paid=False)["order_number"]
    resync(shop, "orders")
    order = Order.objects.get(order_number=number)
    with nothing_changes(emulator, order), pytest.raises(Refused, match="cannot be refunded"):
        request_refund(order, actor=None, reason="other", amount="1.00")
    assert not RefundRequest.objects.filter(order_number=number).exists()


@pytest.mark.parametrize("role,status", [("Viewer", 403), ("Shipping", 403), ("Customer service", 302)])
def test_respond_permission_per_role(emulator, shop, role, status):
    refund = buyer_request(emulator, shop)
    client = Client()
    client.force_login(role_user("u", role))
    with nothing_changes(emulator, refund) if status == 403 else contextlib.nullcontext():
        response = client.post(
            reverse("admin:refunds_refundrequest_respond", args=[refund.pk]),
            {"state": "denied", "confirmed": "yes", "once_token": "t-1"},
        )
    assert response.status_code == status
    assert emulator.requests[PUT] == (1 if status == 302 else 0)


def test_queue_and_seller_refund_page_warns_past_five(emulator, shop):
    refund = buyer_request(emulator, shop)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    queue = client.get(reverse("admin:refunds_refundrequest_queue")).content.decode()
    assert refund.reverb_id in queue and refund.order.buyer_name in queue
    for i in range(5):
        RefundRequest.objects.create(
            account=shop,
            reverb_id=f"s{i}",
            initiated_by="seller",
            remote_created_at=refund.remote_created_at.__class__.now(tz=refund.remote_created_at.tzinfo),
        )
    page = client.get(
        reverse("admin:refunds_refundrequest_new_for_order", args=[refund.order.pk])
    ).content.decode()
    assert "fee-warning" in page
    viewer = Client()
    viewer.force_login(role_user("v", "Viewer"))
    with nothing_changes(emulator, refund.order):
        forged = viewer.post(
            reverse("admin:refunds_refundrequest_new_for_order", args=[refund.order.pk]),
            {"reason": "other", "amount": "1.00"},
        )
    assert forged.status_code == 403 and emulator.requests[POST] == 0


def paid_order(emulator: Any, account: Any) -> Order:
    number = simulate(emulator, "new_order")["order_number"]
    resync(account, "orders")
    return Order.objects.get(account=account, order_number=number)


def test_refund_of_an_order_in_another_currency_is_refused(emulator, shop):
    order = paid_order(emulator, shop)
    Order.objects.filter(pk=order.pk).update(currency="EUR")
    order.refresh_from_db()
    with (
        nothing_changes(emulator, order),
        pytest.raises(Refused, match="shop currency USD, but this order is in EUR"),
    ):
        request_refund(order, actor=None, reason="other", amount="5.00")
    assert emulator.requests[POST] == 0
    assert not RefundRequest.objects.filter(order_number=order.order_number).exists()
    assert ApiCall.objects.get(action="refunds.request").status == ApiCall.Status.REFUSED


def _refunds_this_month(account: Any, initiated_by: str, n: int) -> None:
    from django.utils import timezone

    for i in range(n):
        RefundRequest.objects.create(
            account=account, reverb_id=f"{initiated_by}-{i}", initiated_by=initiated_by,
            remote_created_at=timezone.now(),
        )  # fmt: skip


def new_refund_page(order: Order) -> str:
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    url = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    return client.get(url).content.decode()


@pytest.mark.parametrize("seller,buyer,warned", [(0, 0, False), (4, 0, False), (0, 6, False), (5, 0, True)])
def test_only_seller_initiated_refunds_count_toward_the_free_five(emulator, shop, seller, buyer, warned):
    RefundRequest.objects.filter(account=shop).delete()
    order = paid_order(emulator, shop)
    _refunds_this_month(shop, "seller", seller)
    _refunds_this_month(shop, "buyer", buyer)
    assert seller_refunds_this_month(shop) == seller
    page = new_refund_page(order)
    assert f"made <strong>{seller}</strong> seller-initiated" in page
    assert ("fee-warning" in page) is warned


def test_approving_asks_first_repeating_the_amount(emulator, shop):
    refund = buyer_request(emulator, shop)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    url = reverse("admin:refunds_refundrequest_respond", args=[refund.pk])
    lower = (refund.amount - Decimal("10.00")).quantize(Decimal("0.01"))
    with nothing_changes(emulator, refund):
        asked = client.post(url, {"state": "approved", "amount": str(lower)})
    page = asked.content.decode()
    assert asked.status_code == 200 and 'id="will-send"' in page and f"Yes, refund {lower}" in page
    assert emulator.requests[PUT] == 0
    done = client.post(
        url, {"state": "approved", "amount": str(lower), "confirmed": "yes", "once_token": "t-1"}
    )
    assert done.status_code == 302 and emulator.requests[PUT] == 1
    refund.refresh_from_db()
    assert (refund.state, refund.amount) == ("approved", lower)


def test_seller_refund_is_not_prefilled_and_is_confirmed(emulator, shop):
    order = paid_order(emulator, shop)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    url = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    form = client.get(url).content.decode()
    assert f'value="{order.amount_total}"' not in form and 'name="amount"' in form
    with nothing_changes(emulator, order):
        asked = client.post(url, {"reason": "other", "amount": "7.50"})
    assert asked.status_code == 200 and "Yes, refund 7.50 USD" in asked.content.decode()
    assert emulator.requests[POST] == 0
    token = re.search(r'name="once_token" value="([^"]+)"', asked.content.decode()).group(1)  # single-use
    done = client.post(url, {"reason": "other", "amount": "7.50", "confirmed": "yes", "once_token": token})
    assert done.status_code == 302 and emulator.requests[POST] == 1
    assert RefundRequest.objects.get(order_number=order.order_number).amount == Decimal("7.50")


def test_going_back_from_the_confirmation_keeps_the_typed_values_and_sends_nothing(emulator, shop):
    order = paid_order(emulator, shop)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    url = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    with nothing_changes(emulator, order):
        back = client.post(url, {"reason": "other", "amount": "7.50", "back": "1"})
    html = back.content.decode()
    assert back.status_code == 200 and 'value="7.50"' in html and 'id="will-send"' not in html
    assert emulator.requests[POST] == 0


# ---- "item returned, put it back in stock?" ------------------------------------------------------------


def returned_request(emulator: Any, account: Any) -> RefundRequest:
    """A buyer's refund request on an order whose listing the back office mirrors."""
    refund = buyer_request(emulator, account)
    resync(account, "listings", "orders")
    refund.refresh_from_db()
    assert refund.order is not None and refund.order.listing is not None
    return refund


def stock_rows(account: Any) -> list[SyncLogEntry]:
    return list(SyncLogEntry.objects.filter(account=account, resource="stock.in"))


def test_approving_with_restock_queues_the_returned_quantity(emulator, shop):
    refund = returned_request(emulator, shop)
    listing = refund.order.listing
    respond_to_refund(refund, actor=None, state="approved", restock=True)
    assert refund.state == "approved" and "Put back in stock" in refund.restock_note
    intent = StockIntent.objects.get(listing=listing)
    assert intent.quantity == (listing.inventory or 0) + refund.order.quantity
    assert (intent.source, intent.status) == ("refund", "queued")
    (row,) = stock_rows(shop)
    assert row.raw["source"] == "refund" and row.reverb_id == listing.reverb_id
    assert refund.reverb_id in row.raw["detail"]


def test_approving_without_restock_and_denying_change_no_stock(emulator, shop):
    refund = returned_request(emulator, shop)
    respond_to_refund(refund, actor=None, state="approved")
    other = returned_request(emulator, shop)
    respond_to_refund(other, actor=None, state="denied", restock=True)
    assert other.state == "denied"
    assert not StockIntent.objects.exists() and not stock_rows(shop)


def test_conditional_approval_does_not_restock(emulator, shop):
    refund = returned_request(emulator, shop)
    respond_to_refund(refund, actor=None, state="conditionally_approved", restock=True)
    assert not StockIntent.objects.exists()


def test_restock_happens_once_per_refund(emulator, shop):
    refund = returned_request(emulator, shop)
    listing = refund.order.listing
    respond_to_refund(refund, actor=None, state="approved", restock=True)
    quantity = StockIntent.objects.get(listing=listing).quantity
    with pytest.raises(Refused, match="cannot become"):  # a second approval is refused before anything
        respond_to_refund(refund, actor=None, state="approved", restock=True)
    assert "Already" in restock_returned(refund)  # and the restock itself is once per request
    assert StockIntent.objects.get(listing=listing).quantity == quantity
    assert len(stock_rows(shop)) == 1


def test_the_respond_page_asks_confirms_and_restocks_once(emulator, shop):
    refund = returned_request(emulator, shop)
    listing = refund.order.listing
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    url = reverse("admin:refunds_refundrequest_respond", args=[refund.pk])
    form = client.get(url).content.decode()
    assert 'name="restock"' in form and "put it back in stock?" in form
    assert "style=" not in form and "onclick" not in form
    with nothing_changes(emulator, refund):
        asked = client.post(url, {"state": "approved", "full": "on", "restock": "on"})
    page = asked.content.decode()
    assert asked.status_code == 200 and "put back: +1" in page and 'name="restock"' in page
    assert not StockIntent.objects.exists()
    data = {"state": "approved", "full": "True", "restock": "True", "confirmed": "yes", "once_token": "t-1"}
    done = client.post(url, data, follow=True)
    assert done.status_code == 200 and "Put back in stock" in done.content.decode()
    again = client.post(url, data, follow=True)  # the same confirmation sent twice
    assert "Put back in stock" not in again.content.decode()
    assert emulator.requests[PUT] == 1
    assert StockIntent.objects.get(listing=listing).quantity == (listing.inventory or 0) + 1
    assert len(stock_rows(shop)) == 1


def test_the_respond_page_without_the_box_changes_no_stock(emulator, shop):
    refund = returned_request(emulator, shop)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    url = reverse("admin:refunds_refundrequest_respond", args=[refund.pk])
    asked = client.post(url, {"state": "approved", "full": "on"})
    assert "unchanged" in asked.content.decode()
    client.post(
        url, {"state": "approved", "full": "True", "restock": "False", "confirmed": "yes", "once_token": "t"}
    )
    refund.refresh_from_db()
    assert refund.state == "approved" and not StockIntent.objects.exists() and not stock_rows(shop)
