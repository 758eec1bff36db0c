"""Refund states only Reverb sets (`cancelled`, `auto_approved`, `refund_sent`, API-NOTES 8): pulled into
the mirror, awaiting nobody (queue, inbox, dashboard count), listed by the admin's state filter."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from refunds.models import RefundRequest, awaiting_shop
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db
REVERB_STATES = ("cancelled", "auto_approved", "refund_sent")


def requests_in_reverb_states(emulator: Any) -> list[str]:
    """One buyer request per state only Reverb sets, on a shipped order; their order numbers."""
    numbers = []
    for state in REVERB_STATES:
        order = simulate(emulator, "new_order")
        emulator.store.table("orders")[order["order_number"]]["status"] = "shipped"
        request = simulate(emulator, "refund_request", order_number=order["order_number"])
        emulator.store.table("refund_requests")[int(request["id"])]["state"] = state
        numbers.append(order["order_number"])
    return numbers


def test_reverb_only_states_are_pulled_and_await_nobody(emulator, shop):
    numbers = requests_in_reverb_states(emulator)
    resync(shop, "orders", "refunds")
    mirrored = dict(
        RefundRequest.objects.filter(account=shop, order_number__in=numbers).values_list(
            "order_number", "state"
        )
    )
    assert sorted(mirrored.values()) == sorted(REVERB_STATES)
    assert not awaiting_shop().filter(order_number__in=numbers).exists()

    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    queue = client.get(reverse("admin:refunds_refundrequest_queue")).content.decode()
    inbox = client.get(reverse("cs_inbox")).content.decode()
    for number in numbers:
        assert number not in queue
        assert f"order {number}" not in inbox


def test_the_admin_state_filter_lists_every_documented_state(emulator, shop):
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    page = client.get(reverse("admin:refunds_refundrequest_changelist")).content.decode()
    for words in ("cancelled", "approved by Reverb", "refund sent", "awaiting your answer"):
        assert words in page
    refund_sent = client.get(reverse("admin:refunds_refundrequest_changelist") + "?state=refund_sent")
    assert refund_sent.status_code == 200
