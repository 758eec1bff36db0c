"""Bulk shipping: parse rows (from the intermediate page or a CSV), map carrier names, validate everything
before anything is sent, and turn the valid rows into one BulkJob (item key = order number)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from backoffice.actions import Actor
from backoffice.background.jobs import ItemSpec, create_job
from backoffice.csvfiles import CsvFileError, read_csv
from backoffice.models import BulkJob

from . import carriers
from .jobs import SHIP
from .models import Order, ShipBatch
from .services import ship_refusal

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount

CSV_COLUMNS = ("order_number", "provider", "tracking_number")
MAX_ROWS = 5000


class CsvError(ValueError):
    pass


@dataclass
class ShipRow:
    order_number: str
    provider: str  # as typed: a Reverb provider or a local carrier name
    tracking_number: str
    line: int = 0


@dataclass
class PlannedShipment:
    order_number: str
    provider_input: str
    provider: str  # Reverb's name after mapping ('' when unknown)
    tracking_number: str
    status: str = "ok"  # ok (will be sent), skip (already done), error (will not be sent)
    message: str = ""
    title: str = ""
    buyer_name: str = ""
    bundle: str = ""
    line: int = 0
    added_for_bundle: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def parse_csv(data: bytes) -> list[ShipRow]:
    try:
        header, records = read_csv(data, max_rows=MAX_ROWS)
    except CsvFileError as exc:
        raise CsvError(str(exc)) from None
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise CsvError(f"The CSV needs the columns {', '.join(CSV_COLUMNS)}; missing: {', '.join(missing)}.")
    rows = []
    for line, record in records:
        values = {k: record.get(k, "") for k in CSV_COLUMNS}
        if not any(values.values()):
            continue
        rows.append(ShipRow(values["order_number"], values["provider"], values["tracking_number"], line))
    if not rows:
        raise CsvError("The CSV has no rows.")
    return rows


def plan(
    account: ReverbAccount,
    rows: list[ShipRow],
    *,
    expand_bundles: bool = True,
    lookup: dict[str, str] | None = None,
) -> list[PlannedShipment]:
    """Validate every row (unknown order, wrong state, unknown provider, duplicate tracking number) and add
    the other shippable orders of a row's bundle (one tracking number ships the whole bundle). `lookup`:
    `carriers.lookup(account)` when the caller already has it (it may read Reverb's provider list)."""
    lookup = carriers.lookup(account) if lookup is None else lookup
    numbers = [r.order_number for r in rows]
    orders = {o.order_number: o for o in Order.objects.filter(account=account, order_number__in=numbers)}
    planned: list[PlannedShipment] = []
    seen: set[str] = set()
    for row in rows:
        order = orders.get(row.order_number)
        provider = carriers.resolve(lookup, row.provider)
        p = PlannedShipment(
            row.order_number, row.provider, provider, row.tracking_number.strip(), line=row.line
        )
        if order is not None:
            p.title, p.buyer_name, p.bundle = order.title, order.buyer_name, order.order_bundle_id
        judged = _judge(row, order, provider, p.tracking_number, seen)
        if judged is not None:
            p.status, p.message = judged
        seen.add(row.order_number)
        planned.append(p)
    if expand_bundles:
        planned = _expand_bundles(account, planned, seen)
    _check_duplicate_tracking(account, planned)
    return planned


def _judge(
    row: ShipRow, order: Order | None, provider: str, tracking: str, seen: set[str]
) -> tuple[str, str] | None:
    """(status, message) of a row that is not sent as planned: an error, or a skip (the order already
    carries this tracking number); None for a row to send."""
    if not row.order_number:
        return "error", "No order number."
    if row.order_number in seen:
        return "error", "This order is listed twice."
    if order is None:
        return "error", "Unknown order (not in this account's mirror; re-sync orders?)."
    if not tracking:
        return "error", "No tracking number."
    refusal = ship_refusal(order, tracking)
    if refusal and order.tracking_code == tracking:
        return "skip", refusal + " Nothing will be sent."
    if refusal:
        return "error", refusal
    if not provider:
        return "error", carriers.unknown(row.provider)
    return None


def _expand_bundles(
    account: ReverbAccount, planned: list[PlannedShipment], seen: set[str]
) -> list[PlannedShipment]:
    bundles = {p.bundle: p for p in planned if p.ok and p.bundle}
    if not bundles:
        return planned
    siblings = Order.objects.filter(account=account, order_bundle_id__in=list(bundles)).exclude(
        order_number__in=list(seen)
    )
    extra: dict[str, list[PlannedShipment]] = defaultdict(list)
    for order in siblings.order_by("order_number"):
        if ship_refusal(order):
            continue
        lead = bundles[order.order_bundle_id]
        extra[lead.order_number].append(
            PlannedShipment(
                order.order_number,
                lead.provider_input,
                lead.provider,
                lead.tracking_number,
                title=order.title,
                buyer_name=order.buyer_name,
                bundle=order.order_bundle_id,
                added_for_bundle=True,
                message=f"Same bundle as order {lead.order_number}: shipped with it.",
            )
        )
    result: list[PlannedShipment] = []
    for p in planned:
        result.append(p)
        result.extend(extra.get(p.order_number, []))
    return result


def _check_duplicate_tracking(account: ReverbAccount, planned: list[PlannedShipment]) -> None:
    """A tracking number may be shared only within one bundle (in the batch and against shipped orders)."""
    by_tracking: dict[str, list[PlannedShipment]] = defaultdict(list)
    for p in planned:
        if p.status != "error" and p.tracking_number:
            by_tracking[p.tracking_number].append(p)
    for tracking, group in by_tracking.items():
        bundles = {p.bundle or p.order_number for p in group}
        if len(bundles) > 1:
            others = ", ".join(p.order_number for p in group)
            for p in group:
                p.status, p.message = "error", f"Duplicate tracking number {tracking} (orders {others})."
    numbers = [p.order_number for p in planned]
    used = Order.objects.filter(account=account, tracking_code__in=list(by_tracking)).exclude(
        order_number__in=numbers
    )
    for other in used.only("order_number", "order_bundle_id", "tracking_code"):
        for p in by_tracking.get(other.tracking_code, []):
            if p.status == "ok" and (not p.bundle or p.bundle != other.order_bundle_id):
                p.status = "error"
                p.message = f"Tracking number already used on order {other.order_number}."


def serialise(planned: list[PlannedShipment]) -> list[dict[str, Any]]:
    return [asdict(p) for p in planned]


def rows_from(data: list[dict[str, Any]]) -> list[ShipRow]:
    """Back from the confirmation form to rows (bundle additions included as ordinary rows)."""
    return [
        ShipRow(
            str(d.get("order_number", "")),
            str(d.get("provider_input", "")),
            str(d.get("tracking_number", "")),
        )
        for d in data
    ]


class AlreadySubmitted(Exception):
    def __init__(self, job: BulkJob | None) -> None:
        super().__init__("already submitted")
        self.job = job


def submit(
    account: ReverbAccount,
    user: Actor,
    planned: list[PlannedShipment],
    *,
    token: str,
    send_notification: bool = True,
) -> BulkJob:
    """Create the BulkJob for the rows that are ok. The one-time token makes a repeated POST a no-op."""
    items = [
        ItemSpec(
            key=p.order_number,
            label=f"{p.order_number} {p.title}"[:255],
            params={
                "provider": p.provider,
                "tracking_number": p.tracking_number,
                "send_notification": send_notification,
            },
        )
        for p in planned
        if p.ok
    ]
    try:
        with transaction.atomic():
            batch = ShipBatch.objects.create(token=token)
            job = create_job(
                SHIP,
                title=f"Ship {len(items)} order(s) on {account}",
                items=items,
                account=account,
                user=user,
                params={"token": token, "skipped": [p.order_number for p in planned if p.status == "skip"]},
            )
            batch.job = job
            batch.save(update_fields=["job"])
    except IntegrityError:
        existing = ShipBatch.objects.filter(token=token).select_related("job").first()
        raise AlreadySubmitted(existing.job if existing else None) from None
    return job
