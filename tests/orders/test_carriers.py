"""One carrier list (issue 26, "one vocabulary"): Reverb's provider names and the shop's mappings
(orders/carriers.py) on every path that ships: the order's ship form, bulk ship (the queue's rows), the CSV
upload and the shipments API; an unknown carrier is refused with the same words on each, a mapped name is
sent as its Reverb provider on each, and the mapping form offers the names the paths accept."""

from __future__ import annotations

import html as html_lib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from orders import carriers
from orders.models import Order, ShippingProviderMapping
from tests.inventory.conftest import integration_for
from tests.orders.helpers import resync, role_user, ship_calls, simulate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]


def paid(emulator: Any, account: Any, n: int) -> list[Order]:
    numbers = [simulate(emulator, "new_order")["order_number"] for _ in range(n)]
    resync(account, "orders")
    return [Order.objects.get(account=account, order_number=x) for x in numbers]


def shipper() -> Client:
    client = Client()
    client.force_login(role_user("s", "Shipping"))
    return client


def answers_on_every_path(shop: Any, orders: list[Order], carrier: str, capture: Any) -> list[str]:
    """What each path says of one order shipped with `carrier` (the page's text, or the API row)."""
    client = shipper()
    form, rows, csv, api_order = orders
    url = reverse("admin:orders_order_bulk_ship")
    said = [
        client.post(
            reverse("admin:orders_order_ship", args=[form.pk]), {"provider": carrier, "tracking_number": "F1"}
        ),
        client.post(
            url,
            {
                "ids": str(rows.pk),
                "action": "preview",
                f"provider_{rows.pk}": carrier,
                f"tracking_{rows.pk}": "R1",
            },
        ),
        client.post(
            url,
            {
                "action": "upload",
                "account": shop.pk,
                "file": SimpleUploadedFile(
                    "s.csv",
                    f"order_number,provider,tracking_number\n{csv.order_number},{carrier},C1\n".encode(),
                ),
            },
        ),
    ]
    texts = [html_lib.unescape(r.content.decode()) if r.status_code == 200 else r["Location"] for r in said]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {integration_for(shop)[1]}")
    with capture(execute=True):
        body = {
            "items": [{"order_number": api_order.order_number, "carrier": carrier, "tracking_number": "A1"}]
        }
        row = api.post("/api/v1/shipments/", body, format="json").json()["rows"][0]
    return [*texts, row.get("error") or row.get("provider", "")]


def test_an_unknown_carrier_is_refused_the_same_way_on_every_path(
    emulator, shop, django_capture_on_commit_callbacks
):
    orders = paid(emulator, shop, 4)
    refusal = carriers.unknown("Pigeon Post")
    said = answers_on_every_path(shop, orders, "Pigeon Post", django_capture_on_commit_callbacks)
    assert [refusal in text for text in said] == [True, True, True, True], said
    assert ship_calls(emulator) == 0


def test_a_mapped_carrier_is_sent_as_its_reverb_name_on_every_path(
    emulator, shop, django_capture_on_commit_callbacks
):
    ShippingProviderMapping.objects.create(account=shop, local_name="UPS Ground", provider="UPS")
    orders = paid(emulator, shop, 4)
    said = answers_on_every_path(shop, orders, "ups ground", django_capture_on_commit_callbacks)
    assert "Unknown provider" not in " ".join(said)
    assert said[0].endswith(reverse("admin:orders_order_change", args=[orders[0].pk]))  # shipped, redirected
    assert "UPS (from “ups ground”)" in said[1] and "UPS (from “ups ground”)" in said[2]
    assert said[3] == "UPS"
    orders[0].refresh_from_db()
    assert orders[0].shipping_provider == "UPS"  # Reverb got its own name, not the shop's


def test_the_mapping_form_offers_the_names_the_ship_paths_accept(emulator, shop):
    manager = Client()
    manager.force_login(role_user("m", "Manager"))
    page = manager.get(reverse("admin:orders_shippingprovidermapping_add"))
    offered = [value for value, _ in page.context["adminform"].form.fields["provider"].choices]
    assert offered == carriers.reverb_names([shop]) and offered[-1] == "Other"
    assert "CanPar" in offered  # on Reverb's live list, not in the documented one
    assert set(offered) == set(carriers.lookup(shop).values())
