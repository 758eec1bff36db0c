"""CSV exports for accounting: orders paid and payout line items within a period, streamed row by row
(StreamingHttpResponse over a csv writer over `.iterator()`, so memory stays flat for any range)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import StreamingHttpResponse

from backoffice.csvfiles import csv_response
from backoffice.models.account import account_zones
from orders.models import Order

from .matching import Period
from .models import PayoutLineItem

CHUNK = 2000


def stream_csv(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    return csv_response(filename, header, rows)  # type: ignore[return-value]  # streamed


def sku_mapping_model() -> Any | None:
    """orders.SkuMapping when that app ships it (shop SKU <-> Reverb SKU); the column exists only then."""
    try:
        return apps.get_model("orders", "SkuMapping")
    except LookupError:
        return None


def _shop_sku_subquery(model: Any) -> Subquery | None:
    names = {f.name for f in model._meta.get_fields()}
    reverb_field = next((n for n in ("reverb_sku", "sku") if n in names), None)
    shop_field = next((n for n in ("shop_sku", "local_sku", "internal_sku") if n in names), None)
    if not reverb_field or not shop_field:
        return None
    match = {reverb_field: OuterRef("sku")}
    if "account" in names:
        match["account_id"] = OuterRef("account_id")
    return Subquery(model._default_manager.filter(**match).values(shop_field)[:1])


ORDER_COLUMNS = [
    ("account__name", "account"),
    ("order_number", "order number"),
    ("status", "status"),
    ("remote_created_at", "created"),
    ("paid_at", "paid"),
    ("shipped_at", "shipped"),
    ("buyer_name", "buyer"),
    ("sku", "Reverb SKU"),
    ("title", "title"),
    ("quantity", "quantity"),
    ("currency", "currency"),
    ("amount_product", "unit price"),
    ("amount_shipping", "shipping"),
    ("amount_tax", "tax"),
    ("amount_total", "total"),
    ("selling_fee", "selling fee"),
    ("direct_checkout_fee", "processing fee"),
    ("direct_checkout_payout", "payout (Reverb)"),
    ("payout_id", "payout id"),
    ("payout_line_total", "paid out"),
]


def orders_rows(period: Period, account_ids: list[int] | None) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """Orders paid within the period; one query, streamed."""
    qs: QuerySet[Order] = Order.objects.filter(period.within("paid_at", account_zones(account_ids)))
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    line = PayoutLineItem.objects.filter(order=OuterRef("pk")).order_by("pk")
    qs = qs.annotate(
        payout_id=Subquery(line.values("payout_reverb_id")[:1]),
        payout_line_total=Subquery(line.values("amount_total")[:1]),
    )
    columns = list(ORDER_COLUMNS)
    mapping = sku_mapping_model()
    shop_sku = _shop_sku_subquery(mapping) if mapping is not None else None
    if shop_sku is not None:
        qs = qs.annotate(shop_sku=shop_sku)
        columns.insert(8, ("shop_sku", "shop SKU"))
    fields = [name for name, _ in columns]
    rows = qs.order_by("paid_at", "pk").values_list(*fields).iterator(chunk_size=CHUNK)
    return [label for _, label in columns], rows


LINE_ITEM_COLUMNS = [
    ("account__name", "account"),
    ("payout_reverb_id", "payout id"),
    ("payout__remote_created_at", "payout date"),
    ("payout__total", "payout total"),
    ("reverb_id", "line item id"),
    ("order_number", "order number"),
    ("order__status", "order status"),
    ("order__paid_at", "order paid"),
    ("title", "title"),
    ("currency", "currency"),
    ("amount_product", "sale price"),
    ("amount_shipping", "shipping"),
    ("amount_tax", "tax"),
    ("fees", "fees"),
    ("amount_total", "paid out"),
    ("order__amount_total", "order total"),
]


def line_item_rows(
    period: Period, account_ids: list[int] | None
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """Line items of payouts made within the period; one query, streamed."""
    qs = PayoutLineItem.objects.filter(period.within("payout__remote_created_at", account_zones(account_ids)))
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    fields = [name for name, _ in LINE_ITEM_COLUMNS]
    rows = (
        qs.order_by("payout__remote_created_at", "payout_reverb_id", "order_number", "pk")
        .values_list(*fields)
        .iterator(chunk_size=CHUNK)
    )
    return [label for _, label in LINE_ITEM_COLUMNS], rows
