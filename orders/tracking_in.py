"""Tracking in from shipping tools (POST /api/v1/shipments/ in inventory/api.py).

Each row names an order (or a bundle), a carrier and a tracking number. The rows are checked as bulk ship
checks them (`bulk.plan`: this account's orders only, the carrier through Reverb's names and the account's
ShippingProviderMapping, already shipped, a tracking number shared outside a bundle), and the orders to send
become one "orders.ship" BulkJob: the worker ships each through `services.ship_order` at the account's pace
(two requests an order at about one a second), and the admin's job page shows the progress. Nothing is sent
to Reverb in the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from backoffice.background.jobs import ItemSpec, create_job
from backoffice.models import BulkJob, BulkJobItem

from . import bulk
from .carriers import lookup as carrier_lookup
from .jobs import SHIP
from .models import Order
from .services import ship_refusal

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount

MAX_TEXT = 255  # Order.tracking_code's length; longer values refuse their row

QUEUED, ALREADY, REFUSED = "queued", "already_shipped", "refused"


@dataclass
class ShipmentRow:
    """One item of the body, as sent (values are checked here, per row)."""

    order_number: str = ""
    bundle_id: str = ""
    carrier: str = ""
    tracking_number: str = ""
    ship_date: str = ""

    @classmethod
    def of(cls, item: dict[str, Any]) -> ShipmentRow:
        def text(name: str) -> str:
            value = item.get(name)
            return "" if value is None else str(value).strip()

        return cls(
            *(text(n) for n in ("order_number", "bundle_id", "carrier", "tracking_number", "ship_date"))
        )


@dataclass
class RowAnswer:
    row: ShipmentRow
    status: str = REFUSED
    error: str = ""
    provider: str = ""  # Reverb's provider name, after the mapping
    order_numbers: list[str] = field(default_factory=list)
    job_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = (
            {"bundle_id": self.row.bundle_id}
            if self.row.bundle_id
            else {"order_number": self.row.order_number}
        )
        answer["status"] = self.status
        if self.status == REFUSED:
            answer["error"] = self.error
            return answer
        answer.update(
            carrier=self.row.carrier,
            provider=self.provider,
            tracking_number=self.row.tracking_number,
            order_numbers=self.order_numbers,
        )
        if self.job_id is not None:
            answer["job_id"] = self.job_id
        return answer


@dataclass
class Intake:
    rows: list[RowAnswer]
    job: BulkJob | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.count(QUEUED) + self.count(ALREADY),
            "refused": self.count(REFUSED),
            "queued": self.count(QUEUED),
            "already_shipped": self.count(ALREADY),
            "job_id": self.job.pk if self.job else None,
            "rows": [r.as_dict() for r in self.rows],
        }


def _first_problem(row: ShipmentRow) -> str:
    if row.order_number and row.bundle_id:
        return "Give order_number or bundle_id, not both."
    if not (row.order_number or row.bundle_id):
        return "No order_number (or bundle_id)."
    if not row.carrier:
        return (
            "No carrier: send Reverb's provider name or a name mapped in Orders › Shipping provider mappings."
        )
    if not row.tracking_number:
        return "No tracking number."
    if max(len(row.order_number), len(row.bundle_id), len(row.carrier), len(row.tracking_number)) > MAX_TEXT:
        return f"A value is longer than {MAX_TEXT} characters."
    if row.ship_date:
        try:
            date.fromisoformat(row.ship_date)
        except ValueError:
            return "ship_date: use a date such as 2026-12-07."
    return ""


def _orders_of(account: ReverbAccount, rows: list[ShipmentRow]) -> dict[str, list[Order]]:
    """The account's orders each row names: its order, or its bundle's orders that are shippable or carry a
    tracking number (a cancelled order of a bundle is left out). Keyed by order number / "bundle:<id>"."""
    numbers = [r.order_number for r in rows if r.order_number]
    bundles = [r.bundle_id for r in rows if r.bundle_id]
    found: dict[str, list[Order]] = {}
    for order in Order.objects.filter(account=account, order_number__in=numbers):
        found[order.order_number] = [order]
    if bundles:
        members = Order.objects.filter(account=account, order_bundle_id__in=bundles).order_by("order_number")
        for order in members:
            if not ship_refusal(order) or order.tracking_code:
                found.setdefault(f"bundle:{order.order_bundle_id}", []).append(order)
    return found


def carriers(account: ReverbAccount, rows: list[ShipmentRow]) -> dict[str, str] | None:
    """The carrier lookup (THE carrier list, orders/carriers.py), only when a row names an order or bundle
    of the account: read before the batch's transaction, as it may ask Reverb for its provider list."""
    return carrier_lookup(account) if _orders_of(account, rows) else None


def _queued_items(account: ReverbAccount, numbers: list[str]) -> dict[str, BulkJobItem]:
    """Orders already waiting in a ship job of this account (from an earlier batch, the admin or the API)."""
    waiting = BulkJobItem.objects.filter(
        job__kind=SHIP,
        job__account=account,
        job__state__in=BulkJob.ACTIVE,
        state__in=(BulkJobItem.State.PENDING, BulkJobItem.State.RUNNING),
        key__in=numbers,
    )
    return {item.key: item for item in waiting}


