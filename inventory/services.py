"""Stock in, stock out: the desired quantity per listing, its queue, and the drain that sends it.

- `set_stock` takes rows {sku, quantity} from any source (API client, feed, person), translates the shop's
  SKUs through the account's SKU mappings, refuses what cannot be applied (unknown SKU, a SKU that names
  several listings (`listings_by_sku`), bad quantity), turns the reported quantity into Reverb's through
  the stock buffer (inventory/buffer.py: hold back N, publish at most N), and records the latest quantity
  per listing (`StockIntent`, with the reported one): a newer change overwrites an unsent one, and a
  quantity equal to what Reverb has leaves nothing to send (unless the row says `"force": true`).
  Quantity 0 goes to the front of the queue. It writes under the account's queue lock (`lock_queue`).
- `drain` sends the queue, zeros first, then in order, through the listings service's stock-only push
  (`push_inventory`: one audited PUT of the inventory per listing, no re-read before it since the shop's
  system owns the quantity; a person's other pending edits stay pending and unsent), inside the account's
  shared rate budget since every request of an account's client draws from it. A listing sold out or
  ended on Reverb that gets stock back is published again in the same PUT (API-NOTES 5.4: inventory
  listings relist by themselves; an ended or sold one-of-a-kind one revives with publish).
  One writer at a time (issue 23): one drain per account (a lease; `request_drain` collapses the asks into
  one task), one send per listing (a lease on its intent), the quantity read after the lease and after the
  budget is granted, "on Reverb" set from Reverb's answer, a change made meanwhile sent next.
- Reverb's own events: `apply_reverb_sale` (a Reverb order decrements the shop's quantity; Reverb already
  has it) and `restock` (an approved refund whose item came back).
Every quantity received and every quantity sent is a row of the sync log (`stock.in` / `stock.out`).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from backoffice.actions import ActionError
from backoffice.background.queue import enqueue
from backoffice.models import ReverbAccount, SyncLogEntry
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import ReverbError
from listings import editing
from listings import services as listing_services
from listings.models import Listing

from . import buffer
from .models import Source, StockIntent, StockQueue

log = logging.getLogger(__name__)

MAX_QUANTITY = 100_000
IN, OUT = "stock.in", "stock.out"
# A failed send is tried again after these delays (then it stays failed, with a retry in the admin).
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
# Requests one send costs: one PUT of the inventory (a relist rides in the same PUT).
REQUESTS_PER_SEND = 1
UNSENDABLE_STATES = ("deleted",)
# Listings Reverb keeps after their sale or end: a SKU they share with a current listing names that one.
PAST_STATES = ("ended", "sold", "sold_out")
# A drain holds its account's queue, and a send its intent, for at most this long without renewing it
# (a worker that dies lets go by itself); longer than one Reverb call with its retries.
DRAIN_LEASE = timedelta(minutes=5)
SEND_LEASE = timedelta(minutes=5)


@dataclass
class RowResult:
    sku: str
    status: str  # "accepted" | "refused"
    quantity: int | None = None
    listing_id: str = ""
    reverb_sku: str = ""
    queued: bool = False
    error: str = ""
    reverb_quantity: int | None = None  # the quantity less the stock buffer

    def as_dict(self) -> dict[str, Any]:
        data = {"sku": self.sku, "status": self.status}
        if self.status == "accepted":
            data.update(
                quantity=self.quantity,
                listing_id=self.listing_id,
                reverb_sku=self.reverb_sku,
                queued=self.queued,
                reverb_quantity=self.reverb_quantity,
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


@dataclass
class SkuLookup:
    found: dict[str, tuple[str, Listing]]  # {shop SKU: (Reverb SKU, listing)}
    shared: dict[str, str]  # {shop SKU: why it is refused (it names several listings)}


def _one_of(listings: list[Listing], driven: set[int]) -> Listing | list[Listing]:
    """The listing a SKU names among those that have it, or the ones it cannot choose between.

    Listings marked missing and deleted ones never count (not here). Of the rest, ended and sold ones are
    the past: Reverb keeps them, often with the SKU the live listing reuses, so one current listing (any
    other state: live, draft, ...) is the one; several current ones are refused. When all are past (the
    one-off sold out here and is being restocked), the one this stock queue has been sending to is the
    one; otherwise refused. Never the newest by guess: that would change another listing's stock."""
    if len(listings) == 1:
        return listings[0]
    current = [x for x in listings if x.state not in PAST_STATES]
    if current:
        return current[0] if len(current) == 1 else current
    ours = [x for x in listings if x.pk in driven]
    return ours[0] if len(ours) == 1 else listings


