"""Drop the `varchar_pattern_ops` copies of the mirror tables' text indexes, on PostgreSQL only.

For a CharField with `db_index=True` Django builds two indexes on PostgreSQL: a plain b-tree (`=`,
ranges, sorting) and a `<name>_like` copy with `varchar_pattern_ops`, which serves nothing but a
case-sensitive `LIKE 'prefix%'`. Nothing here runs one on a mirror table: lookups are `=`, and the
admin's searches are `UPPER(col) LIKE`, served by the trigram indexes of 0007. Every pulled row paid for
them all the same: 34 indexes to update per order written, 9 of them such copies (about 5% of a first
sync's time on PostgreSQL). They are implicit, not model state, so the migration drops them by their
definition. A text field added later with `db_index=True` would get its copy again: a test of
tests/admin/test_scale.py fails then, so its migration drops it too.
"""

from django.db import migrations

MIRROR_TABLES = [
    "listings_listing",
    "orders_order",
    "orders_payment",
    "orders_feedback",
    "refunds_refundrequest",
    "messaging_conversation",
    "messaging_message",
    "messaging_negotiation",
    "payouts_payout",
    "payouts_payoutlineitem",
]


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND indexdef LIKE '%%varchar_pattern_ops%%'",
            [MIRROR_TABLES],
        )
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0009_night_chunks"),
        ("listings", "0004_account_indexed_by_unique_key"),
        ("orders", "0004_account_indexed_by_unique_key"),
        ("refunds", "0004_account_indexed_by_unique_key"),
        ("messaging", "0003_account_indexed_by_unique_key"),
        ("payouts", "0003_account_indexed_by_unique_key"),
    ]

    # Undone by nothing: the copies served no query.
    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
