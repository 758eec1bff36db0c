"""The stock API's Idempotency-Key under real overlap (threads on PostgreSQL, `pytest -m concurrency`):
the key is claimed with the batch it guards, so parallel twins apply once."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from backoffice.models import ReverbAccount, SyncLogEntry
from inventory.models import IdempotentRequest, StockIntent
from tests.concurrency import concurrency, errors, run_at_once
from tests.inventory.conftest import inventory_listing

pytestmark = [*concurrency, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/stock/"
THREADS = 6
ROUNDS = 5


def put(key: str, api_key: str, body: dict[str, Any]) -> tuple[int, bool, Any]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    answer = client.put(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    return answer.status_code, answer.has_header("Idempotent-Replayed"), answer.json()


def logged(listing_sku: str) -> int:
    return SyncLogEntry.objects.filter(resource="stock.in", sku=listing_sku).count()


def test_one_key_with_different_bodies_applies_exactly_once(account: ReverbAccount, key: str) -> None:
    """Before: every twin applied its quantity, then all but one were told 409 ("use a new key")."""
    listing = inventory_listing(account)
    for round_ in range(ROUNDS):
        before = logged(listing.sku)
        bodies = [{"items": [{"sku": listing.sku, "quantity": 10 * round_ + n + 1}]} for n in range(THREADS)]
        outcomes = run_at_once(put, [(f"diff-{round_}", key, body) for body in bodies])
        assert not errors(outcomes)
        statuses = sorted(o.value[0] for o in outcomes)
        assert statuses == [200] + [409] * (THREADS - 1), statuses
        winner = next(n for n, o in enumerate(outcomes) if o.value[0] == 200)
        assert not outcomes[winner].value[1]  # applied, not replayed
        assert StockIntent.objects.get(listing=listing).quantity == 10 * round_ + winner + 1
        assert logged(listing.sku) == before + 1  # the losers applied nothing
        assert IdempotentRequest.objects.filter(key=f"diff-{round_}").count() == 1


def test_one_key_with_the_same_body_applies_once_and_the_twins_replay(
    account: ReverbAccount, key: str
) -> None:
    listing = inventory_listing(account)
    for round_ in range(ROUNDS):
        before = logged(listing.sku)
        body = {"items": [{"sku": listing.sku, "quantity": 20 + round_}, {"sku": "NO-SUCH", "quantity": 1}]}
        outcomes = run_at_once(put, [(f"same-{round_}", key, body)] * THREADS)
        assert not errors(outcomes)
        assert [o.value[0] for o in outcomes] == [200] * THREADS
        assert sorted(o.value[1] for o in outcomes) == [False] + [True] * (THREADS - 1)  # one applied
        assert all(o.value[2] == outcomes[0].value[2] for o in outcomes)  # every twin: the first answer
        assert logged(listing.sku) == before + 1
        assert StockIntent.objects.get(listing=listing).quantity == 20 + round_