def shared_sku_error(sku: str, reverb_sku: str, listings: Sequence[Listing]) -> str:
    named = sku if sku == reverb_sku else f"{sku} (Reverb SKU {reverb_sku})"
    ids = ", ".join(x.reverb_id for x in sorted(listings, key=lambda x: x.pk))
    return (
        f"SKU {named} is used by {len(listings)} listings on Reverb (ids {ids}): make it unique "
        "— Listings › Catalogue health"
    )


def listings_by_sku(account: ReverbAccount, skus: Iterable[str]) -> SkuLookup:
    """The listing of each SKU the mirror knows, through the account's SKU mappings (orders.SkuMapping:
    Reverb SKU <-> the shop's SKU; a SKU with no mapping is taken as Reverb's), and the SKUs refused
    because they name several listings (`_one_of` says which count)."""
    from orders.models import SkuMapping

    wanted = set(skus)
    to_reverb = {sku: sku for sku in wanted}
    for reverb_sku, shop_sku in SkuMapping.objects.filter(account=account, shop_sku__in=wanted).values_list(
        "reverb_sku", "shop_sku"
    ):
        to_reverb[shop_sku] = reverb_sku
    by_sku: dict[str, list[Listing]] = {}
    rows = (
        Listing.objects.filter(account=account, sku__in=set(to_reverb.values()), missing=False)
        .exclude(state__in=UNSENDABLE_STATES)
        .only("id", "account_id", "reverb_id", "sku", "state", "inventory", "condition_uuid", "web_url")
        .order_by("remote_created_at", "id")
    )
    for listing in rows:
        by_sku.setdefault(listing.sku, []).append(listing)
    several = [x.pk for group in by_sku.values() if len(group) > 1 for x in group]
    driven = set(StockIntent.objects.filter(listing_id__in=several).values_list("listing_id", flat=True))
    chosen = {rev: _one_of(group, driven) for rev, group in by_sku.items()}
    lookup = SkuLookup({}, {})
    for shop, rev in to_reverb.items():
        hit = chosen.get(rev)
        if isinstance(hit, Listing):
            lookup.found[shop] = (rev, hit)
        elif hit is not None:
            lookup.shared[shop] = shared_sku_error(shop, rev, hit)
    return lookup


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
    reported: int | None = None,
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
        raw={"source": source, "detail": detail, "quantity": quantity, "reported": reported},
    )


def priority(quantity: int) -> int:
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
    result, wanted, forced = _read_rows(rows)
    with transaction.atomic():  # one writer of the account's intents at a time: no lost update, no
        lock_queue(account.pk)  # second create of a listing's first intent (unique violation)
        batch = _StockBatch.open(account, wanted, forced, source=source, detail=detail)
        for item in result.rows:
            _take_row(batch, item)
        batch.write()
    return result


def _read_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[SetResult, dict[str, int], set[str]]:
    """Each row checked on its own: the result's rows, the quantity wanted per SKU (the last row of a SKU
    wins) and the SKUs forced ("force": true: sent even if Reverb seems to have the quantity)."""
    result = SetResult()
    wanted: dict[str, int] = {}
    forced: set[str] = set()
    for row in rows:
        sku = str(row.get("sku") or "").strip() if isinstance(row, Mapping) else ""
        quantity = parse_quantity(row.get("quantity")) if isinstance(row, Mapping) else None
        item = RowResult(sku=sku, status="accepted", quantity=quantity)
        if isinstance(row, Mapping) and row.get("force") is True:
            forced.add(sku)
        if not sku:
            item.status, item.error = "refused", "sku is required"
        elif quantity is None:
            item.status, item.error = "refused", f"quantity must be a whole number from 0 to {MAX_QUANTITY}"
        else:
            wanted[sku] = quantity
        result.rows.append(item)
    return result, wanted, forced


