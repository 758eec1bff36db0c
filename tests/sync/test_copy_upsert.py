"""On PostgreSQL a page is COPYed into a session stage table and moved into the mirror with one
INSERT ... SELECT ... ON CONFLICT; SQLite keeps the multi-row INSERT. Both must store the very same
values, odd text included, and a page's transaction may skip the WAL flush only on its own."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from backoffice.sync.engine import commit_without_flush, ensure_statistics, upsert_page
from backoffice.sync.runner import sync_resource
from listings.models import Listing
from listings.sync import map_listing
from orders.models import Order
from orders.sync import map_order
from tests.factories import AccountFactory, ListingFactory, listing_payload, order_payload
from tests.sync.fakes import FakeClient

pytestmark = pytest.mark.django_db

# What COPY's text format escapes (tab, newline, backslash) and what SQL literals would (quotes, %).
ODD = "O'Brien's 100% \"mint\" \\ \t tab \n line \r %s %(x)s \\N ünïcödé 🎸"


def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the COPY path and synchronous_commit are PostgreSQL's")


def test_odd_text_round_trips_through_a_page_upsert():
    account = AccountFactory()
    payloads = [listing_payload(n, title=f"{ODD} {n}") for n in range(60)]
    upsert_page(Listing, account, [(*map_listing(p), p) for p in payloads])
    listing = Listing.objects.get(reverb_id="1007")
    assert listing.title == f"{ODD} 7" and listing.raw["title"] == f"{ODD} 7"
    assert Listing.objects.filter(account=account).count() == 60


def test_the_stage_is_left_empty_and_links_are_set_through_it():
    postgresql_only()
    account = AccountFactory()
    listing = ListingFactory(account=account, reverb_id="7001")
    payload = order_payload(1, product_id="7001")
    upsert_page(Order, account, [(*map_order(payload), payload)])
    assert Order.objects.get(account=account).listing_id == listing.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'stage_orders_order_%%'")
        (stage,) = cursor.fetchone()
        cursor.execute(f'SELECT count(*) FROM "{stage}"')
        assert cursor.fetchone()[0] == 0


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


@pytest.mark.django_db(transaction=True)
def test_only_a_page_transaction_of_its_own_skips_the_flush():
    postgresql_only()
    account = AccountFactory()

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

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


@pytest.mark.django_db(transaction=True)
def test_a_failed_write_outside_a_transaction_leaves_nothing_in_the_stage(monkeypatch):
    """Called without a transaction, the COPY and the INSERT still share one: when the INSERT fails, the
    COPYed rows go too, and the next page does not carry them into the mirror."""
    postgresql_only()
    import dataclasses

    from backoffice.sync import engine

    account = AccountFactory()
    plan = engine._plan
    monkeypatch.setattr(engine, "_plan", lambda *a: dataclasses.replace(plan(*a), sql="SELECT 1 / 0"))
    with pytest.raises(Exception, match="division by zero"):
        upsert_page(Listing, account, [(*map_listing(p), p) for p in [listing_payload(1)]])
    monkeypatch.setattr(engine, "_plan", plan)
    upsert_page(Listing, account, [(*map_listing(p), p) for p in [listing_payload(2)]])
    assert list(Listing.objects.filter(account=account).values_list("reverb_id", flat=True)) == ["1002"]
