"""Stock in, stock out: the desired quantity per listing, its queue, and the drain that sends it.

- `set_stock` takes rows {sku, quantity} from any source (API client, feed, person), translates the shop's
  SKUs through the account's SKU mappings, refuses what cannot be applied (unknown SKU, bad quantity), and
  records the latest quantity per listing (`StockIntent`): a newer change overwrites an unsent one, and a
  quantity equal to what Reverb has leaves nothing to send. Quantity 0 goes to the front of the queue.
- `drain` sends the queue, zeros first, then in order, through the listings service's stock-only push
  (`push_inventory`: one audited PUT of the inventory per listing, no re-read before it since the shop's
  system owns the quantity; a person's other pending edits stay pending and unsent), inside the account's
  shared rate budget since every request of an account's client draws from it. A listing sold out or
  ended on Reverb that gets stock back is published again in the same PUT (API-NOTES 5.4: inventory
  listings relist by themselves; an ended or sold one-of-a-kind one revives with publish).
- Reverb's own events: `apply_reverb_sale` (a Reverb order decrements the shop's quantity; Reverb already
  has it) and `restock` (an approved refund whose item came back).
Every quantity received and every quantity sent is a row of the sync log (`stock.in` / `stock.out`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from backoffice.actions import ActionError
from backoffice.models import ReverbAccount, SyncLogEntry
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import ReverbError
from listings import editing
from listings import services as listing_services
from listings.models import Listing

from .models import Source, StockIntent

log = logging.getLogger(__name__)

MAX_QUANTITY = 100_000
IN, OUT = "stock.in", "stock.out"
# A failed send is tried again after these delays (then it stays failed, with a retry in the admin).
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
# Requests one send costs: one PUT of the inventory (a relist rides in the same PUT).
REQUESTS_PER_SEND = 1
UNSENDABLE_STATES = ("deleted",)


@dataclass
class RowResult:
    sku: str
    status: str  # "accepted" | "refused"
    quantity: int | None = None
    listing_id: str = ""
    reverb_sku: str = ""
    queued: bool = False
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = {"sku": self.sku, "status": self.status}
        if self.status == "accepted":
            data.update(
                quantity=self.quantity,
                listing_id=self.listing_id,
                reverb_sku=self.reverb_sku,
                queued=self.queued,
            )
        else:
            data["error"] = self.error
        return data


@dataclass
class SetResult:
    rows: list[RowResult] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.rows if r.status == "accepted")

    @property
    def refused(self) -> int:
        return len(self.rows) - self.accepted

    @property
    def queued(self) -> int:
        return sum(1 for r in self.rows if r.queued)


def parse_quantity(value: Any) -> int | None:
    """A whole number 0..MAX_QUANTITY (ints, or strings of ASCII digits), else None. Only ASCII digits:
    `str.isdigit` also says yes to "²" (which `int` then refuses) and `int` reads "٣" or "５"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int | str):
        return None
    number = int(value)
    return number if 0 <= number <= MAX_QUANTITY else None


def listings_by_sku(account: ReverbAccount, skus: Iterable[str]) -> dict[str, tuple[str, Listing]]:
    """{shop SKU: (Reverb SKU, listing)} for the SKUs the mirror knows, through the account's SKU mappings
    (orders.SkuMapping: Reverb SKU <-> the shop's SKU; a SKU with no mapping is taken as Reverb's)."""
    from orders.models import SkuMapping

    wanted = set(skus)
    to_reverb = {sku: sku for sku in wanted}
    for reverb_sku, shop_sku in SkuMapping.objects.filter(account=account, shop_sku__in=wanted).values_list(
        "reverb_sku", "shop_sku"
    ):
        to_reverb[shop_sku] = reverb_sku
    found: dict[str, Listing] = {}
    rows = (
        Listing.objects.filter(account=account, sku__in=set(to_reverb.values()), missing=False)
        .exclude(state__in=UNSENDABLE_STATES)
        .only("id", "account_id", "reverb_id", "sku", "state", "inventory", "condition_uuid", "web_url")
        .order_by("remote_created_at", "id")  # the newest listing of a SKU wins
    )
    for listing in rows:
        found[listing.sku] = listing
    return {shop: (rev, found[rev]) for shop, rev in to_reverb.items() if rev in found}


def _entry(
    account: ReverbAccount,
    resource: str,
    sku: str,
    status: str,
    message: str,
    *,
    listing: Listing | None = None,
    source: str = "",
    detail: str = "",
    quantity: int | None = None,
    field_errors: Mapping[str, Any] | None = None,
) -> SyncLogEntry:
    return SyncLogEntry(
        account=account,
        resource=resource,
        reverb_id=listing.reverb_id if listing is not None else "",
        sku=sku[:255],
        web_url=(listing.web_url if listing is not None else "")[:500],
        status=status,
        message=message,
        field_errors=dict(field_errors or {}),
        raw={"source": source, "detail": detail, "quantity": quantity},
    )