@dataclass
class _StockBatch:
    """One set_stock call under the account's queue lock: what it read, and what it will write."""

    account: ReverbAccount
    source: str
    detail: str
    wanted: dict[str, int]
    forced: set[str]
    lookup: SkuLookup
    intents: dict[int, StockIntent]
    buffers: dict[int, buffer.Buffer]
    now: datetime
    log_rows: list[SyncLogEntry] = field(default_factory=list)
    touched: dict[int, StockIntent] = field(default_factory=dict)
    created: dict[int, StockIntent] = field(default_factory=dict)

    @classmethod
    def open(
        cls, account: ReverbAccount, wanted: dict[str, int], forced: set[str], *, source: str, detail: str
    ) -> _StockBatch:
        lookup = listings_by_sku(account, wanted)
        ids = [x.pk for _, x in lookup.found.values()]
        intents = {i.listing_id: i for i in StockIntent.objects.filter(listing_id__in=ids)}
        buffers = buffer.buffers_for(account, ids)
        return cls(account, source, detail, wanted, forced, lookup, intents, buffers, timezone.now())

    def log(self, item: RowResult, status: str, message: str, **extra: Any) -> None:
        self.log_rows.append(
            _entry(
                self.account, IN, item.sku, status, message, source=self.source, detail=self.detail, **extra
            )
        )

    def write(self) -> None:
        StockIntent.objects.bulk_create(self.created.values(), batch_size=500)
        StockIntent.objects.bulk_update(self.touched.values(), WANT_FIELDS, batch_size=500)
        SyncLogEntry.objects.bulk_create(self.log_rows, batch_size=500)


def _take_row(batch: _StockBatch, item: RowResult) -> None:
    """One checked row: refused (logged), or the listing's desired quantity after its stock buffer."""
    if item.status != "accepted":
        batch.log(item, "failed", item.error)
        return
    hit = batch.lookup.found.get(item.sku)
    if hit is None:
        item.status = "refused"
        item.error = batch.lookup.shared.get(item.sku, "unknown SKU: no listing of this account has it")
        batch.log(item, "failed", item.error)
        return
    reverb_sku, listing = hit
    assert item.quantity is not None
    held = batch.buffers[listing.pk]
    desired = held.apply(item.quantity)  # what Reverb is to have of what was reported
    rule = editing.inventory_errors(listing.condition_uuid, desired)
    if rule:
        item.status, item.error = "refused", "; ".join(rule["inventory"])
        if desired != item.quantity:
            item.error += f" ({desired} of the {item.quantity} reported, after the stock buffer)"
        batch.log(
            item,
            "failed",
            item.error,
            listing=listing,
            quantity=desired,
            reported=item.quantity,
            field_errors=rule,
        )
        return
    item.listing_id, item.reverb_sku = listing.reverb_id, reverb_sku
    item.reverb_quantity = desired
    if batch.wanted[item.sku] != item.quantity:  # a later row of this batch has the same SKU
        return
    _want_quantity(batch, item, listing, reverb_sku, desired, held)


def _want_quantity(
    batch: _StockBatch,
    item: RowResult,
    listing: Listing,
    reverb_sku: str,
    desired: int,
    held: buffer.Buffer,
) -> None:
    """The listing's intent wants `desired` (a new intent, or the one it has), unless it already does."""
    assert item.quantity is not None
    intent = batch.intents.get(listing.pk)
    force = item.sku in batch.forced
    if (
        intent is not None
        and intent.quantity == desired
        and intent.status != StockIntent.Status.FAILED
        and not force
    ):
        item.queued = intent.status == StockIntent.Status.QUEUED
        if intent.reported != item.quantity:  # (under a cap: a new report, the same for Reverb)
            intent.reported = item.quantity
            if listing.pk not in batch.created:
                batch.touched[listing.pk] = intent
        return  # nothing new to send
    if intent is None:
        intent = StockIntent(account=batch.account, listing=listing, sku=reverb_sku, quantity=desired)
        batch.created[listing.pk] = batch.intents[listing.pk] = intent
    elif listing.pk not in batch.created:  # (two shop SKUs of one listing in a batch: one new row)
        batch.touched[listing.pk] = intent
    _want(intent, listing, desired, batch.source, batch.detail, batch.now, force=force)
    intent.reported = item.quantity
    item.queued = intent.status == StockIntent.Status.QUEUED
    batch.log(
        item,
        "success",
        _received_text(item.quantity, desired, held) + (" queued" if item.queued else " (already on Reverb)"),
        listing=listing,
        quantity=desired,
        reported=item.quantity,
    )


