"""On PostgreSQL a page goes into the mirror as one INSERT ... SELECT ... FROM unnest(<one binary array per
column>) ON CONFLICT; SQLite keeps the multi-row INSERT. Both must store the very same values, odd text
included, and refuse what a column cannot hold; a page's commit may skip the WAL flush only in a pull
that owns its transactions."""

from __future__ import annotations

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from backoffice.sync.engine import commit_without_flush, ensure_statistics, pull_session, upsert_page
from backoffice.sync.runner import sync_resource
from listings.models import Listing
from listings.sync import map_listing
from orders.models import Order
from orders.sync import map_order
from tests.factories import AccountFactory, ListingFactory, listing_payload, order_payload
from tests.sync.fakes import FakeClient

pytestmark = pytest.mark.django_db

# What text arrays and COPY escape (quotes, braces, tab, newline, backslash) and SQL literals would (%).
ODD = "O'Brien's 100% \"mint\" {a,b} NULL \\ \t tab \n line \r %s %(x)s \\N ünïcödé 🎸"


def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the array form and synchronous_commit are PostgreSQL's")


def test_odd_text_round_trips_through_a_page_upsert():
    account = AccountFactory()
    payloads = [listing_payload(n, title=f"{ODD} {n}") for n in range(60)]
    upsert_page(Listing, account, [(*map_listing(p), p) for p in payloads])
    listing = Listing.objects.get(reverb_id="1007")
    assert listing.title == f"{ODD} 7" and listing.raw["title"] == f"{ODD} 7"
    assert Listing.objects.filter(account=account).count() == 60


def test_links_are_set_from_the_key_in_the_same_statement():
    account = AccountFactory()
    listing = ListingFactory(account=account, reverb_id="7001")
    payloads = [order_payload(1, product_id="7001"), order_payload(2, product_id="")]
    with CaptureQueriesContext(connection) as queries:
        upsert_page(Order, account, [(*map_order(p), p) for p in payloads])
    assert dict(Order.objects.filter(account=account).values_list("reverb_id", "listing_id")) == {
        payloads[0]["order_number"]: listing.pk,
        payloads[1]["order_number"]: None,
    }
    # logged like any statement; the last SELECT is the instant alerts' "anyone listening?" (automation)
    assert [q["sql"].split()[0] for q in queries] == ["SELECT", "INSERT", "SELECT"]


def test_a_value_too_long_for_its_column_fails_the_write_not_truncated(monkeypatch):
    """`unstorable` keeps such rows out of a page; should one get past it, the array form must fail as
    a VALUES row would, never store a cut value (an explicit cast to varchar(n) would cut it)."""
    postgresql_only()  # SQLite does not enforce a varchar's length
    monkeypatch.setattr("backoffice.sync.engine.unstorable", lambda *args: None)
    account = AccountFactory()
    payload = listing_payload(1)
    key, fields = map_listing(payload)
    with pytest.raises(DataError), transaction.atomic():
        upsert_page(Listing, account, [(key, {**fields, "sku": "S" * 300}, payload)])
    assert not Listing.objects.filter(account=account).exists()


def test_a_row_written_by_another_writer_meanwhile_is_updated_not_duplicated(monkeypatch):
    """The SELECT said "new", then another writer inserted the key: the conflict updates what every new
    row of the page told, and clears the hash when some told more, so the next run writes the rest."""
    account = AccountFactory()
    full = listing_payload(1, title="From the page")
    partial = {k: v for k, v in listing_payload(2).items() if k != "sku"}
    ListingFactory(account=account, reverb_id="1001", title="Written meanwhile", sku="KEEP")
    monkeypatch.setattr("backoffice.sync.engine._existing", lambda *args: {})
    upsert_page(Listing, account, [(*map_listing(p), p) for p in (full, partial)])
    raced = Listing.objects.get(account=account, reverb_id="1001")
    assert raced.title == "From the page" and raced.sku == "KEEP" and raced.payload_hash == ""
    assert Listing.objects.filter(account=account).count() == 2


def setting(name: str = "synchronous_commit") -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_only_a_page_transaction_of_its_own_skips_the_flush():
    postgresql_only()
    account = AccountFactory()
    with transaction.atomic():
        commit_without_flush(Listing)
        assert setting() == "off"
        with transaction.atomic():  # a savepoint inside: the outer transaction decides
            commit_without_flush(Listing)
    assert setting() == "on"  # SET LOCAL: this transaction only
    with transaction.atomic():  # an action's transaction around a write-back: never relaxed
        ListingFactory(account=account)
        with transaction.atomic():
            commit_without_flush(Listing)
            assert setting() == "on"


@pytest.mark.django_db(transaction=True)
def test_a_pull_sets_its_session_for_bulk_writes_for_its_span_only(monkeypatch):
    """sync_resource turns synchronous_commit off and TOAST compression to lz4 once for the session,
    not per page, and resets both after, also when the pull raises; inside an action's transaction it
    leaves them alone."""
    postgresql_only()
    account = AccountFactory()
    seen = []
    monkeypatch.setattr(
        "backoffice.sync.runner.upsert_page",
        lambda *args, **kwargs: seen.append(setting()) or upsert_page(*args, **kwargs),
    )
    compression = setting("default_toast_compression")
    # A payload large enough for TOAST to compress (about 2 kB), in words that do compress.
    long = listing_payload(1, description=" ".join(f"word{n % 97}" for n in range(3000)))
    with CaptureQueriesContext(connection) as queries:
        sync_resource(account, "listings", client=FakeClient(listings=[[long], [listing_payload(2)]]))
    assert seen == ["off", "off"] and setting() == "on"
    assert setting("default_toast_compression") == compression
    assert not [q for q in queries if "SET LOCAL" in q["sql"]]  # the session's setting, once
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(raw) FROM listings_listing WHERE reverb_id = '1001'")
        stored = cursor.fetchone()[0]
        cursor.execute("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        assert stored == ("lz4" if "lz4" in cursor.fetchone()[0] else "pglz")
    with pytest.raises(RuntimeError), pull_session(Listing):
        raise RuntimeError("a pull that fails")
    assert setting() == "on"
    seen.clear()
    with transaction.atomic():
        sync_resource(account, "listings", client=FakeClient(listings=[[listing_payload(3)]]))
    assert seen == ["on"]


@pytest.mark.django_db(transaction=True)
def test_a_first_sync_gives_a_never_analyzed_table_statistics():
    postgresql_only()
    from backoffice.sync import engine

    engine._WITH_STATISTICS.clear()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'listings_listing'::regclass")
        if cursor.fetchone()[0] > 0:
            pytest.skip("this test database's table has statistics already")
    account = AccountFactory()
    upsert_page(Listing, account, [(*map_listing(p), p) for p in [listing_payload(n) for n in range(5)]])
    ensure_statistics(Listing)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'listings_listing'::regclass")
        assert cursor.fetchone()[0] == 5


def test_sync_resource_asks_for_statistics_of_the_table_it_wrote(monkeypatch):
    calls = []
    monkeypatch.setattr("backoffice.sync.runner.ensure_statistics", calls.append)
    account = AccountFactory()
    sync_resource(
        account, "listings", client=FakeClient(listings=[[listing_payload(1)], [listing_payload(2)]])
    )
    assert calls and set(calls) == {Listing}
