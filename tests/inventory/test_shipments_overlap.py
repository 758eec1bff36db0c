"""POST /api/v1/shipments/ under real overlap (threads on PostgreSQL, `pytest -m concurrency`): batches that
name one order at the same moment queue it once, whatever their Idempotency-Keys."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from backoffice.models import BulkJobItem
from orders.models import Order
from tests.concurrency import concurrency, errors, run_at_once
from tests.inventory.conftest import integration_for
from tests.orders.helpers import resync, simulate

pytestmark = [*concurrency, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/shipments/"
THREADS = 5


def post(api_key: str, body: dict[str, Any], key: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    answer = client.post(URL, body, format="json", **headers)
    return answer.status_code, answer.json()


def test_batches_naming_one_order_at_once_queue_it_once(emulator: Any, shop: Any, settings: Any) -> None:
    settings.WORKER_BACKEND = "none"  # the job waits: the overlap is between the batches
    number = simulate(emulator, "new_order")["order_number"]
    resync(shop, "orders")
    order = Order.objects.get(account=shop, order_number=number)
    _, api_key = integration_for(shop)
    body = {"items": [{"order_number": order.order_number, "carrier": "UPS", "tracking_number": "RACE-1"}]}
    outcomes = run_at_once(post, [(api_key, body, f"k-{n}" if n % 2 else "") for n in range(THREADS)])
    assert not errors(outcomes), errors(outcomes)
    rows = [o.value[1]["rows"][0] for o in outcomes]
    assert {o.value[0] for o in outcomes} == {200}
    assert {r["status"] for r in rows} == {"queued"} and len({r["job_id"] for r in rows}) == 1, rows
    assert BulkJobItem.objects.filter(key=order.order_number).count() == 1
