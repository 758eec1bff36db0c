"""A complete scan read ahead: the next page is fetched, mapped and hashed on a helper thread while this
one is written (backoffice/sync/pipeline.py, runner.premap), and lands as a page worked out as it lands."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from django.db import connection

from backoffice.models import SyncLogEntry
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.sync import registry, runner
from backoffice.sync.engine import Ahead, PageResult, _storable_rows, upsert_page, work_out_ahead
from backoffice.sync.runner import sync_resource
from listings.models import Listing
from listings.sync import map_listing
from tests.factories import AccountFactory, listing_payload
from tests.sync.fakes import FakeClient

pytestmark = pytest.mark.django_db


def pages() -> list[list[dict[str, Any]]]:
    bad = listing_payload(2, price={"amount": "a lot", "currency": "USD"})
    return [
        [listing_payload(1), bad, listing_payload(3)],
        [listing_payload(4, title="Bass 4"), listing_payload(4, title="Bass 4, again"), listing_payload(5)],
    ]


def reading_ahead(**collections: Any) -> FakeClient:
    """A client whose pages are read ahead: a process-local rate limiter, as the workers' own pulls."""
    client = FakeClient(**collections)
    client.rate_limiter = UnlimitedRateLimiter()  # type: ignore[attr-defined]
    return client


def mirror(account: Any) -> list[tuple[Any, ...]]:
    return sorted(
        Listing.objects.filter(account=account).values_list(
            "reverb_id", "title", "price", "raw", "payload_hash"
        )
    )


def test_a_page_read_ahead_is_worked_out_on_the_helper_thread_and_lands_as_one_worked_out_on_landing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    premap = runner.premap

    def watched(resource: Any, payloads: Any) -> Any:
        threads.append(threading.current_thread().name)
        return premap(resource, payloads)

    monkeypatch.setattr(runner, "premap", watched)
    ahead, now = AccountFactory(), AccountFactory()
    read_ahead = sync_resource(ahead, "listings", client=reading_ahead(listings=pages()))
    assert threads == ["sync-read-ahead", "sync-read-ahead"]

    threads.clear()
    as_it_lands = sync_resource(now, "listings", client=FakeClient(listings=pages()))
    assert threads == []  # no read-ahead: worked out as each page lands

    counts = ("status", "pages", "fetched", "created", "updated", "unchanged", "failed")
    assert [getattr(read_ahead, c) for c in counts] == [getattr(as_it_lands, c) for c in counts]
    assert (read_ahead.created, read_ahead.failed) == (4, 1)
    assert [row[:1] + row[2:] for row in mirror(ahead)] == [row[:1] + row[2:] for row in mirror(now)]
    assert Listing.objects.get(account=ahead, reverb_id="1004").title == "Bass 4, again"  # the last one wins
    logged = SyncLogEntry.objects.values_list("reverb_id", "status", "message")
    assert list(logged.filter(account=ahead)) == list(logged.filter(account=now))


def test_a_mapper_bug_on_a_page_read_ahead_fails_the_run_after_the_pages_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listings = registry.get("listings")

    def mapper(payload: dict[str, Any]) -> Any:
        if payload["id"] == 1004:
            raise RuntimeError("a bug, not a malformed record")
        return map_listing(payload)

    buggy = dataclasses.replace(listings, mapper=mapper)
    monkeypatch.setattr(runner.registry, "get", lambda name: buggy if name == "listings" else listings)
    account = AccountFactory()
    run = sync_resource(account, "listings", client=reading_ahead(listings=pages()))
    assert run.status == "failed" and "a bug, not a malformed record" in run.error
    assert set(Listing.objects.values_list("reverb_id", flat=True)) == {"1001", "1003"}


def test_what_was_worked_out_ahead_is_used_only_for_the_very_fields_it_was_worked_out_for() -> None:
    account = AccountFactory()
    payload = listing_payload(1)
    key, fields = map_listing(payload)
    worked_out = work_out_ahead(Listing, [(key, fields, payload)])[key]
    assert worked_out.unstorable is None
    # Said unstorable ahead for these fields: the upsert takes that answer without asking again.
    refused = {key: dataclasses.replace(worked_out, unstorable="title: refused ahead")}
    result = upsert_page(Listing, account, [(key, fields, payload)], ahead=refused)
    assert [reason for _, reason in result.rejected] == ["title: refused ahead"]
    # For other fields (a copy), what was worked out ahead is not theirs: worked out again, and stored.
    latest, canonicals = _storable_rows(
        Listing, connection, [(key, dict(fields), payload)], PageResult(), refused
    )
    assert list(latest) == [key] and canonicals[key] == worked_out.canonical


def test_the_hash_worked_out_ahead_is_the_one_stored() -> None:
    account = AccountFactory()
    payload = listing_payload(1)
    key, fields = map_listing(payload)
    worked_out = work_out_ahead(Listing, [(key, fields, payload)])[key]
    marked = {key: Ahead(fields, worked_out.canonical, "0" * 32, None)}
    upsert_page(Listing, account, [(key, fields, payload)], ahead=marked)
    assert Listing.objects.get(account=account).payload_hash == "0" * 32
