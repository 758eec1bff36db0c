"""Payouts and their line items: payload -> fields (pure), and how each is pulled.

A payout in Reverb's documented example has no `id`; it is taken from `_links.line_items.href`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backoffice.sync.engine import Link, MappingError, Resource
from backoffice.sync.mapping import link, payout_id, read_money, text, told, when
from backoffice.sync.pipeline import until_unchanged

from .models import Payout, PayoutLineItem

if TYPE_CHECKING:
    from backoffice.reverb.client import ReverbClient


# Fields read from a payload key of another name (`told`: an absent key leaves the column as it was).
_TIMES = {"remote_created_at": "created_at", "remote_updated_at": "updated_at"}
PAYOUT_SOURCES = {"currency": "total", "line_items_url": "_links", **_TIMES}
LINE_ITEM_SOURCES = {
    "payout_reverb_id": None,
    "order_number": ("order_number", "order_id"),
    "amount_product": ("sale_price", "amount_product"),
    "currency": ("sale_price", "amount_product", "total"),
    "amount_shipping": "shipping",
    "amount_tax": "tax",
    "fees": ("fees", "selling_fee", "processing_fee"),
    "amount_total": "total",
    **_TIMES,
}


def map_payout(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    key = payout_id(payload)
    total, currency = read_money(payload, "total")
    fields = {
        "total": total,
        "currency": currency,
        "line_items_url": link(payload, "line_items"),
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }
    return key, told(payload, fields, PAYOUT_SOURCES)


def _fees(payload: Mapping[str, Any]) -> Decimal | None:
    """Fees as one list [{type, amount}] or as separate money fields (line-item shape is inferred)."""
    fees = payload.get("fees")
    if isinstance(fees, list):
        total = Decimal(0)
        for index, fee in enumerate(fees):
            if not isinstance(fee, Mapping):
                raise MappingError(f"fees[{index}] must be an object")
            amount, _ = read_money(fee, "amount")
            total += amount or 0
        return total
    parts = [read_money(payload, name)[0] for name in ("selling_fee", "processing_fee")]
    return sum((p for p in parts if p is not None), Decimal(0)) if any(p is not None for p in parts) else None


def map_line_item(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A line item carries `payout_id` (added by our fetcher when the payload omits it)."""
    payout = text(payload, "payout_id", 64)
    if not payout:
        raise MappingError("payout_id is missing")
    order_number = text(payload, "order_number", 64) or text(payload, "order_id", 64)  # a guessed shape
    key = text(payload, "id", 64) or (f"{payout}:{order_number}" if order_number else "")
    if not key:
        raise MappingError("line item has neither id nor order_number")
    product, currency = read_money(payload, "sale_price")
    if product is None:
        product, currency = read_money(payload, "amount_product")
    total, total_currency = read_money(payload, "total")
    fields = {
        "payout_reverb_id": payout,
        "order_number": order_number,
        "title": text(payload, "title", 500),
        "amount_product": product,
        "amount_shipping": read_money(payload, "shipping")[0],
        "amount_tax": read_money(payload, "tax")[0],
        "fees": _fees(payload),
        "amount_total": total,
        "currency": currency or total_currency,
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }
    return key, told(payload, fields, LINE_ITEM_SOURCES)


def fetch_payouts(client: ReverbClient, since: datetime | None) -> Iterable[Sequence[dict[str, Any]]]:
    """Newest first; an incremental run stops at the first page that changed nothing (the list has only a
    created_* filter, and a payout changes in its first days, so a changed one is on the first pages)."""
    return until_unchanged(page.items for page in client.payouts())


def fetch_line_items(client: ReverbClient, payouts: list[dict[str, Any]]) -> Iterator[Sequence[dict]]:
    """Follow each payout's line_items link (all pages), noting the payout id on each row."""
    for payout in payouts:
        pid = payout_id(payout)
        target = link(payout, "line_items") or pid
        for page in client.payout_line_items(target):
            yield [row if row.get("payout_id") else {**row, "payout_id": pid} for row in page.items]


LINE_ITEMS = Resource(
    name="payout_line_items",
    model=PayoutLineItem,
    mapper=map_line_item,
    fetch=None,
    mark_missing=False,
    links=(
        Link(field="payout", key_field="payout_reverb_id", target="payouts.Payout"),
        Link(field="order", key_field="order_number", target="orders.Order"),
    ),
)
PAYOUTS = Resource(
    name="payouts",
    model=Payout,
    mapper=map_payout,
    fetch=fetch_payouts,
    incremental=True,
    newest_first=True,
    children=(("payout_line_items", fetch_line_items),),
    children_on_full=True,
    description="/my/payouts, newest first until an unchanged page (complete on the first pull and "
    "--full); line items of new/changed payouts (all on --full)",
)
RESOURCES = [PAYOUTS, LINE_ITEMS]