def _priority(quantity: int) -> int:
    return 0 if quantity == 0 else 1


def set_stock(
    account: ReverbAccount,
    rows: Sequence[Mapping[str, Any]],
    *,
    source: str,
    detail: str = "",
) -> SetResult:
    """Record the desired quantities of `rows` ({sku, quantity}); see the module docstring. A SKU given
    twice in one batch: the last row wins (like two calls)."""
    result = SetResult()
    wanted: dict[str, int] = {}
    checked: list[tuple[RowResult, Any]] = []
    for row in rows:
        sku = str(row.get("sku") or "").strip() if isinstance(row, Mapping) else ""
        quantity = parse_quantity(row.get("quantity")) if isinstance(row, Mapping) else None
        item = RowResult(sku=sku, status="accepted", quantity=quantity)
        if not sku:
            item.status, item.error = "refused", "sku is required"
        elif quantity is None:
            item.status, item.error = "refused", f"quantity must be a whole number from 0 to {MAX_QUANTITY}"
        else:
            wanted[sku] = quantity
        checked.append((item, row))
        result.rows.append(item)
    found = listings_by_sku(account, wanted)
    now = timezone.now()
    intents = {
        i.listing_id: i for i in StockIntent.objects.filter(listing_id__in=[x.pk for _, x in found.values()])
    }
    log_rows: list[SyncLogEntry] = []
    touched: dict[int, StockIntent] = {}
    created: dict[int, StockIntent] = {}
    for item, _row in checked:
        if item.status != "accepted":
            log_rows.append(_entry(account, IN, item.sku, "failed", item.error, source=source, detail=detail))
            continue
        hit = found.get(item.sku)
        if hit is None:
            item.status, item.error = "refused", "unknown SKU: no listing of this account has it"
            log_rows.append(_entry(account, IN, item.sku, "failed", item.error, source=source, detail=detail))
            continue
        reverb_sku, listing = hit
        assert item.quantity is not None
        rule = editing.inventory_errors(listing.condition_uuid, item.quantity)
        if rule:
            item.status, item.error = "refused", "; ".join(rule["inventory"])
            log_rows.append(
                _entry(
                    account,
                    IN,
                    item.sku,
                    "failed",
                    item.error,
                    listing=listing,
                    source=source,
                    detail=detail,
                    quantity=item.quantity,
                    field_errors=rule,
                )
            )
            continue
        item.listing_id, item.reverb_sku = listing.reverb_id, reverb_sku
        if wanted[item.sku] != item.quantity:  # a later row of this batch has the same SKU
            continue
        intent = intents.get(listing.pk)
        if (
            intent is not None
            and intent.quantity == item.quantity
            and intent.status != StockIntent.Status.FAILED
        ):
            item.queued = intent.status == StockIntent.Status.QUEUED
            continue  # nothing new
        if intent is None:
            intent = StockIntent(account=account, listing=listing, sku=reverb_sku, quantity=item.quantity)
            created[listing.pk] = intents[listing.pk] = intent
        elif listing.pk not in created:  # (two shop SKUs of one listing in a batch: one new row)
            touched[listing.pk] = intent
        _want(intent, listing, item.quantity, source, detail, now)
        item.queued = intent.status == StockIntent.Status.QUEUED
        log_rows.append(
            _entry(
                account,
                IN,
                item.sku,
                "success",
                f"quantity {item.quantity} {'queued' if item.queued else '(already on Reverb)'}",
                listing=listing,
                source=source,
                detail=detail,
                quantity=item.quantity,
            )
        )
    with transaction.atomic():
        StockIntent.objects.bulk_create(created.values(), batch_size=500)
        StockIntent.objects.bulk_update(
            touched.values(),
            [
                "quantity",
                "source",
                "source_detail",
                "changed_at",
                "status",
                "priority",
                "queued_at",
                "next_try_at",
                "attempts",
                "last_error",
                "sku",
            ],
            batch_size=500,
        )
        SyncLogEntry.objects.bulk_create(log_rows, batch_size=500)
    return result


