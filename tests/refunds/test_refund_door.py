"""The money door for refunds (issue 24): an amount above what the order has left, or a blank amount, is
refused on the form before the confirmation (the error once, the typed values kept); a full refund is an
explicit tick shown as the amount it is; nothing reaches the emulator before "Yes"."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from refunds.services import refundable_amount
from tests.conftest import nothing_changes
from tests.orders.helpers import role_user
from tests.refunds.test_refunds import POST, PUT, buyer_request, paid_order

pytestmark = pytest.mark.django_db


def clerk() -> Client:
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    return client


def test_a_seller_refund_above_what_is_left_is_refused_before_the_confirmation(emulator, shop):
    order = paid_order(emulator, shop)
    left = refundable_amount(order)
    too_much = f"{left + Decimal('25.00'):.2f}"  # "900.00 USD on an 875 order"
    url = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    with nothing_changes(emulator, order):
        page = clerk().post(url, {"reason": "item_defective", "amount": too_much})
    html = page.content.decode()
    assert page.status_code == 200 and 'id="confirm-form"' not in html and "Yes, refund" not in html
    assert html.count("more than the order has left to refund") == 1  # once, not twice
    assert f'name="amount" value="{too_much}"' in html  # the typed amount survives
    assert '<option value="item_defective" selected>' in html
    assert emulator.requests[POST] == 0


def test_a_blank_amount_is_refused_and_a_full_refund_is_an_explicit_tick(emulator, shop):
    order = paid_order(emulator, shop)
    left = refundable_amount(order)
    url = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    client = clerk()
    with nothing_changes(emulator, order):
        blank = client.post(url, {"reason": "other", "amount": ""}).content.decode()
        assert "Type the amount to refund, or tick" in blank and 'id="confirm-form"' not in blank
        both = client.post(url, {"reason": "other", "amount": "5.00", "full": "on"}).content.decode()
        assert "not both" in both and 'id="confirm-form"' not in both
        full = client.post(url, {"reason": "other", "full": "on"}).content.decode()
    assert f"Yes, refund {left} USD" in full and "100.0 % of the order total" in full
    token = re.search(r'name="once_token" value="([^"]+)"', full).group(1)
    done = client.post(url, {"reason": "other", "full": "True", "confirmed": "yes", "once_token": token})
    assert done.status_code == 302 and emulator.requests[POST] == 1


def test_the_seller_refund_confirmation_shows_amount_and_percent_of_the_order(emulator, shop):
    order = paid_order(emulator, shop)
    url = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    with nothing_changes(emulator, order):
        html = clerk().post(url, {"reason": "other", "amount": "10.00"}).content.decode()
    share = (Decimal("1000") / order.amount_total).quantize(Decimal("0.1"))
    assert "Yes, refund 10.00 USD" in html and f"({share} % of the order total)" in html
    assert f"{refundable_amount(order)} USD" in html  # what is left before this one


def test_answering_a_request_above_the_refundable_is_refused_first(emulator, shop):
    refund = buyer_request(emulator, shop)
    left = refundable_amount(refund.order, refund)
    too_much = f"{left + Decimal('25.00'):.2f}"
    url = reverse("admin:refunds_refundrequest_respond", args=[refund.pk])
    with nothing_changes(emulator, refund):
        html = (
            clerk()
            .post(url, {"state": "approved", "amount": too_much, "note_to_buyer": "ok"})
            .content.decode()
        )
    assert 'id="confirm-form"' not in html and html.count("more than the order has left to refund") == 1
    assert f'name="amount" value="{too_much}"' in html and "ok</textarea>" in html
    assert emulator.requests[PUT] == 0


def test_answering_with_a_blank_amount_is_refused_a_denial_needs_none(emulator, shop):
    refund = buyer_request(emulator, shop)
    url = reverse("admin:refunds_refundrequest_respond", args=[refund.pk])
    client = clerk()
    with nothing_changes(emulator, refund):
        blank = client.post(url, {"state": "approved", "amount": ""}).content.decode()
        assert "Type the amount to refund" in blank and 'id="confirm-form"' not in blank
        denial = client.post(url, {"state": "denied", "amount": ""}).content.decode()
    assert "Yes, deny the refund" in denial


@pytest.mark.parametrize("role", ["Viewer", "Bookkeeper"])
def test_read_only_roles_cannot_reach_the_refund_pages(emulator, shop, role):
    refund = buyer_request(emulator, shop)
    client = Client()
    client.force_login(role_user("ro", role))
    queue = client.get(reverse("admin:refunds_refundrequest_queue"))
    assert queue.status_code == 403 or ">Respond<" not in queue.content.decode()
    with nothing_changes(emulator, refund):
        forged = client.post(
            reverse("admin:refunds_refundrequest_respond", args=[refund.pk]),
            {"state": "approved", "full": "True", "confirmed": "yes", "once_token": "t"},
        )
    assert forged.status_code == 403


def test_going_back_from_the_confirmation_keeps_an_unticked_full_refund_unticked(emulator, shop):
    order = paid_order(emulator, shop)
    url = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    with nothing_changes(emulator, order):
        html = (
            clerk()
            .post(url, {"reason": "other", "amount": "7.50", "full": "False", "back": "1"})
            .content.decode()
        )
    assert 'name="amount" value="7.50"' in html
    assert re.search(r'<input type="checkbox" name="full"[^>]*checked', html) is None


@pytest.mark.parametrize("role", ["Viewer", "Bookkeeper"])
def test_read_only_roles_see_no_refund_button_on_the_order_workbench(emulator, shop, role):
    order = paid_order(emulator, shop)
    client = Client()
    client.force_login(role_user("ro", role))
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    new_refund = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    assert page.status_code == 200 and new_refund not in page.content.decode()
    assert client.get(new_refund).status_code == 403
