"""The fault proof (issue 7): with the emulator injecting 10% 5xx, 5% 429, 2% dropped connections and 5% lost
write responses, a full sync plus a reconciliation of a seeded shop ends with mirror == emulator for every
resource, no duplicate listing after creates whose answers may be lost, and no lost local edit."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from backoffice.actions import ActionError
from backoffice.models import ReconciliationReport
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.sync.reconcile import reconcile_account
from backoffice.sync.runner import sync_account
from emulator.faults import Faults
from listings.models import Listing
from tests.factories import AccountFactory
from tests.sync.test_sync_demo import assert_mirror_matches

pytestmark = pytest.mark.django_db

CREATES = 30
FAULTS = {"rate_5xx": 0.10, "rate_429": 0.05, "rate_drop": 0.02, "rate_lost_write": 0.05, "retry_after": 0}


class NoneSkuAsBlank:
    """The demo shop has a listing without a SKU: null on Reverb, "" in the mirror (the mapper's rule)."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator

    def state(self, name: str) -> dict[str, Any]:
        state = self.emulator.state(name)
        if name == "listings":
            for listing in state["listings"]:
                listing["sku"] = listing["sku"] or ""
        return state


def test_sync_and_reconciliation_survive_faults(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from listings import conditions, editing, services

    emulator.reset(seed=3, size="demo")
    monkeypatch.setattr(ReverbClient, "_delay", staticmethod(lambda attempt, error: 0.0))
    account = AccountFactory(name="faulty-shop")
    client = account.client(rate_limiter=UnlimitedRateLimiter(), sleep=lambda s: None)
    emulator.faults = Faults(seed=5, **FAULTS)

    runs = sync_account(account, full=True, client=client)
    assert all(run.ok for run in runs), [(run.resource, run.error) for run in runs]

    # A local edit, waiting to be pushed, on a listing Reverb does not change.
    edited = Listing.objects.filter(account=account, state="live").order_by("reverb_id").first()
    assert edited is not None
    editing.record_edits(edited, {"title": "Local title, not pushed yet"})
    edited.save(update_fields=["pending_changes"])

    # Creates through the service: a lost answer is looked up by SKU, never blindly sent again.
    created, messages = [], []
    for i in range(CREATES):
        data = {
            "sku": f"FAULT-{i}",
            "make": "Fender",
            "model": "Telecaster",
            "title": f"Fault test {i}",
            "price": {"amount": "999.00", "currency": "USD"},
            "condition": {"uuid": conditions.BRAND_NEW},
            "inventory": 1,
        }
        for _attempt in range(5):  # a failure the client may not retry (a 5xx on a POST) is tried again
            try:
                done = services.create_listing(account, data, actor=None, client=client)
            except ActionError:
                continue
            created.append(done.obj.reverb_id)
            messages.append(done.message)
            break
    assert len(created) == CREATES
    # The faults did hit the creates: a lost answer found by SKU, or a retry that found the listing there.
    assert any("answer was lost" in m or "already on Reverb" in m for m in messages), messages

    report = reconcile_account(account, client=client, notify=False)
    assert report.state != ReconciliationReport.State.FAILED, report.error
    total_requests = client.request_count

    emulator.faults = Faults()  # compare without faults
    listings = emulator.state("listings")["listings"]
    skus = Counter(x["sku"] for x in listings if x["sku"])
    assert [sku for sku, n in skus.items() if n > 1] == []  # no duplicate listing
    assert {f"FAULT-{i}" for i in range(CREATES)} <= set(skus)
    assert_mirror_matches(NoneSkuAsBlank(emulator))
    edited.refresh_from_db()
    assert edited.pending_changes["title"]["value"] == "Local title, not pushed yet"  # no lost local edit
    assert total_requests > 0
