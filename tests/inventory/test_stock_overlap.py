"""The stock API and queue under real overlap (issue 23): parallel bursts on one SKU, each call setting a
quantity and draining the account as an API call and its queued drain do, threads on PostgreSQL with their
own connections, against the in-process emulator (its store is guarded by its own lock).

Each round must end with Reverb at the last accepted quantity, the product's "on Reverb" equal to
Reverb's, and no quantity PUT twice; concurrent first updates of a SKU never fail."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
from rest_framework.test import APIClient

from backoffice.models import ReverbAccount
from backoffice.reverb.ratelimit import LocalTokenBucket
from inventory import services
from inventory.models import IntegrationCall, Source, StockIntent
from listings.models import Listing
from tests.concurrency import concurrency, errors, run_at_once
from tests.factories import ListingFactory
from tests.inventory.conftest import BRAND_NEW, emu_record, integration_for, inventory_listing

pytestmark = concurrency

ROUNDS, THREADS = 5, 20


class PutLog:
    """Every listing PUT body the clients sent (what left, retries included)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.quantities: list[int] = []

    def hook(self, method: str, url: str, body: bytes | None) -> None:
        if method == "PUT" and body and b'"inventory"' in body:
            with self.lock:
                self.quantities.append(json.loads(body)["inventory"])

    def duplicates(self) -> dict[int, int]:
        return {q: n for q, n in Counter(self.quantities).items() if n > 1}


@pytest.mark.django_db(transaction=True)
def test_parallel_bursts_end_with_reverb_at_the_last_quantity(account: ReverbAccount, emulator: Any) -> None:
    listing = inventory_listing(account)
    # The account's budget makes every send wait its turn, as Reverb's pace does: the window in which a
    # value read before the wait goes stale.
    budget = LocalTokenBucket(500.0, 1)
    puts = PutLog()

    def set_and_drain(quantity: int) -> None:
        mine = ReverbAccount.objects.get(pk=account.pk)
        row = services.set_stock(mine, [{"sku": listing.sku, "quantity": quantity}], source=Source.API)
        assert row.rows[0].status == "accepted"
        client = mine.client(rate_limiter=budget)
        client.send_hooks.append(puts.hook)
        services.drain(mine, client=client)

    services.set_stock(account, [{"sku": listing.sku, "quantity": 999}], source=Source.API)
    services.drain(account)  # the intent exists (first updates have their own test)
    for burst in range(ROUNDS):
        quantities = [1000 * (burst + 1) + n for n in range(THREADS)]
        assert not errors(run_at_once(set_and_drain, [(q,) for q in quantities]))
        intent = StockIntent.objects.get(listing=listing)
        on_reverb = emu_record(emulator, listing)["inventory"]
        assert intent.quantity in quantities  # the last accepted one
        assert (on_reverb, intent.status) == (intent.quantity, "sent"), f"burst {burst}"
        assert intent.sent_quantity == on_reverb and Listing.objects.get(pk=listing.pk).inventory == on_reverb
        assert not puts.duplicates(), f"burst {burst}: the same quantity PUT twice"


def first_update(key: str, sku: str, quantity: int) -> int:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api.put(
        "/api/v1/stock/", {"items": [{"sku": sku, "quantity": quantity}]}, format="json"
    ).status_code


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_updates_of_a_sku_never_fail(account: ReverbAccount, emulator: Any) -> None:
    _, key = integration_for(account)
    for burst in range(ROUNDS):
        listing = ListingFactory(account=account, inventory=1, condition_uuid=BRAND_NEW)  # no intent yet

        outcomes = run_at_once(first_update, [(key, listing.sku, 10 + n) for n in range(THREADS)])
        assert not errors(outcomes), f"burst {burst}"
        assert [o.value for o in outcomes] == [200] * THREADS, f"burst {burst}"
        intent = StockIntent.objects.get(listing=listing)
        assert intent.quantity in range(10, 10 + THREADS) and intent.status == "queued"
    assert not IntegrationCall.objects.exclude(status_code=200).exists()
