"""CSV exports for accounting: orders paid and payout line items within a period, streamed row by row
(StreamingHttpResponse over a csv writer over `.iterator()`, so memory stays flat for any range)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from backoffice.csvfiles import csv_response
from backoffice.models.account import account_zones
from orders.exports import formatted, money_cell, order_rows
from orders.models import Order

from .matching import Period
from .models import PayoutLineItem

CHUNK = 2000


def stream_csv(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    return csv_response(filename, header, rows)  # type: ignore[return-value]  # streamed


def orders_rows(period: Period, account_ids: list[int] | None) -> tuple[list[str], Iterator[list[Any]]]:
    """Orders paid within the period, as THE orders CSV (orders/exports.py); one query, streamed."""
    qs: QuerySet[Order] = Order.objects.filter(period.within("paid_at", account_zones(account_ids)))
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return order_rows(qs.order_by("paid_at", "pk"))


LINE_ITEM_COLUMNS: list[tuple[str, str, Callable[[Any], Any] | None]] = [
    ("account__name", "account", None),
    ("payout_reverb_id", "payout id", None),
    ("payout__remote_created_at", "payout date", None),
    ("payout__total", "payout total", money_cell),
    ("reverb_id", "line item id", None),
    ("order_number", "order number", None),
    ("order__status", "order status", None),
    ("order__paid_at", "order paid", None),
    ("title", "title", None),
    ("currency", "currency", None),
    ("amount_product", "sale price", money_cell),
    ("amount_shipping", "shipping", money_cell),
    ("amount_tax", "tax", money_cell),
    ("fees", "fees", money_cell),
    ("amount_total", "paid out", money_cell),
    ("order__amount_total", "order total", money_cell),
]


def line_item_rows(period: Period, account_ids: list[int] | None) -> tuple[list[str], Iterator[list[Any]]]:
    """Line items of payouts made within the period; one query, streamed."""
    qs = PayoutLineItem.objects.filter(period.within("payout__remote_created_at", account_zones(account_ids)))
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    fields = [name for name, _, _ in LINE_ITEM_COLUMNS]
    rows = (
        qs.order_by("payout__remote_created_at", "payout_reverb_id", "order_number", "pk")
        .values_list(*fields)
        .iterator(chunk_size=CHUNK)
    )
    formats = [f for _, _, f in LINE_ITEM_COLUMNS]
    return [label for _, label, _ in LINE_ITEM_COLUMNS], formatted(rows, formats)