def _want(intent: StockIntent, listing: Listing, quantity: int, source: str, detail: str, now: Any) -> None:
    """Make `quantity` the listing's desired quantity: queued if Reverb's differs, done if not."""
    was_queued = intent.status == StockIntent.Status.QUEUED
    intent.quantity = quantity
    intent.source, intent.source_detail, intent.changed_at = source, detail[:200], now
    intent.priority = _priority(quantity)
    intent.attempts, intent.last_error, intent.next_try_at = 0, "", None
    if quantity == listing.inventory:  # the mirror's: what Reverb had at the last read
        intent.status, intent.queued_at = StockIntent.Status.SENT, None
    else:
        intent.status = StockIntent.Status.QUEUED
        if not was_queued or intent.queued_at is None:  # collapsing keeps the place in the queue
            intent.queued_at = now


# ---- the queue -------------------------------------------------------------------------------------


def due(account: ReverbAccount, now: Any = None) -> QuerySet[StockIntent]:
    now = now or timezone.now()
    return (
        StockIntent.objects.filter(account=account, status=StockIntent.Status.QUEUED)
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
        .order_by("priority", "queued_at", "id")
    )


@dataclass
class QueueState:
    waiting: int
    oldest: Any
    eta_seconds: float

    def eta_text(self) -> str:
        if not self.waiting:
            return "empty"
        minutes, seconds = divmod(int(self.eta_seconds + 0.999), 60)
        return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def queue_state(account: ReverbAccount) -> QueueState:
    """How many changes wait, the oldest, and when the queue is empty at the account's rate budget."""
    row = StockIntent.objects.filter(account=account, status=StockIntent.Status.QUEUED).aggregate(
        n=Count("id"), oldest=Min("queued_at")
    )
    rate = float(getattr(settings, "REVERB_RATE_PER_SECOND", 1.0)) or 1.0
    return QueueState(row["n"], row["oldest"], row["n"] * REQUESTS_PER_SEND / rate)


@dataclass
class DrainResult:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    relisted: int = 0
    left: int = 0
    order: list[str] = field(default_factory=list)  # SKUs in the order they were handled


def drain(
    account: ReverbAccount,
    *,
    limit: int | None = None,
    seconds: float | None = None,
    client: ReverbClient | None = None,
) -> DrainResult:
    """Send due intents, zeros first, until the queue is empty, `limit` sends or `seconds` have passed.
    The client draws every request from the account's shared budget, so the pace is the budget's."""
    result = DrainResult()
    if not account.enabled:
        return result
    client = client or account.client()
    started = timezone.now()
    while limit is None or result.sent + result.failed < limit:
        if seconds is not None and (timezone.now() - started).total_seconds() >= seconds:
            break
        with transaction.atomic():
            intent = due(account).select_related("listing", "listing__account").first()
        if intent is None:
            break
        result.order.append(intent.sku)
        outcome = send(intent, client=client)
        if outcome in ("sent", "relisted"):
            result.sent += 1
            result.relisted += outcome == "relisted"
        elif outcome == "skipped":
            result.skipped += 1
        else:
            result.failed += 1
    result.left = due(account).count()
    return result


def send(intent: StockIntent, *, client: ReverbClient | None = None) -> str:
    """Send one intent with the listings service's stock-only push (`push_inventory`: one PUT of the
    inventory, no re-read: the shop's system owns the quantity): "sent", "relisted", "skipped" (the
    mirror says Reverb has it already) or "failed". A person's other pending edits of the listing stay
    pending and are not sent. Writes the stock.out log row with Reverb's answer."""
    listing = intent.listing
    account = intent.account
    quantity = intent.quantity
    if quantity == listing.inventory and not listing_services.needs_publish_to_sell(listing, quantity):
        _settle(intent, quantity, quantity)
        return "skipped"
    try:
        done = listing_services.push_inventory(listing, quantity, actor=None, client=client)
    except ActionError as exc:
        return _failed(intent, listing, exc.message, exc.field_errors, retry=not exc.refused)
    except ReverbError as exc:
        return _failed(intent, listing, str(exc), {}, retry=True)
    updated = done.obj or listing
    relisted = any(r.get("relisted") for r in done.results)
    _settle(intent, quantity, updated.inventory)
    SyncLogEntry.objects.create(
        **_entry_fields(account, updated, "success", done.text, intent.source, intent.source_detail, quantity)
    )
    return "relisted" if relisted else "sent"