# What set_stock writes of an intent (never the send's lease fields: a send may hold the row).
WANT_FIELDS = [
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
    "forced",
    "reported",
]


def apply_buffer(
    account: ReverbAccount, listing_ids: Iterable[int] | None = None, *, detail: str = ""
) -> int:
    """A stock buffer changed (the account's, or those of `listing_ids`): each intent with a reported
    quantity gets its Reverb quantity again from it, queued when it differs (a quantity Reverb refuses,
    such as 2 on a used listing once a cap is gone, is left as it is and logged). Returns how many
    changed; the caller asks for a drain."""
    now = timezone.now()
    with transaction.atomic():
        lock_queue(account.pk)
        rows = StockIntent.objects.filter(account=account, reported__isnull=False).select_related("listing")
        if listing_ids is not None:
            rows = rows.filter(listing_id__in=list(listing_ids))
        intents = list(rows)
        buffers = buffer.buffers_for(account, [i.listing_id for i in intents])
        changed: list[StockIntent] = []
        log_rows: list[SyncLogEntry] = []
        for intent in intents:
            held, listing, reported = buffers[intent.listing_id], intent.listing, intent.reported or 0
            desired = held.apply(reported)
            if desired == intent.quantity:
                continue
            rule = editing.inventory_errors(listing.condition_uuid, desired)
            if rule:
                text = f"stock buffer changed: {desired} not sent: " + "; ".join(rule["inventory"])
                log_rows.append(
                    _entry(
                        account,
                        IN,
                        listing.sku,
                        "failed",
                        text,
                        listing=listing,
                        source=Source.PERSON,
                        detail=detail,
                        quantity=desired,
                        reported=reported,
                        field_errors=rule,
                    )
                )
                continue
            _want(intent, listing, desired, Source.PERSON, detail, now)
            changed.append(intent)
            log_rows.append(
                _entry(
                    account,
                    IN,
                    listing.sku,
                    "success",
                    "stock buffer changed: "
                    + _received_text(reported, desired, held)
                    + (" queued" if intent.status == StockIntent.Status.QUEUED else " (already on Reverb)"),
                    listing=listing,
                    source=Source.PERSON,
                    detail=detail,
                    quantity=desired,
                    reported=reported,
                )
            )
        StockIntent.objects.bulk_update(changed, WANT_FIELDS, batch_size=500)
        SyncLogEntry.objects.bulk_create(log_rows, batch_size=500)
    return len(changed)


def _received_text(reported: int, desired: int, held: buffer.Buffer) -> str:
    if desired == reported:
        return f"quantity {reported}"
    return f"received {reported}, {desired} for Reverb ({reported - desired} held back: {held.describe()})"


def _want(
    intent: StockIntent,
    listing: Listing,
    quantity: int,
    source: str,
    detail: str,
    now: Any,
    *,
    force: bool = False,
) -> None:
    """Make `quantity` the listing's desired quantity: queued if Reverb's differs, done if not. While a
    send of the listing is in flight the mirror is about to change, so nothing is taken as done: the
    send settles it with Reverb's answer. `force` queues it whatever the mirror says."""
    was_queued = intent.status == StockIntent.Status.QUEUED
    intent.quantity = quantity
    intent.source, intent.source_detail, intent.changed_at = source, detail[:200], now
    intent.priority = priority(quantity)
    intent.attempts, intent.last_error, intent.next_try_at = 0, "", None
    intent.forced = force or (was_queued and intent.forced)
    in_flight = intent.claimed_until is not None and intent.claimed_until > now
    if quantity == listing.inventory and not intent.forced and not in_flight:  # the mirror: Reverb's
        intent.status, intent.queued_at = StockIntent.Status.SENT, None
    else:
        intent.status = StockIntent.Status.QUEUED
        if not was_queued or intent.queued_at is None:  # collapsing keeps the place in the queue
            intent.queued_at = now


# ---- the queue -------------------------------------------------------------------------------------


def lock_queue(account_id: int) -> None:
    """Inside a transaction: take the account's queue row (`StockQueue`), creating it the first time, so
    the account's intents have one writer at a time until the transaction ends."""
    StockQueue.objects.bulk_create([StockQueue(account_id=account_id)], ignore_conflicts=True)
    list(StockQueue.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True))