def take(
    account: ReverbAccount, items: list[dict[str, Any]], *, lookup: dict[str, str] | None, source: str
) -> Intake:
    """Answer every row and queue the orders to ship as one job. Call inside a transaction: the job is
    created with it (and sent to the worker when it commits). The orders named are locked first (on
    PostgreSQL), so two batches naming one order queue it once."""
    rows = [ShipmentRow.of(item) for item in items]
    answers = [RowAnswer(row, error=_first_problem(row)) for row in rows]
    live = [a for a in answers if not a.error]
    numbers = [a.row.order_number for a in live if a.row.order_number]
    bundles = [a.row.bundle_id for a in live if a.row.bundle_id]
    named = Q(order_number__in=numbers) | Q(order_bundle_id__in=bundles)
    list(Order.objects.select_for_update().filter(named, account=account).values("pk"))
    orders = _orders_of(account, [a.row for a in live])
    plan_rows = _ship_rows(live, orders)
    if not plan_rows:
        return Intake(answers)
    if lookup is None:  # read before the transaction when the rows named known orders; else only if needed
        lookup = carrier_lookup(account) if orders else {}
    first = {p.order_number: p for p in bulk.plan(account, plan_rows, expand_bundles=False, lookup=lookup)}
    waiting = _queued_items(account, [n for a in live for n in a.order_numbers])
    known = {o.order_number: o for group in orders.values() for o in group}
    specs, to_queue = _answer_planned(live, first, waiting, known)
    job = None
    if specs:
        job = create_job(
            SHIP,
            title=f"Ship {len(specs)} order(s) on {account} ({source})",
            items=specs,
            account=account,
            params={"source": source},
        )
        for answer in to_queue:
            answer.job_id = job.pk
    return Intake(answers, job)


def _ship_rows(live: list[RowAnswer], orders: dict[str, list[Order]]) -> list[bulk.ShipRow]:
    """Each row's orders (its order, or its bundle's) into `answer.order_numbers`, refusing an unknown
    bundle and an order a row before it named; the shipments to plan for the others."""
    plan_rows: list[bulk.ShipRow] = []
    seen: set[str] = set()
    for answer in live:
        row = answer.row
        if row.bundle_id:
            members = orders.get(f"bundle:{row.bundle_id}", [])
            if not members:
                answer.error = "Unknown bundle (no shippable order of this account has this bundle_id)."
                continue
            answer.order_numbers = [o.order_number for o in members]
        else:
            answer.order_numbers = [row.order_number]
        twice = [n for n in answer.order_numbers if n in seen]
        if twice:
            answer.error = f"Order {twice[0]} is listed twice in this batch: an earlier row has it."
            continue
        seen.update(answer.order_numbers)
        plan_rows += [bulk.ShipRow(n, row.carrier, row.tracking_number) for n in answer.order_numbers]
    return plan_rows


def _answer_planned(
    live: list[RowAnswer],
    first: dict[str, bulk.PlannedShipment],
    waiting: dict[str, BulkJobItem],
    known: dict[str, Order],
) -> tuple[list[ItemSpec], list[RowAnswer]]:
    """Answer each planned row (refused, already shipped or queued, or queued now): the job items to
    create and the answers that wait for the new job's id."""
    specs: list[ItemSpec] = []
    to_queue: list[RowAnswer] = []
    for answer in live:
        if answer.error:
            continue
        answer.error = _refusal(answer, first, waiting, known)
        if answer.error:
            continue
        answer.provider = first[answer.order_numbers[0]].provider
        fresh = [n for n in answer.order_numbers if first[n].ok and n not in waiting]
        queued_before = {waiting[n].job_id for n in answer.order_numbers if n in waiting}
        if not fresh and not queued_before:
            answer.status = ALREADY
            continue
        answer.status = QUEUED
        answer.job_id = min(queued_before) if queued_before else None
        for number in fresh:
            specs.append(_item(known[number], first[number], answer.row))
        if fresh:
            to_queue.append(answer)
    return specs, to_queue


def _refusal(
    answer: RowAnswer,
    planned: dict[str, bulk.PlannedShipment],
    waiting: dict[str, BulkJobItem],
    known: dict[str, Order],
) -> str:
    """Why this row is refused ('' when it is not): its first order's problem, named for a bundle."""
    tracking = answer.row.tracking_number
    for number in answer.order_numbers:
        prefix = f"Order {number} of this bundle: " if answer.row.bundle_id else ""
        p = planned[number]
        order = known.get(number)
        if (
            p.status == "error"
            and order is not None
            and order.tracking_code
            and order.tracking_code != tracking
        ):
            return prefix + correction_hint(order)
        if p.status == "error":
            return prefix + p.message
        item = waiting.get(number)
        if item is not None and str(item.params.get("tracking_number", "")) != tracking:
            return (
                f"{prefix}A shipment with tracking number {item.params.get('tracking_number')} is already "
                f"queued for order {number} (job {item.job_id}); once it is sent, a different number is "
                "corrected on Reverb, not here."
            )
    return ""


def correction_hint(order: Order) -> str:
    """The refusal of another tracking number for a shipped order, and how to correct it: Reverb's API has
    no documented way to change a tracking number once sent (API-NOTES 7), so it is done on Reverb."""
    where = order.web_url or "the order's page on reverb.com"
    return (
        f"Already shipped with another tracking number ({order.shipping_provider} {order.tracking_code}); "
        f"nothing sent. Reverb's API documents no way to change it: if this number is the right one, "
        f"correct the tracking on Reverb ({where}); the next orders pull brings it back here."
    )


def _item(order: Order, planned: bulk.PlannedShipment, row: ShipmentRow) -> ItemSpec:
    """One order of the job, with the params `orders.jobs.ship_one` reads (as bulk ship writes them)."""
    params: dict[str, Any] = {
        "provider": planned.provider,
        "tracking_number": planned.tracking_number,
        "send_notification": True,
    }
    if row.ship_date:  # kept with the item: Reverb's ship call has no date (API-NOTES 7.1)
        params["ship_date"] = row.ship_date
    return ItemSpec(key=order.order_number, label=f"{order.order_number} {order.title}"[:255], params=params)
