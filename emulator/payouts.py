"""Payouts: GET /api/my/payouts and /api/my/payouts/{id}/line_items.

Payout record (store.table("payouts"), int id): id, total (Decimal), currency, line_item_ids, created_at,
updated_at. Line item record (store.table("line_items"), int id): id, payout_id, order_number, title,
sale_price, shipping, tax, tax_withheld, selling_fee, processing_fee, bump_fee, discounts, subtotal,
total (Decimals), currency, tax_responsible_party, created_at.
A payout's total is the sum of its line items' totals; a line item's total is what the buyer paid
(subtotal) minus Reverb's fees, minus tax when Reverb is the tax-responsible party (it remits that tax).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .core import ApiError, Request, link, money, paginate, renderer, route, simulation, ts
from .fees import order_fees
from .guesses import shaped
from .orders import ZERO, background_request, date_filtered, newest_first
from .store import Store

if TYPE_CHECKING:
    from .app import Emulator

PAYABLE_STATUSES = frozenset({"paid", "shipped", "picked_up", "received"})


def payable(order: dict[str, Any]) -> bool:
    """Paid, not yet paid out, and untouched by refunds (refund clawbacks are out of scope: ours)."""
    return (
        order["status"] in PAYABLE_STATUSES
        and order["paid_at"] is not None
        and order["payout_id"] is None
        and order.get("refunded", ZERO) == 0
    )


def create_payout(store: Store, orders: Iterable[dict[str, Any]], at: datetime) -> dict[str, Any]:
    pid = store.next_id("payouts", start=50)
    items = store.table("line_items")
    ids: list[int] = []
    total = Decimal("0.00")
    for o in orders:
        fees = order_fees(o)
        sale = o["price"] * o["quantity"]
        subtotal = sale + o["shipping"] + o["tax"]
        line_total = subtotal - fees.total - o["bump_fee"] - fees.tax_withheld
        lid = store.next_id("line_items")
        items[lid] = {
            "id": lid,
            "payout_id": pid,
            "order_number": o["order_number"],
            "title": o["title"],
            "sale_price": sale,
            "shipping": o["shipping"],
            "tax": o["tax"],
            "tax_withheld": fees.tax_withheld,
            "selling_fee": fees.selling_fee,
            "processing_fee": fees.processing_fee,
            "bump_fee": o["bump_fee"],
            "discounts": ZERO,
            "subtotal": subtotal,
            "total": line_total,
            "currency": o["currency"],
            "tax_responsible_party": o["tax_responsible_party"],
            "created_at": at,
        }
        o["payout_id"] = pid
        ids.append(lid)
        total += line_total
    payout = {
        "id": pid,
        "total": total,
        "currency": store.currency,
        "line_item_ids": ids,
        "created_at": at,
        "updated_at": at,
    }
    store.table("payouts")[pid] = payout
    return payout


def render_payout(emu: Emulator, req: Request, p: dict[str, Any]) -> dict[str, Any]:
    """Exactly the keys of the docs example [OFFICIAL-DOC read-payouts]. It has no `id` field: the id
    appears only in the `line_items` href, so we do not add one; a client keys payouts by that href."""
    return {
        "total": money(p["total"], p["currency"]),
        "created_at": ts(p["created_at"]),
        "updated_at": ts(p["updated_at"]),
        "_links": {"line_items": link(req.href(f"/api/my/payouts/{p['id']}/line_items"))},
    }


def render_line_item(emu: Emulator, req: Request, li: dict[str, Any]) -> dict[str, Any]:
    # shape ours: line-item fields NOT FOUND (API-NOTES 11.1 gives an inferred shape, which we follow).
    cur = li["currency"]
    fees = [
        {"type": "selling_fee", "amount": money(li["selling_fee"], cur)},
        {"type": "processing_fee", "amount": money(li["processing_fee"], cur)},
    ]
    if li["bump_fee"]:
        fees.append({"type": "bump_fee", "amount": money(li["bump_fee"], cur)})
    return shaped(
        emu,
        "payout_line_items",
        {
            "order_number": li["order_number"],
            "title": li["title"],
            "sale_price": money(li["sale_price"], cur),
            "shipping": money(li["shipping"], cur),
            "tax": money(li["tax"], cur),
            "tax_responsible_party": li["tax_responsible_party"],
            "fees": fees,
            "discounts": money(li["discounts"], cur),
            "subtotal": money(li["subtotal"], cur),
            "total": money(li["total"], cur),
            "created_at": ts(li["created_at"]),
            "_links": {
                "order": link(req.href(f"/api/my/orders/selling/{li['order_number']}")),
                "payout": link(req.href(f"/api/my/payouts/{li['payout_id']}/line_items")),
            },
        },
    )


renderer("payouts")(render_payout)
renderer("line_items")(render_line_item)


@route("GET", "/api/my/payouts")
def list_payouts(emu: Emulator, req: Request) -> dict[str, Any]:
    rows = newest_first(date_filtered(req, emu.store.table("payouts").values(), ("created",)))
    return paginate(req, rows, "payouts", lambda p: render_payout(emu, req, p))


@route("GET", "/api/my/payouts/{payout_id}/line_items")
def list_line_items(emu: Emulator, req: Request, payout_id: str) -> dict[str, Any]:
    payout = emu.store.table("payouts").get(int(payout_id)) if payout_id.isdigit() else None
    if payout is None:
        raise ApiError(404, "The requested resource could not be found.")
    items = emu.store.table("line_items")
    rows = [items[i] for i in payout["line_item_ids"]]
    return paginate(req, rows, "line_items", lambda li: render_line_item(emu, req, li))


@simulation("payout")
def simulate_payout(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """Reverb pays out every paid order not yet in a payout, in one payout."""
    store = emu.store
    due = sorted((o for o in store.table("orders").values() if payable(o)), key=lambda o: o["paid_at"])
    if not due:
        raise ApiError(422, "no paid orders waiting for a payout")
    payout = create_payout(store, due, store.now())
    body = render_payout(emu, background_request(emu), payout)
    body["id"] = payout["id"]  # control API only: the id, for tests to fetch the line items
    return body