def request_drain(account_id: int) -> bool:
    """Ask a worker to send the account's queue: one task however many callers ask before it starts (a
    request older than DRAIN_LEASE is taken as lost and asked again). The task forgets the request as it
    starts, so a change that arrives while it runs asks for one follow-up. True when a task was sent."""
    StockQueue.objects.bulk_create([StockQueue(account_id=account_id)], ignore_conflicts=True)
    now = timezone.now()
    asked = (
        StockQueue.objects.filter(pk=account_id)
        .filter(Q(drain_requested_at__isnull=True) | Q(drain_requested_at__lt=now - DRAIN_LEASE))
        .update(drain_requested_at=now)
    )
    if asked:
        enqueue("inventory.tasks.drain_account", account_id)
    return bool(asked)


def drain_started(account_id: int) -> None:
    StockQueue.objects.filter(pk=account_id).update(drain_requested_at=None)


def _lease(model: Any, pk: int, token_field: str, until_field: str, token: str = "") -> str | None:
    """Take (or, with its `token`, renew) a lease on one row: a compare-and-set, so of two takers one
    wins. Returns the token, None when someone else holds it."""
    now = timezone.now()
    free = Q(**{f"{until_field}__isnull": True}) | Q(**{f"{until_field}__lt": now})
    mine = Q(**{token_field: token}) if token else Q(pk__in=[])
    new = token or secrets.token_hex(8)
    taken = (
        model.objects.filter(pk=pk)
        .filter(free | mine)
        .update(**{token_field: new, until_field: now + (DRAIN_LEASE if model is StockQueue else SEND_LEASE)})
    )
    return new if taken else None


def _unlease(model: Any, pk: int, token_field: str, until_field: str, token: str) -> None:
    model.objects.filter(pk=pk, **{token_field: token}).update(**{token_field: "", until_field: None})


