"""Orders' bump fee and tax party become columns, filled from the payloads already mirrored, before `raw`
becomes text (`PayloadField`): the payouts check read them inside `raw` in SQL, which a json column
would parse again for every order of the month.
"""

from django.db import migrations, models

import backoffice.models.mirror


def fill_from_payloads(apps, schema_editor):
    """The mapper's own reading of the two keys (an order synced after this tells them itself)."""
    from backoffice.sync.engine import MappingError
    from backoffice.sync.mapping import text
    from orders.sync import lenient_amount

    Order = apps.get_model("orders", "Order")
    batch = []
    # Every order, the keys looked for in Python: a jsonb key lookup would fail on the json column this
    # function also meets when its test runs it against the current schema.
    for order in Order.objects.only("pk", "raw").iterator(chunk_size=2000):
        raw = order.raw if isinstance(order.raw, dict) else {}
        if "bump_fee" not in raw and "tax_responsible_party" not in raw:
            continue
        order.bump_fee = lenient_amount(raw, "bump_fee")
        try:
            order.tax_responsible_party = text(raw, "tax_responsible_party", 40)
        except MappingError:  # an object or a list where text belongs: the mapper refuses such an order
            order.tax_responsible_party = ""
        batch.append(order)
        if len(batch) == 2000:
            Order.objects.bulk_update(batch, ["bump_fee", "tax_responsible_party"])
            batch = []
    Order.objects.bulk_update(batch, ["bump_fee", "tax_responsible_party"])


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_account_indexed_by_unique_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="bump_fee",
            field=models.DecimalField(
                blank=True, decimal_places=2, max_digits=12, null=True, verbose_name="bump fee"
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="tax_responsible_party",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.RunPython(fill_from_payloads, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="feedback",
            name="raw",
            field=backoffice.models.mirror.PayloadField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="order",
            name="raw",
            field=backoffice.models.mirror.PayloadField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="payment",
            name="raw",
            field=backoffice.models.mirror.PayloadField(blank=True, default=dict),
        ),
    ]