def _entry_fields(
    account: ReverbAccount,
    listing: Listing,
    status: str,
    message: str,
    source: str,
    detail: str,
    quantity: int,
    field_errors: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    entry = _entry(
        account,
        OUT,
        listing.sku,
        status,
        message,
        listing=listing,
        source=source,
        detail=detail,
        quantity=quantity,
        field_errors=field_errors,
    )
    return {f.name: getattr(entry, f.name) for f in SyncLogEntry._meta.concrete_fields if f.name != "id"}


def _settle(intent: StockIntent, quantity: int, reverb_has: int | None) -> None:
    """Mark the intent sent, unless a newer quantity arrived while it was being sent."""
    now = timezone.now()
    StockIntent.objects.filter(pk=intent.pk, quantity=quantity).update(
        status=StockIntent.Status.SENT,
        sent_quantity=reverb_has,
        sent_at=now,
        queued_at=None,
        attempts=0,
        last_error="",
        next_try_at=None,
    )
    StockIntent.objects.filter(pk=intent.pk).exclude(quantity=quantity).update(
        sent_quantity=reverb_has, sent_at=now
    )


def _failed(
    intent: StockIntent, listing: Listing, message: str, field_errors: Mapping[str, Any], *, retry: bool
) -> str:
    """A transport error or a Reverb error is tried again after a delay; a refusal (push settings,
    inventory rule) waits for a person (retry in the admin)."""
    attempts = intent.attempts + 1
    again = retry and attempts <= len(RETRY_DELAYS)
    StockIntent.objects.filter(pk=intent.pk).update(
        attempts=attempts,
        last_error=message[:2000],
        status=StockIntent.Status.QUEUED if again else StockIntent.Status.FAILED,
        next_try_at=timezone.now() + RETRY_DELAYS[attempts - 1] if again else None,
    )
    SyncLogEntry.objects.create(
        **_entry_fields(
            intent.account,
            listing,
            "failed",
            message + (" (will retry)" if again else ""),
            intent.source,
            intent.source_detail,
            intent.quantity,
            field_errors,
        )
    )
    log.warning("stock for %s (listing %s) not sent: %s", intent.sku, listing.reverb_id, message)
    return "failed"


def retry(intents: Iterable[StockIntent]) -> int:
    """Put failed intents back at their place in the queue, due now."""
    ids = [i.pk for i in intents]
    now = timezone.now()
    return (
        StockIntent.objects.filter(pk__in=ids)
        .exclude(status=StockIntent.Status.SENT)
        .update(status=StockIntent.Status.QUEUED, attempts=0, next_try_at=None, last_error="", queued_at=now)
    )


# ---- Reverb's own events ---------------------------------------------------------------------------


def apply_reverb_sale(
    listing: Listing, quantity: int, order_number: str, ordered_at: Any = None
) -> StockIntent | None:
    """A Reverb order took `quantity`: Reverb already lowered its own quantity, so the shop's desired
    quantity goes down by as much (an unsent higher quantity must not put the sold units back).

    The stock push does not re-read the listing, so a quantity sent after the order was placed
    (`ordered_at` before the intent's `sent_at`) overwrote Reverb's decrement: Reverb still has what was
    sent, and the lower quantity is queued (a 0 at the front) instead of taken as already on Reverb."""
    intent = StockIntent.objects.filter(listing=listing).first()
    if intent is None:
        return None
    intent.quantity = max(intent.quantity - quantity, 0)
    intent.priority = _priority(intent.quantity)
    overwritten = ordered_at is not None and intent.sent_at is not None and ordered_at < intent.sent_at
    if intent.sent_quantity is not None and not overwritten:
        intent.sent_quantity = max(intent.sent_quantity - quantity, 0)
    intent.source, intent.source_detail, intent.changed_at = (
        Source.REVERB_ORDER,
        f"order {order_number}",
        timezone.now(),
    )
    if intent.status == StockIntent.Status.QUEUED and intent.quantity == intent.sent_quantity:
        intent.status, intent.queued_at = StockIntent.Status.SENT, None
    elif overwritten and intent.status == StockIntent.Status.SENT and intent.quantity != intent.sent_quantity:
        intent.status, intent.queued_at = StockIntent.Status.QUEUED, timezone.now()
        intent.attempts, intent.next_try_at, intent.last_error = 0, None, ""
    intent.save()
    _entry(
        listing.account,
        IN,
        listing.sku,
        "success",
        f"Reverb order {order_number}: -{quantity}",
        listing=listing,
        source=Source.REVERB_ORDER,
        detail=f"order {order_number}",
        quantity=intent.quantity,
    ).save()
    return intent


def restock(listing: Listing, quantity: int, *, detail: str = "") -> StockIntent:
    """An approved refund whose item came back: the desired quantity goes up by `quantity`, queued."""
    intent = StockIntent.objects.filter(listing=listing).first()
    base = intent.quantity if intent is not None else (listing.inventory or 0)
    result = set_stock(
        listing.account,
        [{"sku": listing.sku, "quantity": base + quantity}],
        source=Source.REFUND,
        detail=detail,
    )
    row = result.rows[0]
    if row.status != "accepted":
        raise ValueError(row.error)
    return StockIntent.objects.get(listing=listing)
