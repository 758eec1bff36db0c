"""Seller-initiated refunds offer only what applies to the order (issue 26): a parcel's reasons (returned,
lost, damaged) and the conditional refund (approved later, once the item is back) once the order has
shipped; the reasons Reverb's enum adds (shipping adjustments, ...) are offered; what does not apply is
refused before anything is sent, on the form and in the service."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.actions import Refused
from orders.models import Order
from orders.services import ship_order
from refunds.models import RefundRequest
from refunds.services import request_refund
from tests.conftest import nothing_changes
from tests.orders.helpers import resync, role_user, simulate
from tests.refunds.test_refunds import POST

pytestmark = pytest.mark.django_db


def order_of(emulator: Any, shop: Any, *, shipped: bool) -> Order:
    number = simulate(emulator, "new_order")["order_number"]
    resync(shop, "orders")
    order = Order.objects.get(account=shop, order_number=number)
    if shipped:
        order = ship_order(order, actor=None, provider="UPS", tracking_number=f"1Z{number}")
    return order


def clerk() -> Client:
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    return client


def url_of(order: Order) -> str:
    return reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])


def test_an_unshipped_order_is_offered_no_parcel_reason_and_no_conditional_refund(emulator, shop):
    order = order_of(emulator, shop, shipped=False)
    client = clerk()
    html = client.get(url_of(order)).content.decode()
    assert 'value="sold_elsewhere"' in html and 'value="shipping_adjustments"' in html
    assert 'value="lost_shipment"' not in html and 'value="buyer_return"' not in html
    assert 'value="conditionally_approved"' not in html
    with nothing_changes(emulator, order):
        forged = client.post(url_of(order), {"reason": "lost_shipment", "amount": "5.00"}).content.decode()
        assert 'id="confirm-form"' not in forged and "Select a valid choice" in forged
        with pytest.raises(Refused, match="applies once the order has shipped"):
            request_refund(order, actor=None, reason="shipping_damage", amount="5.00")
        with pytest.raises(Refused, match="waits for the item to come back"):
            request_refund(order, actor=None, reason="other", amount="5.00", state="conditionally_approved")
    assert emulator.requests[POST] == 0


def test_a_shipped_order_can_be_refunded_once_the_item_is_back(emulator, shop):
    order = order_of(emulator, shop, shipped=True)
    client = clerk()
    page = client.get(url_of(order)).content.decode()
    assert 'value="lost_shipment"' in page and 'value="conditionally_approved"' in page
    data = {"reason": "buyer_return", "state": "conditionally_approved", "amount": "20.00"}
    with nothing_changes(emulator, order):
        asked = client.post(url_of(order), data).content.decode()
    assert "Yes, refund 20.00 USD once the item is back" in asked and "Refund once the item is back" in asked
    token = re.search(r'name="once_token" value="([^"]+)"', asked).group(1)
    done = client.post(url_of(order), {**data, "confirmed": "yes", "once_token": token})
    assert done.status_code == 302 and emulator.requests[POST] == 1
    sent = next(
        r for r in emulator.store.table("refund_requests").values() if r["order_number"] == order.order_number
    )
    assert (sent["state"], sent["reason"], str(sent["amount"])) == (
        "conditionally_approved",
        "buyer_return",
        "20.00",
    )
    refund = RefundRequest.objects.get(account=shop, order_number=order.order_number)
    assert refund.state == "conditionally_approved" and refund.initiated_by == "seller"


def test_a_shipping_adjustment_is_sent_at_once(emulator, shop):
    order = order_of(emulator, shop, shipped=False)
    refund = request_refund(order, actor=None, reason="shipping_adjustments", amount="7.50")
    assert refund.state == "approved" and emulator.requests[POST] == 1
