"""pg_trgm GIN indexes behind the admin's text search on the big tables, on PostgreSQL only.

The admin searches with `icontains`/`iexact`, which Django writes on PostgreSQL as
`UPPER("col"::text) LIKE UPPER('%term%')` (or `=`): a btree cannot serve a leading wildcard, and one
unindexed column in the OR of search fields makes the planner scan the whole table. So every text field in
the orders' and listings' `search_fields` gets a trigram index on UPPER(col) (pg_trgm serves LIKE and, from
PostgreSQL 14, `=`). The indexes are expressions, not model state: SQLite runs nothing here.
"""

from django.db import migrations

# (table, column) for every text field the order and listing changelists search.
SEARCHED = [
    ("orders_order", "order_number"),
    ("orders_order", "sku"),
    ("orders_order", "buyer_name"),
    ("orders_order", "title"),
    ("orders_order", "order_bundle_id"),
    ("orders_order", "tracking_code"),
    ("listings_listing", "sku"),
    ("listings_listing", "title"),
    ("listings_listing", "make"),
    ("listings_listing", "model"),
    ("listings_listing", "reverb_id"),
]


def index_name(table: str, column: str) -> str:
    return f"{table}_{column}_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in SEARCHED:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{index_name(table, column)}" '
            f'ON "{table}" USING gin (UPPER("{column}") gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in SEARCHED:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{index_name(table, column)}"')


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0006_memberships_and_once_keys"),
        ("orders", "0002_alter_order_options_shipbatch_and_more"),
        ("listings", "0003_csv_import_preview"),
    ]

    operations = [migrations.RunPython(create, drop)]
