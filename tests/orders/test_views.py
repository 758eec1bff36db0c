"""Order pages through Django's test client: roles and permissions (forged POSTs get 403), the bulk-ship
intermediate page, the one-time confirmation, packing slip, CSV export with shop SKUs."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.models import ApiCall, BulkJob
from orders.models import Order, SkuMapping
from tests.conftest import nothing_changes
from tests.orders.helpers import record_bodies, resync, role_user, ship_calls, simulate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]


def login(role: str | None, name: str = "u") -> Client:
    client = Client()
    client.force_login(role_user(name, role))
    return client


def paid(emulator: Any, account: Any, n: int = 1) -> list[Order]:
    numbers = [simulate(emulator, "new_order")["order_number"] for _ in range(n)]
    resync(account, "orders")
    return [Order.objects.get(account=account, order_number=x) for x in numbers]


@pytest.mark.parametrize("role,status", [("Viewer", 403), ("Customer service", 403), ("Shipping", 302)])
def test_ship_permission_per_role(emulator, shop, role, status):
    (order,) = paid(emulator, shop)
    with nothing_changes(emulator, order) if status == 403 else contextlib.nullcontext():
        response = login(role).post(
            reverse("admin:orders_order_ship", args=[order.pk]),
            {"provider": "UPS", "tracking_number": "R1", "send_notification": "on"},
        )
    assert response.status_code == status
    assert ship_calls(emulator) == (1 if status == 302 else 0)


@pytest.mark.parametrize(
    "name,args",
    [("admin:orders_order_picked_up", {}), ("admin:orders_order_feedback", {"rating": 5, "message": "x"})],
)
def test_viewer_cannot_forge_order_actions(emulator, shop, name, args):
    (order,) = paid(emulator, shop)
    with nothing_changes(emulator, order):
        assert login("Viewer").post(reverse(name, args=[order.pk]), args).status_code == 403


def test_bulk_ship_through_intermediate_page_and_double_submit(
    emulator, shop, django_capture_on_commit_callbacks
):
    orders = paid(emulator, shop, 3)
    client = login("Shipping")
    ids = ",".join(str(o.pk) for o in orders)
    url = reverse("admin:orders_order_bulk_ship")
    page = client.get(url, {"ids": ids})
    assert page.status_code == 200 and all(o.order_number in page.content.decode() for o in orders)
    data = {"ids": ids, "action": "preview", "send_notification": "1"}
    for i, o in enumerate(orders):
        data[f"provider_{o.pk}"] = "UPS"
        data[f"tracking_{o.pk}"] = f"B-{i}"
    preview = client.post(url, data)
    html = preview.content.decode()
    assert "Ship 3 orders" in html or "ship 3 orders" in html
    assert ship_calls(emulator) == 0  # nothing sent before the confirmation
    payload = re.search(r'name="payload" value="([^"]+)"', html).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"action": "confirm", "confirmed": "yes", "payload": payload})
        second = client.post(
            url, {"action": "confirm", "confirmed": "yes", "payload": payload}
        )  # the same form posted again
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert BulkJob.objects.filter(kind="orders.ship").count() == 1
    assert ship_calls(emulator) == 3
    progress = client.get(first["Location"])
    assert "Succeeded" in progress.content.decode()


def test_admin_action_redirects_to_bulk_page_and_is_hidden_from_viewers(emulator, shop):
    (order,) = paid(emulator, shop)
    changelist = reverse("admin:orders_order_changelist")
    response = login("Shipping", "s").post(
        changelist, {"action": "ship_selected", "_selected_action": [order.pk]}
    )
    assert response.status_code == 302 and f"ids={order.pk}" in response["Location"]
    viewer_page = login("Viewer", "v").get(changelist).content.decode()
    assert "ship_selected" not in viewer_page


def test_csv_upload_preview(emulator, shop):
    from django.core.files.uploadedfile import SimpleUploadedFile

    a, b = paid(emulator, shop, 2)
    csv_file = SimpleUploadedFile(
        "s.csv",
        f"order_number,provider,tracking_number\n{a.order_number},UPS,C1\n{b.order_number},Nope,C2\n".encode(),
    )
    response = login("Shipping").post(
        reverse("admin:orders_order_bulk_ship"), {"action": "upload", "account": shop.pk, "file": csv_file}
    )
    html = response.content.decode()
    assert "✔ will be sent" in html and "✘ not sent: Unknown provider" in html
    assert ship_calls(emulator) == 0


def test_order_page_shows_shop_sku_payments_and_packing_slip(emulator, shop):
    (order,) = paid(emulator, shop)
    resync(shop, "payments")
    SkuMapping.objects.create(account=shop, reverb_sku=order.sku, shop_sku="MY-SKU-1")
    client = login("Shipping")
    change = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "MY-SKU-1" in change and "Ship</a>" in change and "Payments on this order" in change
    assert "credit_card" in change
    slip = client.get(reverse("admin:orders_order_packing_slip", args=[order.pk])).content.decode()
    assert "MY-SKU-1" in slip and order.shipping_address["postal_code"] in slip
    export = client.post(
        reverse("admin:orders_order_changelist"), {"action": "export_csv", "_selected_action": [order.pk]}
    )
    assert "MY-SKU-1" in export.content.decode()


def bulk_preview(client: Client, orders: list[Order], notify: bool = True) -> str:
    """The signed payload of the bulk-ship preview (step 2), as the confirm button posts it."""
    data: dict[str, str] = {"ids": ",".join(str(o.pk) for o in orders), "action": "preview"}
    if notify:
        data["send_notification"] = "1"
    for i, o in enumerate(orders):
        data[f"provider_{o.pk}"] = "UPS"
        data[f"tracking_{o.pk}"] = f"P-{o.pk}-{i}"
    html = client.post(reverse("admin:orders_order_bulk_ship"), data).content.decode()
    return re.search(r'name="payload" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("role", ["Viewer", "Customer service"])
def test_bulk_ship_page_is_forbidden_without_the_ship_permission(
    emulator, shop, role, django_capture_on_commit_callbacks
):
    orders = paid(emulator, shop, 2)
    payload = bulk_preview(login("Shipping", "shipper"), orders)
    other = login(role, "other")
    url = reverse("admin:orders_order_bulk_ship")
    ids = ",".join(str(o.pk) for o in orders)
    with django_capture_on_commit_callbacks(execute=True):
        responses = [
            other.get(url, {"ids": ids}),
            other.post(url, {"ids": ids, "action": "preview", f"provider_{orders[0].pk}": "UPS"}),
            other.post(url, {"action": "confirm", "confirmed": "yes", "payload": payload}),
        ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert ship_calls(emulator) == 0 and not BulkJob.objects.exists()
    for order in orders:
        order.refresh_from_db()
        assert (order.status, order.tracking_code) == ("paid", "")


def test_ship_page_without_notification_tells_reverb_false(emulator, shop, monkeypatch):
    (order,) = paid(emulator, shop)
    sent = record_bodies(emulator, monkeypatch)
    response = login("Shipping").post(
        reverse("admin:orders_order_ship", args=[order.pk]), {"provider": "UPS", "tracking_number": "Q1"}
    )
    assert response.status_code == 302
    (body,) = [data for method, path, data in sent if method == "POST" and path.endswith("/ship")]
    assert body["send_notification"] is False


def test_bulk_ship_without_notification_tells_reverb_false(
    emulator, shop, monkeypatch, django_capture_on_commit_callbacks
):
    orders = paid(emulator, shop, 2)
    client = login("Shipping")
    payload = bulk_preview(client, orders, notify=False)
    sent = record_bodies(emulator, monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:orders_order_bulk_ship"),
            {"action": "confirm", "confirmed": "yes", "payload": payload},
        )
    bodies = [data for method, path, data in sent if method == "POST" and path.endswith("/ship")]
    assert len(bodies) == 2 and all(body["send_notification"] is False for body in bodies)


def test_reverb_field_error_is_shown_once(emulator, shop):
    """The message of a refusal by Reverb names each of Reverb's field errors exactly once."""

    (order,) = paid(emulator, shop)
    simulate(emulator, "order_changed", order_number=order.order_number, status="shipped")
    emulator.store.table("orders")[order.order_number]["shipped_at"] = emulator.store.now()
    response = login("Shipping").post(
        reverse("admin:orders_order_ship", args=[order.pk]),
        {"provider": "UPS", "tracking_number": "NEW", "send_notification": "on"},
        follow=True,
    )
    (text,) = [str(m) for m in response.context["messages"]]
    errors = ApiCall.objects.get(action="orders.ship").field_errors
    assert errors and text.startswith(f"Order {order.order_number}: Reverb refused:")
    for name, messages in errors.items():
        for message in messages:
            assert text.count(f"{name}: {message}") == 1, text
