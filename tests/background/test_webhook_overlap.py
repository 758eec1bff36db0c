"""Workers processing the same webhook deliveries at the same moment (issue 23): the claim is a
compare-and-set, so each delivery is handled once, and one object's deliveries collapse into one re-read
whichever worker gets there first. Real threads on PostgreSQL (`pytest -m concurrency`)."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
from django.test import Client

from backoffice.background import webhooks
from backoffice.models import WebhookDelivery
from tests.concurrency import concurrency, errors, run_at_once
from tests.factories import AccountFactory

pytestmark = concurrency
State = WebhookDelivery.State
WORKERS = 4
ROUNDS = 3  # the race is a window of milliseconds: several rounds make a miss unlikely


def _store(account: Any, emulator: Any, copies: int) -> list[int]:
    client, url = Client(), f"/webhooks/reverb/{account.webhook_secret}/"
    for _ in range(copies):
        for order in emulator.state("orders")["orders"]:
            body = json.dumps({**order, "status": "fake"})
            response = client.post(
                url, body, content_type="application/json", HTTP_X_REVERB_TOPIC="orders/update"
            )
            assert response.status_code == 200
    return list(WebhookDelivery.objects.filter(account=account).values_list("pk", flat=True))


def _handle_all(ids: list[int]) -> list[tuple[str | None, str]]:
    return [webhooks.handle(pk) for pk in ids]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_workers_on_the_same_deliveries_reread_each_object_once(
    round_: int, emulator: Any, settings: Any
) -> None:
    settings.WORKER_BACKEND = "none"
    settings.REVERB_RATE_PER_SECOND, settings.REVERB_RATE_BURST = 100_000.0, 100_000
    account = AccountFactory(name=f"overlap-{round_}")
    orders = len(emulator.state("orders")["orders"])
    ids = _store(account, emulator, copies=3)
    orders_of_workers = [list(ids) for _ in range(WORKERS)]
    for order in orders_of_workers[1:]:
        random.Random(round_).shuffle(order)

    outcomes = run_at_once(_handle_all, [(order,) for order in orders_of_workers])

    assert errors(outcomes) == []
    takers = Counter(
        pk
        for order, outcome in zip(orders_of_workers, outcomes, strict=True)
        for pk, (state, _) in zip(order, outcome.value, strict=True)
        if state is not None
    )
    assert max(takers.values()) == 1  # no delivery taken by two workers
    taken = [state for outcome in outcomes for state, _ in outcome.value if state is not None]
    assert Counter(taken) == {State.PROCESSED: orders}  # each object re-read by one worker, once
    assert emulator.requests[("GET", "/api/my/orders/selling/{order_number}")] == orders
    rows = WebhookDelivery.objects.filter(account=account)
    assert Counter(rows.values_list("state", flat=True)) == {State.PROCESSED: len(ids)}
    readers = rows.filter(covered_by=None)
    assert sorted(readers.values_list("attempts", flat=True)) == [1] * orders  # each handled once
    assert rows.exclude(covered_by=None).filter(attempts=0).count() == len(ids) - orders
