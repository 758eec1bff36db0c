"""On PostgreSQL the page upsert merges its parameters itself (psycopg re-parsed long statements on every
page): the statement sent must be exactly the one psycopg's own client-side binding builds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from backoffice.sync.engine import _bound_client_side, upsert_page
from listings.models import Listing
from listings.sync import map_listing
from tests.factories import AccountFactory, listing_payload

pytestmark = pytest.mark.django_db

ODD = "O'Brien's 100% \"mint\" \\ %s %(x)s ünïcödé 🎸"


def test_the_bound_statement_is_the_one_psycopg_would_send():
    if connection.vendor != "postgresql":
        pytest.skip("client-side binding is psycopg's (PostgreSQL)")
    sql = "SELECT %s, %s::jsonb, %s, %s, %s, %s, %s, %s"
    params = [
        ODD,
        '{"a": "%s \'x\'"}',
        Decimal("12.30"),
        datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        None,
        True,
        7,
        "",
    ]
    with connection.cursor() as cursor:
        bound = _bound_client_side(cursor, sql, params)
        assert bound == cursor.cursor.mogrify(sql, params)
        cursor.execute(bound)
        assert cursor.fetchone()[0] == ODD


def test_odd_text_round_trips_through_a_page_upsert():
    account = AccountFactory()
    payloads = [listing_payload(n, title=f"{ODD} {n}") for n in range(60)]
    upsert_page(Listing, account, [(*map_listing(p), p) for p in payloads])
    listing = Listing.objects.get(reverb_id="1007")
    assert listing.title == f"{ODD} 7" and listing.raw["title"] == f"{ODD} 7"


def test_elsewhere_nothing_is_bound_by_us():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite binds its own parameters")
    with connection.cursor() as cursor:
        assert _bound_client_side(cursor, "SELECT %s", [1]) is None
