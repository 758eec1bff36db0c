"""THE orders CSV: "Export selected orders" (OrderAdmin) and the payouts report's orders export both write
these columns through `order_rows`, and backoffice/csvfiles.py's writer. Money is written with two decimals
(`830.39`), whatever the database hands back for an annotation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from .models import Order, SkuMapping
from .slots import ORDER_CSV_COLUMNS

CHUNK = 2000
CENT = Decimal("0.01")


def money_cell(value: Any) -> Any:
    """An amount as a two-decimal string ('' when none): 830.39, never 830.390000000000."""
    if value is None or value == "":
        return ""
    try:
        return str(Decimal(str(value)).quantize(CENT))
    except InvalidOperation:
        return value


# (queryset field, CSV header, cell formatter or None)
ORDER_COLUMNS: list[tuple[str, str, Callable[[Any], Any] | None]] = [
    ("account__name", "account", None),
    ("order_number", "order number", None),
    ("order_bundle_id", "bundle", None),
    ("status", "status", None),
    ("remote_created_at", "created", None),
    ("paid_at", "paid", None),
    ("shipped_at", "shipped", None),
    ("buyer_name", "buyer", None),
    ("sku", "Reverb SKU", None),
    ("shop_sku", "shop SKU", None),
    ("title", "title", None),
    ("quantity", "quantity", None),
    ("currency", "currency", None),
    ("amount_product", "unit price", money_cell),
    ("amount_shipping", "shipping", money_cell),
    ("amount_tax", "tax", money_cell),
    ("amount_total", "total", money_cell),
    ("selling_fee", "selling fee", money_cell),
    ("direct_checkout_fee", "processing fee", money_cell),
    ("direct_checkout_payout", "payout (Reverb)", money_cell),
    ("shipping_provider", "shipping provider", None),
    ("tracking_code", "tracking number", None),
]


def formatted(
    rows: Iterator[tuple[Any, ...]], formats: list[Callable[[Any], Any] | None]
) -> Iterator[list[Any]]:
    for row in rows:
        yield [f(v) if f else v for f, v in zip(formats, row, strict=True)]


def order_rows(qs: QuerySet[Order]) -> tuple[list[str], Iterator[list[Any]]]:
    """(header, rows) of the orders CSV for any queryset of orders; one query, streamed."""
    mapped = SkuMapping.objects.filter(account_id=OuterRef("account_id"), reverb_sku=OuterRef("sku"))
    annotations: dict[str, Any] = {}
    columns = list(ORDER_COLUMNS)
    for added in ORDER_CSV_COLUMNS:  # the apps above add theirs at the end (payouts: what was paid out)
        annotations.update(added.annotations())
        columns.extend(added.columns)
    qs = qs.annotate(**annotations, shop_sku=Subquery(mapped.values("shop_sku")[:1]))
    rows = qs.values_list(*[name for name, _, _ in columns]).iterator(chunk_size=CHUNK)
    return [label for _, label, _ in columns], formatted(rows, [f for _, _, f in columns])
