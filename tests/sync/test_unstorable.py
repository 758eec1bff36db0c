"""One value a column cannot hold costs its record, never the page or the resource's sync (issue 16 item 6).

These run on SQLite and, in CI, on PostgreSQL (DATABASE_URL=postgres://...): PostgreSQL refuses text longer
than its column, NUL characters and integers beyond 32 bits, all of which SQLite keeps.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from backoffice.models import SyncLogEntry, SyncRun
from backoffice.sync.engine import MappingError, upsert_page
from backoffice.sync.objects import upsert_objects
from backoffice.sync.runner import sync_resource
from listings.models import Listing
from listings.sync import map_listing
from tests.factories import AccountFactory, listing_payload, money
from tests.sync.fakes import FakeClient

pytestmark = pytest.mark.django_db

BAD = {
    "inventory 2**63": {"inventory": 2**63},
    "link over 500": {"_links": {"web": {"href": "https://reverb.com/item/" + "x" * 600}}},
    "currency DOLLARS": {"price": {"amount": "10.00", "currency": "DOLLARS"}},
    "NUL in the title": {"title": "Strat\x00ocaster"},
    "NUL deep in the payload": {"description": "fine", "extra": {"note": "a\x00b"}},
    "80-character id": {"id": "9" * 80},
    "price too large": {"price": money("1" * 30 + ".00")},
}
COLUMN = {
    "inventory 2**63": "inventory",
    "link over 500": "web_url",
    "currency DOLLARS": "currency",
    "NUL in the title": "title",
    "NUL deep in the payload": "raw",
    "80-character id": "id",
    "price too large": "price",
}


def page_with(bad: dict[str, Any]) -> list[dict[str, Any]]:
    return [listing_payload(1), listing_payload(2, **bad), listing_payload(3)]


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_value_is_logged_and_the_rest_of_the_page_lands(case: str) -> None:
    account = AccountFactory()
    gone = listing_payload(9)
    sync_resource(account, "listings", client=FakeClient(listings=[[listing_payload(2), gone]]))
    for again in (False, True):  # and again on the next run: nothing is stuck
        run = sync_resource(
            account, "listings", client=FakeClient(listings=[page_with(BAD[case])]), full=True
        )
        assert not run.error, run.error
        # The first run fails the record; the next one skips it (the same reason, already logged).
        assert (run.status, run.failed) == (
            (SyncRun.Status.SUCCESS, 0) if again else (SyncRun.Status.PARTIAL, 1)
        )
        stored = set(Listing.objects.filter(account=account).values_list("reverb_id", "missing"))
        assert {("1001", False), ("1003", False), ("1009", True)} <= stored  # the scan counted as complete
        if case != "80-character id":  # the bad record's key was seen: never marked missing
            assert ("1002", True) not in stored
        entry = SyncLogEntry.objects.filter(run=run).get()
        assert entry.status == (SyncLogEntry.Status.SKIPPED if again else SyncLogEntry.Status.FAILED)
        assert entry.message.startswith(f"not stored: {COLUMN[case]}: "), entry.message
        assert entry.raw["make"] == "Fender" and "\x00" not in str(entry.raw)  # the payload, storable


def test_integer_ranges_are_the_databases_own() -> None:
    """3,000,000,000 overflows PostgreSQL's integer column; SQLite's integers are 64-bit and keep it."""
    account = AccountFactory()
    result = upsert_page(
        Listing,
        account,
        [(*map_listing(p), p) for p in [listing_payload(1, inventory=3_000_000_000), listing_payload(2)]],
    )
    if connection.vendor == "postgresql":
        assert [reason for _, reason in result.rejected] == [
            "inventory: 3000000000 is outside the column's range -2147483648..2147483647"
        ]
        assert result.created == 1
    else:
        assert result.rejected == [] and result.created == 2
        assert Listing.objects.get(reverb_id="1001").inventory == 3_000_000_000


def test_writing_back_one_object_refuses_it_whole() -> None:
    account = AccountFactory()
    with pytest.raises(MappingError, match="title: contains a NUL"):
        upsert_objects(account, "listings", [listing_payload(1), listing_payload(2, title="a\x00b")])
    assert not Listing.objects.exists()


def test_good_values_at_the_limits_are_stored() -> None:
    account = AccountFactory()
    payload = listing_payload(
        1,
        title="t" * 500,
        id="9" * 64,
        inventory=2**31 - 1,
        price={"amount": "9" * 10 + ".99", "currency": "USD"},
    )
    result = upsert_page(Listing, account, [(*map_listing(payload), payload)])
    assert result.rejected == [] and result.created == 1
    assert Listing.objects.get().price == Decimal("9" * 10 + ".99")


def test_a_listing_reverb_counts_2_to_the_63_is_logged_once_failed_then_skipped(
    emulator: Any, settings: Any
) -> None:
    """Through the client and the emulator: one listing whose inventory no integer column holds. The rest
    lands, a person sees which listing and why, and the next pulls are not "partial" for ever because of
    it; a new reason, or the listing fixed on Reverb, is seen at once."""
    settings.REVERB_RATE_PER_SECOND, settings.REVERB_RATE_BURST = 100_000.0, 100_000
    account = AccountFactory()
    listings = emulator.store.table("listings")
    bad = next(iter(listings.values()))
    bad["inventory"] = 2**63

    def pull() -> tuple[SyncRun, list[tuple[str, str, str, str]]]:
        run = sync_resource(account, "listings", client=account.client(), full=True)
        entries = SyncLogEntry.objects.filter(run=run).values_list("status", "reverb_id", "sku", "message")
        return run, list(entries)

    run, entries = pull()
    assert (run.status, run.failed, run.error) == (SyncRun.Status.PARTIAL, 1, "")
    reason = f"not stored: inventory: {2**63} is outside the column's range "
    [(status, key, sku, message)] = entries
    assert (status, key, sku) == (SyncLogEntry.Status.FAILED, str(bad["id"]), bad["sku"])
    assert message.startswith(reason)
    stored = set(Listing.objects.filter(account=account).values_list("reverb_id", flat=True))
    assert stored == {str(key) for key in listings} - {str(bad["id"])}  # the rest of the page landed

    run, entries = pull()  # Reverb still says 2**63: known, skipped, the run is a success
    assert (run.status, run.failed) == (SyncRun.Status.SUCCESS, 0)
    assert entries == [(SyncLogEntry.Status.SKIPPED, str(bad["id"]), bad["sku"], message)]

    bad["inventory"] = -(2**63) - 1  # another bad value: a failure again
    run, entries = pull()
    assert (run.status, run.failed, entries[0][0]) == (SyncRun.Status.PARTIAL, 1, SyncLogEntry.Status.FAILED)

    bad["inventory"] = 3  # fixed on Reverb: stored, nothing logged
    run, entries = pull()
    assert (run.status, entries) == (SyncRun.Status.SUCCESS, [])
    assert Listing.objects.get(account=account, reverb_id=str(bad["id"])).inventory == 3


def test_each_column_kind_has_its_check() -> None:
    """The check per column kind (text, integer, decimal, JSON), none for the others (a bool)."""
    from backoffice.sync.engine import unstorable

    def why(**fields: Any) -> str | None:
        return unstorable(Listing, connection, "1", fields, "{}")

    assert why(title="a\x00b") == "title: contains a NUL character"
    assert why(title="t" * 501) == "title: 501 characters, more than the column's 500"
    assert why(inventory=True, has_inventory=3) is None  # a bool is no integer here; no check on a bool
    assert (why(inventory=-(2**63) - 1) or "").startswith(
        "inventory: -9223372036854775809 is outside the column's"
    )
    assert why(price=Decimal("NaN")) == "price: NaN is not a finite number"
    assert (
        why(price=Decimal("99999999999.999"))
        == "price: 99999999999.999 has more than the column's 10 whole digits"
    )
    assert why(price=Decimal("9999999999.994"), images=["a"]) is None  # rounds to 9999999999.99
    assert why(images=["a\x00b"]) == "images: contains a NUL character"
