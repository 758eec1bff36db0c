"""POST /api/v1/shipments/: tracking from shipping tools, answered per row and shipped on Reverb once per
order by the bulk-ship job (orders/tracking_in.py), with the stock API's Idempotency-Key."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from backoffice.models import ApiCall, BulkJob, BulkJobItem
from inventory.models import IntegrationCall
from orders.models import Order, ShippingProviderMapping
from tests.factories import AccountFactory, OrderFactory
from tests.inventory.conftest import integration_for
from tests.orders.helpers import resync, simulate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]

URL = "/api/v1/shipments/"


def ship_writes(emulator: Any, order: Order | None = None) -> int:
    """Ship requests the emulator applied (of one order, or of all)."""
    if order is not None:
        return emulator.writes[f"POST /api/my/orders/selling/{order.order_number}/ship"]
    return sum(n for call, n in emulator.writes.items() if call.endswith("/ship"))


def paid_orders(emulator: Any, account: Any, n: int) -> list[Order]:
    numbers = [simulate(emulator, "new_order")["order_number"] for _ in range(n)]
    resync(account, "orders")
    return [Order.objects.get(account=account, order_number=x) for x in numbers]


@pytest.fixture
def api(shop: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {integration_for(shop)[1]}")
    return client


@pytest.fixture
def post(api: APIClient, django_capture_on_commit_callbacks: Any) -> Any:
    """POST a body; the job it queues runs when the request's transaction commits (inline worker)."""

    def send(items: list[dict[str, Any]], **headers: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(URL, {"items": items}, format="json", **headers)

    return send


def test_rows_are_answered_one_by_one_and_shipped_once(emulator, shop, post):
    fresh, shipped, shipped_other = paid_orders(emulator, shop, 3)
    post(
        [
            {"order_number": shipped.order_number, "carrier": "UPS", "tracking_number": "SAME-1"},
            {"order_number": shipped_other.order_number, "carrier": "UPS", "tracking_number": "FIRST-1"},
        ]
    )
    assert ship_writes(emulator) == 2
    theirs = OrderFactory(account=AccountFactory(name="other-shop"), order_number="OTHER-SHOP-1")
    answer = post(
        [
            {"order_number": fresh.order_number, "carrier": "USPS", "tracking_number": "NEW-1"},
            {"order_number": shipped.order_number, "carrier": "UPS", "tracking_number": "SAME-1"},
            {"order_number": shipped_other.order_number, "carrier": "UPS", "tracking_number": "OTHER-2"},
            {"order_number": "no-such-order", "carrier": "UPS", "tracking_number": "X-1"},
            {"order_number": theirs.order_number, "carrier": "UPS", "tracking_number": "X-2"},
            {"order_number": fresh.order_number + "0", "carrier": "Pigeon", "tracking_number": "X-3"},
            {"order_number": shipped.order_number, "carrier": "UPS", "tracking_number": "OTHER-3"},
        ]
    )
    assert answer.status_code == 200, answer.content
    data = answer.json()
    rows = data["rows"]
    job = BulkJob.objects.get(pk=data["job_id"])
    assert (data["accepted"], data["refused"], data["queued"], data["already_shipped"]) == (2, 5, 1, 1)
    assert rows[0] == {
        "order_number": fresh.order_number,
        "status": "queued",
        "carrier": "USPS",
        "provider": "USPS",
        "tracking_number": "NEW-1",
        "order_numbers": [fresh.order_number],
        "job_id": job.pk,
    }
    assert rows[1]["status"] == "already_shipped" and "job_id" not in rows[1]
    assert rows[2]["status"] == "refused" and "FIRST-1" in rows[2]["error"]
    assert "correct the tracking on Reverb" in rows[2]["error"] and shipped_other.web_url in rows[2]["error"]
    assert rows[3]["status"] == rows[4]["status"] == "refused"
    assert "Unknown order" in rows[3]["error"] and "Unknown order" in rows[4]["error"]  # not "another shop"
    assert rows[5]["status"] == "refused"  # unknown order number first: a carrier alone is checked below
    assert rows[6]["status"] == "refused" and "listed twice" in rows[6]["error"]
    # The job shipped the one order to send, once, through the admin's service (audited, written back).
    assert (job.kind, job.state, job.total, job.succeeded) == ("orders.ship", "succeeded", 1, 1)
    fresh.refresh_from_db()
    assert (fresh.status, fresh.shipping_provider, fresh.tracking_code) == ("shipped", "USPS", "NEW-1")
    assert ship_writes(emulator, fresh) == 1 and ship_writes(emulator) == 3
    assert ApiCall.objects.filter(action="orders.ship", target_key=fresh.order_number).count() == 1
    shipped_other.refresh_from_db()
    assert shipped_other.tracking_code == "FIRST-1"  # never changed by the refused row
    call = IntegrationCall.objects.filter(path=URL).latest("pk")
    assert (call.rows, call.accepted, call.refused) == (7, 2, 5) and "no-such-order" in call.error


def test_unknown_carrier_and_missing_values_are_refused_per_row(emulator, shop, post):
    (order,) = paid_orders(emulator, shop, 1)
    rows = post(
        [
            {"order_number": order.order_number, "carrier": "Pigeon Post", "tracking_number": "P-1"},
            {"order_number": order.order_number, "tracking_number": "P-2"},
            {"carrier": "UPS", "tracking_number": "P-3"},
            {
                "order_number": order.order_number,
                "bundle_id": "b",
                "carrier": "UPS",
                "tracking_number": "P-4",
            },
            {"order_number": order.order_number, "carrier": "UPS"},
            {
                "order_number": order.order_number,
                "carrier": "UPS",
                "tracking_number": "P-5",
                "ship_date": "soon",
            },
        ]
    ).json()["rows"]
    assert [r["status"] for r in rows] == ["refused"] * 6
    assert "Unknown provider 'Pigeon Post'" in rows[0]["error"]
    assert "No carrier" in rows[1]["error"] and "No order_number" in rows[2]["error"]
    assert "not both" in rows[3]["error"] and "No tracking number" in rows[4]["error"]
    assert "ship_date" in rows[5]["error"]
    assert ship_writes(emulator) == 0 and not BulkJob.objects.exists()


def test_the_account_provider_mapping_is_applied(emulator, shop, post):
    (order,) = paid_orders(emulator, shop, 1)
    ShippingProviderMapping.objects.create(account=shop, local_name="UPS Ground", provider="UPS")
    row = post(
        [{"order_number": order.order_number, "carrier": "ups ground", "tracking_number": "1Z-9"}]
    ).json()["rows"][0]
    assert (row["status"], row["carrier"], row["provider"]) == ("queued", "ups ground", "UPS")
    remote = emulator.store.table("orders")[order.order_number]
    assert (remote["shipping_provider"], remote["shipping_code"]) == ("UPS", "1Z-9")


def test_bundle_id_ships_every_order_of_the_bundle(emulator, shop, post):
    a, b = paid_orders(emulator, shop, 2)
    emulator.store.table("orders")[b.order_number]["order_bundle_id"] = a.order_bundle_id
    emulator.store.touch(emulator.store.table("orders")[b.order_number])
    resync(shop, "orders")
    data = post([{"bundle_id": a.order_bundle_id, "carrier": "DHL", "tracking_number": "BUN-1"}]).json()
    row = data["rows"][0]
    assert row["status"] == "queued" and row["bundle_id"] == a.order_bundle_id
    assert sorted(row["order_numbers"]) == sorted([a.order_number, b.order_number])
    for order in (a, b):
        order.refresh_from_db()
        assert (order.tracking_code, ship_writes(emulator, order)) == ("BUN-1", 1)
    again = post([{"bundle_id": a.order_bundle_id, "carrier": "DHL", "tracking_number": "BUN-1"}]).json()
    assert again["rows"][0]["status"] == "already_shipped" and ship_writes(emulator) == 2
    unknown = post([{"bundle_id": "no-such-bundle", "carrier": "DHL", "tracking_number": "BUN-2"}]).json()
    assert "Unknown bundle" in unknown["rows"][0]["error"]


def test_idempotency_key_replays_and_refuses_another_body(emulator, shop, post):
    (order,) = paid_orders(emulator, shop, 1)
    items = [{"order_number": order.order_number, "carrier": "UPS", "tracking_number": "IDEM-1"}]
    first = post(items, HTTP_IDEMPOTENCY_KEY="ship-1")
    again = post(items, HTTP_IDEMPOTENCY_KEY="ship-1")
    assert first.status_code == again.status_code == 200
    assert not first.has_header("Idempotent-Replayed") and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["rows"][0]["status"] == "queued"
    other = post([{**items[0], "tracking_number": "IDEM-2"}], HTTP_IDEMPOTENCY_KEY="ship-1")
    assert other.status_code == 409
    assert BulkJob.objects.count() == 1 and ship_writes(emulator, order) == 1


def test_an_order_waiting_in_a_job_is_not_queued_twice(emulator, shop, api, settings):
    settings.WORKER_BACKEND = "none"  # the first job waits for a worker
    (order,) = paid_orders(emulator, shop, 1)
    item = {"order_number": order.order_number, "carrier": "UPS", "tracking_number": "WAIT-1"}
    first = api.post(URL, {"items": [item]}, format="json").json()
    second = api.post(URL, {"items": [item, item]}, format="json").json()
    assert second["rows"][0] == {**first["rows"][0], "job_id": first["job_id"]}
    assert second["job_id"] is None and "listed twice" in second["rows"][1]["error"]
    other = api.post(URL, {"items": [{**item, "tracking_number": "WAIT-2"}]}, format="json").json()
    assert "already queued" in other["rows"][0]["error"]
    assert BulkJobItem.objects.filter(key=order.order_number).count() == 1 and ship_writes(emulator) == 0


def test_wrong_json_types_are_a_400_and_the_schema_documents_the_endpoint(shop, api, client):
    assert api.post(URL, {"items": [{"order_number": ["x"]}]}, format="json").status_code == 400
    assert api.post(URL, {"items": [{"tracking_number": 12}]}, format="json").status_code == 400
    assert api.post(URL, {"rows": []}, format="json").status_code == 400
    assert APIClient().post(URL, {"items": []}, format="json").status_code == 401
    spec = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = spec["paths"][URL]["post"]
    assert {"200", "400", "401", "406", "409", "413", "415", "500"} <= set(operation["responses"])
    statuses = spec["components"]["schemas"]["ShipmentRowAnswerStatusEnum"]["enum"]
    assert set(statuses) == {"queued", "already_shipped", "refused"}
