"""Orders, payments and feedback through the client against the emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import ValidationError
from tests.reverb.conftest import simulate


def all_orders(client: ReverbClient, kind: str = "all", **filters: Any) -> list[dict[str, Any]]:
    return [row for page in client.orders(kind, per_page=3, **filters) for row in page.items]


def test_orders_by_kind(client: ReverbClient, emulator: Any) -> None:
    everything = all_orders(client)
    assert len(everything) == len(emulator.store.table("orders"))
    unpaid = all_orders(client, "unpaid")
    assert unpaid and all(o["status"] == "unpaid" for o in unpaid)
    awaiting = all_orders(client, "awaiting_shipment")
    assert awaiting and all(o["status"] == "paid" for o in awaiting)
    with pytest.raises(ValueError):
        client.orders("shipped")


def test_orders_created_and_updated_filters(client: ReverbClient, emulator: Any) -> None:
    now = emulator.store.now()
    assert all_orders(client, created_start=now + timedelta(days=1)) == []
    assert all_orders(client, updated_end=now - timedelta(days=3650)) == []
    new = simulate("new_order")
    recent = all_orders(client, updated_start=now - timedelta(seconds=1), created_end=now + timedelta(days=1))
    assert new["order_number"] in [o["order_number"] for o in recent]


def test_get_and_ship_an_order(client: ReverbClient) -> None:
    order = simulate("new_order")  # paid, to be shipped
    number = order["order_number"]
    assert client.get_order(number)["order_number"] == number
    with pytest.raises(ValidationError) as info:
        client.ship_order(number, "Pigeon Post", "X1")
    assert "provider" in info.value.field_errors()
    client.ship_order(number, "USPS", "9400111899223100000000", send_notification=False)
    shipped = client.get_order(number)
    assert shipped["status"] == "shipped" and shipped["shipping_code"] == "9400111899223100000000"


def test_mark_picked_up_with_and_without_date(client: ReverbClient, emulator: Any) -> None:
    first = simulate("new_order", local_pickup=True)
    client.mark_picked_up(first["order_number"])
    assert client.get_order(first["order_number"])["status"] == "picked_up"
    second = simulate("new_order", local_pickup=True)
    client.mark_picked_up(second["order_number"], date=emulator.store.now() - timedelta(hours=2))
    assert client.get_order(second["order_number"])["status"] == "picked_up"


def test_payments_list_filter_and_get(client: ReverbClient, emulator: Any) -> None:
    payments = [p for page in client.payments(per_page=2) for p in page.items]
    assert len(payments) == len(emulator.store.table("payments"))
    one = payments[0]
    assert client.get_payment(one["id"])["id"] == one["id"]
    by_order = [p for page in client.payments(order_id=one["order_number"]) for p in page.items]
    assert [p["order_number"] for p in by_order] == [one["order_number"]]
    future = emulator.store.now() + timedelta(days=1)
    assert [p for page in client.payments(created_start=future) for p in page.items] == []
    assert [p for page in client.payments(updated_start=future) for p in page.items] == []


def test_feedback_received_sent_leave_and_get(client: ReverbClient, emulator: Any) -> None:
    received = [f for page in client.feedback_received() for f in page.items]
    assert received and received[0]["rating"]
    assert client.get_seller_feedback(received[0]["order_number"])["id"] == received[0]["id"]

    order = simulate("new_order")
    client.ship_order(order["order_number"], "UPS", "1Z999AA10123456784")
    with pytest.raises(ValueError):
        client.leave_buyer_feedback(order["order_number"], 6, "great")
    left = client.leave_buyer_feedback(order["order_number"], 5, "Fast payment, thanks!")
    assert left["rating"] == 5
    assert client.get_buyer_feedback(order["order_number"])["message"] == "Fast payment, thanks!"
    assert left["id"] in [f["id"] for page in client.feedback_sent() for f in page.items]
