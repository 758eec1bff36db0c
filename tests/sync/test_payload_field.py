"""A mirror's payload (`raw`) is a PayloadField: PostgreSQL `json`, the text as written, not `jsonb`. It
must read back as the same Python value on either database, and what a query needs from it is a column."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection

from backoffice.models import RemoteModel
from backoffice.sync.engine import upsert_page
from listings.models import Listing
from listings.sync import map_listing
from orders.models import Order
from tests.factories import AccountFactory, OrderFactory, listing_payload

pytestmark = pytest.mark.django_db


def test_every_mirror_payload_column_is_json_text_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("json against jsonb is PostgreSQL's distinction")
    tables = [m._meta.db_table for m in apps.get_models() if issubclass(m, RemoteModel)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, data_type FROM information_schema.columns "
            "WHERE column_name = 'raw' AND table_name = ANY(%s)",
            [tables],
        )
        types = dict(cursor.fetchall())
    assert len(types) == len(tables) >= 10 and set(types.values()) == {"json"}


def test_a_payload_reads_back_as_written_and_its_keys_can_still_be_selected():
    account = AccountFactory()
    payload = listing_payload(1, title="Fender “Strat” ünï 🎸", extras={"list": [1, 2.5, None, True]})
    upsert_page(Listing, account, [(*map_listing(payload), payload)])
    listing = Listing.objects.get(account=account)
    assert listing.raw == payload
    assert Listing.objects.values_list("raw__title", flat=True).get(pk=listing.pk) == payload["title"]
    listing.raw = {**payload, "title": "Saved by the ORM"}  # a save through Django's own JSON adapter
    listing.save(update_fields=["raw"])
    listing.refresh_from_db()
    assert listing.raw["title"] == "Saved by the ORM" and listing.raw["extras"] == payload["extras"]


def test_the_migration_fills_the_new_columns_from_the_payloads_already_mirrored():
    account = AccountFactory()
    both = OrderFactory(
        account=account, raw={"bump_fee": {"amount": "2.50"}, "tax_responsible_party": "reverb"}
    )
    plain = OrderFactory(account=account, raw={"bump_fee": "1.25"})
    neither = OrderFactory(account=account, raw={"order_number": "x"})
    migration = importlib.import_module("orders.migrations.0005_raw_stored_as_json")
    migration.fill_from_payloads(apps, None)
    filled = {o.pk: (o.bump_fee, o.tax_responsible_party) for o in Order.objects.filter(account=account)}
    assert filled == {
        both.pk: (Decimal("2.50"), "reverb"),
        plain.pk: (Decimal("1.25"), ""),
        neither.pk: (None, ""),
    }