def due(account: ReverbAccount, now: Any = None) -> QuerySet[StockIntent]:
    """Queued intents whose time has come and that no send holds, zeros first, then in order."""
    now = now or timezone.now()
    return (
        StockIntent.objects.filter(account=account, status=StockIntent.Status.QUEUED)
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
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
    busy: bool = False  # another drain holds the account's queue (it sends what is waiting)
    order: list[str] = field(default_factory=list)  # SKUs in the order they were handled

    def count(self, outcome: str) -> None:
        """One send's outcome (see `send`)."""
        if outcome in ("sent", "relisted"):
            self.sent += 1
            self.relisted += outcome == "relisted"
        elif outcome in ("skipped", "busy"):
            self.skipped += 1
        else:
            self.failed += 1


def drain(
    account: ReverbAccount,
    *,
    limit: int | None = None,
    seconds: float | None = None,
    client: ReverbClient | None = None,
) -> DrainResult:
    """Send due intents, zeros first, until the queue is empty, `limit` sends or `seconds` have passed.
    One drain per account at a time (a lease on its `StockQueue` row): a second one returns at once,
    `busy`, and the one running sends what it queued. Before giving the lease back the drain looks once
    more, after, so a change whose own drain found it busy is never left behind.
    The client draws every request from the account's shared budget, so the pace is the budget's."""
    result = DrainResult()
    if not account.enabled:
        return result
    StockQueue.objects.bulk_create([StockQueue(account_id=account.pk)], ignore_conflicts=True)
    token = _lease(StockQueue, account.pk, "drain_token", "drain_until")
    if token is None:
        result.busy = True
        return result
    client = client or account.client()
    started = time.monotonic()
    try:
        while limit is None or result.sent + result.failed < limit:
            if seconds is not None and time.monotonic() - started >= seconds:
                break
            if _lease(StockQueue, account.pk, "drain_token", "drain_until", token) is None:
                token = None  # taken over after our lease ran out: the other drain goes on
                break
            intent = due(account).only("id", "sku").first()
            if intent is None:
                _unlease(StockQueue, account.pk, "drain_token", "drain_until", token)
                token = None
                if not due(account).exists():
                    break
                token = _lease(StockQueue, account.pk, "drain_token", "drain_until")
                if token is None:  # another drain has it now, and with it what just came
                    break
                continue
            result.order.append(intent.sku)
            result.count(send(intent, client=client))
    finally:
        if token is not None:
            _unlease(StockQueue, account.pk, "drain_token", "drain_until", token)
    result.left = due(account).count()
    return result


class _Prepaid:
    """The account's budget with the next request already granted: the send's PUT is not charged twice;
    its retries are charged as usual."""

    def __init__(self, limiter: Any) -> None:
        self.limiter, self.paid = limiter, 1

    def acquire(self, key: str, cost: int = 1) -> float:
        if self.paid >= cost:
            self.paid -= cost
            return 0.0
        return float(self.limiter.acquire(key, cost))

    def penalize(self, key: str, seconds: float) -> None:
        self.limiter.penalize(key, seconds)

    def paused_for(self, key: str) -> float:
        return float(getattr(self.limiter, "paused_for", lambda k: 0.0)(key))


@contextmanager
def budget_granted(client: ReverbClient) -> Iterator[ReverbClient]:
    """Wait for the account's budget first, then hand back the client whose next request is paid: what
    is read inside the block is read after the wait, not before it."""
    limiter = client.rate_limiter
    limiter.acquire(client.account_key)
    client.rate_limiter = _Prepaid(limiter)
    try:
        yield client
    finally:
        client.rate_limiter = limiter


def _fresh(pk: int) -> StockIntent | None:
    return StockIntent.objects.select_related("listing", "listing__account", "account").filter(pk=pk).first()


def _on_reverb_already(intent: StockIntent) -> bool:
    listing = intent.listing
    return (
        not intent.forced
        and intent.quantity == listing.inventory
        and not listing_services.needs_publish_to_sell(listing, intent.quantity)
    )


def send(intent: StockIntent, *, client: ReverbClient | None = None) -> str:
    """Send one intent with the listings service's stock-only push (`push_inventory`: one PUT of the
    inventory, no re-read: the shop's system owns the quantity): "sent", "relisted", "skipped" (the
    mirror says Reverb has it already, or it is no longer queued), "busy" (another send holds it) or
    "failed". One writer per listing: the send holds a lease on the intent for the length of the call,
    and reads the quantity to send after the lease and after the rate budget is granted. "On Reverb" is
    what Reverb answered; if the wanted quantity changed meanwhile, the intent stays queued for another
    send. A person's other pending edits of the listing stay pending and are not sent. Writes the
    stock.out log row with Reverb's answer."""
    token = _lease(StockIntent, intent.pk, "claim_token", "claimed_until")
    if token is None:
        return "busy"
    try:
        return _send_held(intent.pk, client or intent.account.client())
    finally:
        _unlease(StockIntent, intent.pk, "claim_token", "claimed_until", token)


def _send_held(pk: int, client: ReverbClient) -> str:
    intent = _fresh(pk)
    if intent is None or intent.status != StockIntent.Status.QUEUED:
        return "skipped"
    if _on_reverb_already(intent):  # (no need to wait for the budget to know that)
        _settle(intent.pk, intent.quantity, intent.listing.inventory)
        return "skipped"
    with budget_granted(client):
        intent = _fresh(pk)  # the value to send: read now, after the claim and the wait
        if intent is None or intent.status != StockIntent.Status.QUEUED:
            return "skipped"
        listing, quantity = intent.listing, intent.quantity
        if _on_reverb_already(intent):
            _settle(intent.pk, quantity, listing.inventory)
            return "skipped"
        try:
            done = listing_services.push_inventory(listing, quantity, actor=None, client=client)
        except ActionError as exc:
            return _failed(intent, listing, exc.message, exc.field_errors, retry=not exc.refused)
        except ReverbError as exc:
            return _failed(intent, listing, str(exc), {}, retry=True)
    updated = done.obj or listing
    relisted = any(r.get("relisted") for r in done.results)
    SyncLogEntry.objects.create(
        **_entry_fields(
            intent.account,
            updated,
            "success",
            done.text + _held_text(intent.reported, quantity),
            intent.source,
            intent.source_detail,
            quantity,
            reported=intent.reported,
        )
    )
    if not _settle(intent.pk, quantity, updated.inventory):
        answer = f"Inventory {quantity} sent, but Reverb answered {updated.inventory}."
        return _failed(intent, updated, answer, {}, retry=True)
    return "relisted" if relisted else "sent"


def _held_text(reported: int | None, quantity: int) -> str:
    if reported is None or reported == quantity:
        return ""
    return f" (received {reported}, sent {quantity}: {reported - quantity} held back by the stock buffer)"


def _entry_fields(
    account: ReverbAccount,
    listing: Listing,
    status: str,
    message: str,
    source: str,
    detail: str,
    quantity: int,
    field_errors: Mapping[str, Any] | None = None,
    *,
    reported: int | None = None,
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
        reported=reported,
    )
    return {f.name: getattr(entry, f.name) for f in SyncLogEntry._meta.concrete_fields if f.name != "id"}


def _settle(pk: int, quantity: int, reverb_has: int | None) -> bool:
    """After sending `quantity`, Reverb has `reverb_has`: that is "on Reverb" (`sent_quantity`). The
    intent is done when Reverb has what is wanted now; a quantity that changed meanwhile stays queued, at
    its place, due now. False when Reverb answered other than what was sent and nothing newer is wanted
    (the caller counts it as a failed attempt)."""
    now = timezone.now()
    with transaction.atomic():
        intent = StockIntent.objects.filter(pk=pk).only("account_id").first()
        if intent is None:
            return True
        lock_queue(intent.account_id)
        intent = StockIntent.objects.get(pk=pk)
        changed = intent.quantity != quantity
        done = intent.quantity == reverb_has and not (changed and intent.forced)
        update: dict[str, Any] = {"sent_quantity": reverb_has, "sent_at": now}
        if done:
            update.update(status=StockIntent.Status.SENT, queued_at=None, attempts=0, forced=False)
            update.update(last_error="", next_try_at=None)
        elif changed:  # another send follows
            update.update(status=StockIntent.Status.QUEUED, queued_at=intent.queued_at or now)
        StockIntent.objects.filter(pk=pk).update(**update)
    return done or changed


def _failed(
    intent: StockIntent, listing: Listing, message: str, field_errors: Mapping[str, Any], *, retry: bool
) -> str:
    """A transport error or a Reverb error is tried again after a delay; a refusal (push settings,
    inventory rule) waits for a person (retry in the admin). A quantity changed since this send began is
    sent next, without waiting."""
    attempts = intent.attempts + 1
    again = retry and attempts <= len(RETRY_DELAYS)
    StockIntent.objects.filter(pk=intent.pk, quantity=intent.quantity).update(
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
            reported=intent.reported,
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
    with transaction.atomic():  # the account's queue lock: no lost update with a set_stock or a send
        lock_queue(listing.account_id)
        intent = StockIntent.objects.filter(listing=listing).first()
        if intent is None:
            return None
        _sold(intent, quantity, order_number, ordered_at)
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


def _sold(intent: StockIntent, quantity: int, order_number: str, ordered_at: Any) -> None:
    intent.quantity = max(intent.quantity - quantity, 0)
    if intent.reported is not None:  # the shop's own count loses the sold units too (buffer unchanged)
        intent.reported = max(intent.reported - quantity, 0)
    intent.priority = priority(intent.quantity)
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
    intent.save(  # not the send's lease fields: a send may hold the row
        update_fields=[
            "quantity",
            "reported",
            "priority",
            "sent_quantity",
            "source",
            "source_detail",
            "changed_at",
            "status",
            "queued_at",
            "attempts",
            "next_try_at",
            "last_error",
        ]
    )


def restock(listing: Listing, quantity: int, *, detail: str = "") -> StockIntent:
    """An approved refund whose item came back: the shop's quantity goes up by `quantity`, queued (less
    the stock buffer, like any reported quantity: the base is what was reported, not what Reverb got).
    It goes where the SKU's stock goes (`listings_by_sku`): a sold listing whose SKU a live one reuses
    restocks the live one; a SKU naming several listings is refused (ValueError, with the reason)."""
    lookup = listings_by_sku(listing.account, [listing.sku] if listing.sku else [])
    if listing.sku in lookup.shared:
        raise ValueError(lookup.shared[listing.sku])
    target = lookup.found[listing.sku][1] if listing.sku in lookup.found else listing
    intent = StockIntent.objects.filter(listing=target).first()
    if intent is not None:
        base = intent.reported if intent.reported is not None else intent.quantity
    else:
        base = target.inventory or 0
    result = set_stock(
        listing.account,
        [{"sku": listing.sku, "quantity": base + quantity}],
        source=Source.REFUND,
        detail=detail,
    )
    row = result.rows[0]
    if row.status != "accepted":
        raise ValueError(row.error)
    return StockIntent.objects.get(account_id=listing.account_id, listing__reverb_id=row.listing_id)
