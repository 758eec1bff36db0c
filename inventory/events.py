"""Events out: signed webhooks to the endpoints a Manager registered, and the watcher that finds events.

Signature: headers `X-Backoffice-Timestamp: <unix seconds>` and
`X-Backoffice-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`; the receiver
recomputes it with the endpoint's secret and refuses old timestamps (replays). `X-Backoffice-Event` and
`X-Backoffice-Delivery` name the event and the delivery; the body's `id` is the event's, the same on every
attempt and replay, so a receiver de-duplicates on it.

An outbox: `emit` stores one delivery per endpoint in the transaction that raised the event; `deliver_due`
claims an endpoint (a lease longer than the HTTP timeout, taken by compare-and-set, so two workers never
send the same rows, on PostgreSQL and SQLite alike) and sends its deliveries oldest first, each only after
the one before it was delivered: at least once, in order.

A failed attempt (network error, timeout, non-2xx) is tried again after RETRY_DELAYS. A delivery the
receiver refuses (a 3xx or 4xx other than 408/429) gives up after MAX_ATTEMPTS attempts (failed, replayable
from the admin) and the next one goes. A receiver that is unavailable (no answer, 5xx, 408, 429) is tried
at least every PROBE_EVERY and its deliveries are kept, up to settings.EVENT_RETENTION_DAYS.
Each attempt counts once on the endpoint; after DOWN_AFTER failed attempts in a row the endpoint is down
(half-open: only its oldest delivery is tried, as a probe) and the people responsible are told once; the
first success brings it back (they are told again) and the backlog follows in order. Only a person turns
an endpoint off (`enabled`); no events are made for it then.

The watcher compares the mirror with what it last saw (`SeenState`): a new order decrements the shop's
stock intent (`services.apply_reverb_sale`) and raises order.paid when paid; order status changes raise
order.paid / order.shipped; refund requests turning approved raise refund.approved; listings turning
sold out or ended raise listing.sold_out / listing.ended; an inventory change not sent by us raises
stock.changed. Order events are raised before the listing events they cause, so they leave first. One
watcher per account at a time (its cursor row is locked); the first look at an account records a baseline
and raises nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from backoffice import outbound
from backoffice.models import ReverbAccount
from backoffice.people import emails_of

from .models import EventDelivery, EventEndpoint, SeenState, StockIntent

log = logging.getLogger(__name__)
Event = EventEndpoint.Event
Status = EventDelivery.Status

RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
# The first attempt and one after each delay: 6. Only a refused delivery gives up; an unavailable
# receiver's deliveries are kept (EVENT_RETENTION_DAYS).
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
PROBE_EVERY = timedelta(minutes=5)  # an unavailable receiver is tried again at least this often
DOWN_AFTER = 3  # failed attempts in a row (each attempt once) before the endpoint is down (half-open)
TIMEOUT = (5.0, 10.0)
LEASE = timedelta(minutes=2)  # an endpoint's claim, renewed before each send: well over TIMEOUT
RUN_SECONDS = 50.0  # one deliver_due call's share; the next tick starts another
NOTIFY_PERM = "inventory.change_eventendpoint"  # who may fix an endpoint (Managers hold it)
PAID_STATUSES = {"paid", "shipped", "picked_up", "received", "partially_paid"}
SHIPPED_STATUSES = {"shipped", "picked_up", "received"}
SOLD_OUT_STATES = {"sold_out", "sold"}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300) -> bool:
    """What a receiver does (and what the tests check)."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def emit(event: str, account: ReverbAccount | None, data: dict[str, Any]) -> list[EventDelivery]:
    """One delivery per enabled endpoint that wants `event` (down ones too: they get it when back), stored
    with the caller's transaction and sent once it commits."""
    account_id = account.pk if account is not None else None
    event_id = uuid.uuid4().hex
    payload = {
        "id": event_id,
        "event": event,
        "account": account.name if account is not None else None,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }
    deliveries = [
        EventDelivery(endpoint=e, event=event, event_id=event_id, payload=payload)
        for e in EventEndpoint.objects.filter(enabled=True).order_by("pk")
        if e.wants(event, account_id)
    ]
    EventDelivery.objects.bulk_create(deliveries)
    if deliveries:
        from backoffice.background.queue import enqueue

        enqueue("inventory.tasks.deliver_due")
    return deliveries


@dataclass
class Answer:
    """What one attempt got: nothing wrong (`error` empty), refused by the receiver, or unavailable."""

    code: int | None
    error: str = ""
    refused: bool = False


def post(delivery: EventDelivery, endpoint: EventEndpoint) -> Answer:
    """One signed POST of `delivery` through backoffice/outbound.py (a private address is refused unless
    allowed, the address pinned, no redirects); never raises for the receiver's sake."""
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "reverb-backoffice-events/1",
        "X-Backoffice-Event": delivery.event,
        "X-Backoffice-Delivery": str(delivery.pk),
        "X-Backoffice-Timestamp": str(timestamp),
        "X-Backoffice-Signature": sign(endpoint.secret(), timestamp, body),
    }
    try:
        # Streamed: a 2xx body is never read, an error's only its first 300 bytes (a receiver's answer
        # cannot make the send outlast the endpoint's lease by its size).
        with outbound.call(
            "post",
            endpoint.url,
            what="event endpoint",
            data=body,
            headers=headers,
            timeout=TIMEOUT,
            stream=True,
        ) as response:
            code = response.status_code
            if 200 <= code < 300:
                return Answer(code)
            text = response.raw.read(300, decode_content=True).decode(errors="replace")
    except (requests.RequestException, outbound.OutboundError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:1000])
    return Answer(code, f"HTTP {code}: {text}", refused=code < 500 and code not in (408, 429))


def record(delivery: EventDelivery, endpoint: EventEndpoint, answer: Answer) -> bool:
    """Write one attempt's outcome (by the endpoint's lease holder: each attempt counts once)."""
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = answer.code, answer.error
    if not answer.error:
        delivery.status, delivery.delivered_at, delivery.next_try_at = Status.DELIVERED, now, None
        delivery.save()
        if endpoint.consecutive_failures:
            EventEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        if endpoint.down_since is not None:
            came_back(endpoint)
        return True
    if answer.refused and delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_try_at = Status.FAILED, None
    else:
        delay = RETRY_DELAYS[min(delivery.attempts, len(RETRY_DELAYS)) - 1]
        delivery.next_try_at = now + (delay if answer.refused else min(delay, PROBE_EVERY))
    delivery.save()
    EventEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint.refresh_from_db(fields=["consecutive_failures"])
    if endpoint.consecutive_failures >= DOWN_AFTER:
        went_down(endpoint, f"{endpoint.consecutive_failures} failed attempts in a row; last: {answer.error}")
    return False


def went_down(endpoint: EventEndpoint, reason: str) -> None:
    """Half-open from now on; the people responsible are told once (the compare-and-set decides who)."""
    now = timezone.now()
    if not EventEndpoint.objects.filter(pk=endpoint.pk, down_since__isnull=True).update(
        down_since=now, down_reason=reason[:2000]
    ):
        return
    endpoint.down_since = now
    log.warning("event endpoint %s down: %s", endpoint, reason)
    tell(
        endpoint,
        f"Event endpoint down: {endpoint.name}",
        f"The back office cannot deliver events to {endpoint.url}.\n\n{reason}\n\n"
        f"Events raised meanwhile are kept ({settings.EVENT_RETENTION_DAYS} days) and sent in order once "
        f"it answers again; it is tried every {int(PROBE_EVERY.total_seconds() // 60)} minutes by itself.",
    )


def came_back(endpoint: EventEndpoint) -> None:
    if not EventEndpoint.objects.filter(pk=endpoint.pk, down_since__isnull=False).update(
        down_since=None, down_reason=""
    ):
        return
    endpoint.down_since = None
    log.warning("event endpoint %s answers again", endpoint)
    tell(
        endpoint,
        f"Event endpoint back: {endpoint.name}",
        f"{endpoint.url} answers again; the events kept meanwhile are being delivered in order.",
    )


def tell(endpoint: EventEndpoint, subject: str, body: str) -> None:
    """Operational mail (no buyer's data): the endpoint's shop's people who may fix it, and the operators."""
    account = ReverbAccount.objects.filter(pk=endpoint.account_id).first()
    emails = emails_of(account, perm=NOTIFY_PERM, operators=True)
    if emails:
        send_mail(subject, body, None, emails, fail_silently=True)


def claim(endpoint_id: int) -> str | None:
    """Take the endpoint's lease (compare-and-set: of concurrent callers exactly one wins); its token."""
    token, now = uuid.uuid4().hex, timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    won = EventEndpoint.objects.filter(free, pk=endpoint_id, enabled=True).update(
        lease_until=now + LEASE, lease_token=token
    )
    return token if won else None


def renew(endpoint_id: int, token: str) -> bool:
    return bool(
        EventEndpoint.objects.filter(pk=endpoint_id, lease_token=token, enabled=True).update(
            lease_until=timezone.now() + LEASE
        )
    )


def release(endpoint_id: int, token: str) -> None:
    EventEndpoint.objects.filter(pk=endpoint_id, lease_token=token).update(lease_until=None, lease_token="")


def expire_old() -> int:
    """Deliveries kept longer than EVENT_RETENTION_DAYS (the receiver never came back) are given up."""
    days = settings.EVENT_RETENTION_DAYS
    if not days:
        return 0
    old = EventDelivery.objects.filter(
        status=Status.PENDING, created_at__lt=timezone.now() - timedelta(days=days)
    )
    return old.update(status=Status.FAILED, next_try_at=None, last_error=f"Not delivered within {days} days.")


def deliver_endpoint(endpoint_id: int, token: str, budget: int, until: float) -> int:
    """Send the claimed endpoint's due deliveries oldest first; stop at the first failure (the later ones
    wait for it). Returns how many were delivered."""
    delivered = 0
    while delivered < budget and time.monotonic() < until:
        head = (
            EventDelivery.objects.filter(endpoint_id=endpoint_id, status=Status.PENDING)
            .select_related("endpoint")
            .order_by("id")
            .first()
        )
        if head is None or (head.next_try_at is not None and head.next_try_at > timezone.now()):
            break
        if not renew(endpoint_id, token):  # lost the lease (expired, or a person disabled it)
            break
        answer = post(head, head.endpoint)
        if not EventEndpoint.objects.filter(pk=endpoint_id, lease_token=token).exists():
            break  # the send outlasted the lease and another worker took over: it records, not us
        if not record(head, head.endpoint, answer):
            break
        delivered += 1
    return delivered


def deliver_due(limit: int = 200, seconds: float = RUN_SECONDS) -> int:
    """Send what is due on every enabled endpoint no other worker holds. Returns how many were delivered."""
    expire_old()
    until = time.monotonic() + seconds
    due = Q(deliveries__next_try_at__isnull=True) | Q(deliveries__next_try_at__lte=timezone.now())
    endpoint_ids = list(
        EventEndpoint.objects.filter(due, enabled=True, deliveries__status=Status.PENDING)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    delivered = 0
    for endpoint_id in endpoint_ids:
        if delivered >= limit or time.monotonic() >= until:
            break
        token = claim(endpoint_id)
        if token is None:
            continue  # another worker is sending this endpoint's queue
        try:
            delivered += deliver_endpoint(endpoint_id, token, limit - delivered, until)
        finally:
            release(endpoint_id, token)
    return delivered


def replay(delivery: EventDelivery) -> EventDelivery:
    """A new delivery of the same event (same event id, so receivers can de-duplicate), at the end of the
    endpoint's queue."""
    return EventDelivery.objects.create(
        endpoint=delivery.endpoint, event=delivery.event, event_id=delivery.event_id, payload=delivery.payload
    )


# ---- the watcher -----------------------------------------------------------------------------------


def _seen(account: ReverbAccount, kind: str) -> dict[str, SeenState]:
    return {s.reverb_id: s for s in SeenState.objects.filter(account=account, kind=kind)}


class _Watch:
    """One look at an account's mirror: the rows synced since the last look, compared with what was seen."""

    def __init__(self, account: ReverbAccount, since: str | None) -> None:
        self.account, self.since, self.first = account, since, since is None
        self.counts: dict[str, int] = {}
        self.new_states: list[SeenState] = []
        self.updates: list[SeenState] = []

    def changed(self, model: Any) -> Any:
        rows = model.objects.filter(account=self.account)
        return rows.filter(last_synced_at__gte=self.since) if self.since else rows

    def raise_event(self, event: str, data: dict[str, Any]) -> None:
        emit(event, self.account, data)
        self.bump(event)

    def bump(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def remember(
        self, seen: dict[str, SeenState], kind: str, key: str, state: str, number: int | None
    ) -> None:
        row = seen.get(key)
        if row is None:
            self.new_states.append(
                SeenState(account=self.account, kind=kind, reverb_id=key, state=state, number=number)
            )
        elif (row.state, row.number) != (state, number):
            row.state, row.number = state, number
            self.updates.append(row)

    def orders(self) -> None:
        """A new order applies Reverb's sale to the stock; paid and shipped orders raise their events."""
        from listings.models import Listing
        from orders.models import Order

        from . import services

        seen = _seen(self.account, "order")
        for order in self.changed(Order).select_related("listing"):
            before = seen.get(order.reverb_id)
            data = {
                "order_number": order.order_number,
                "status": order.status,
                "sku": order.sku,
                "quantity": order.quantity,
                "listing_id": order.product_id,
                "web_url": order.web_url,
            }
            new = not self.first and before is None and order.status not in ("cancelled", "unpaid")
            listing = order.listing or (
                Listing.objects.filter(account=self.account, reverb_id=order.product_id).first()
                if new and order.product_id
                else None
            )  # the order may have landed before the sync linked it to its listing
            if new and listing is not None:
                services.apply_reverb_sale(
                    listing, order.quantity, order.order_number, order.remote_created_at
                )
                self.bump("sales")
            old = before.state if before is not None else ""
            if not self.first and order.status != old:
                if order.status in PAID_STATUSES and old not in PAID_STATUSES:
                    self.raise_event(Event.ORDER_PAID, data)
                if order.status in SHIPPED_STATUSES and old not in SHIPPED_STATUSES:
                    self.raise_event(Event.ORDER_SHIPPED, data)
            self.remember(seen, "order", order.reverb_id, order.status, order.quantity)

    def refunds(self) -> None:
        from refunds.models import RefundRequest

        seen = _seen(self.account, "refund")
        for refund in self.changed(RefundRequest):
            before = seen.get(refund.reverb_id)
            if (
                not self.first
                and refund.state == "approved"
                and (before is None or before.state != "approved")
            ):
                data = {"refund_request_id": refund.reverb_id, "order_number": refund.order_number}
                self.raise_event(Event.REFUND_APPROVED, {**data, "state": refund.state})
            self.remember(seen, "refund", refund.reverb_id, refund.state, None)

    def listings(self, sent: dict[str, int | None]) -> None:
        """Sold out, ended; a stock change that is not what we last sent (`sent`: per Reverb id)."""
        from listings.models import Listing

        seen = _seen(self.account, "listing")
        for listing in self.changed(Listing).only(
            "reverb_id", "sku", "state", "inventory", "web_url", "title"
        ):
            before = seen.get(listing.reverb_id)
            data = {
                "listing_id": listing.reverb_id,
                "sku": listing.sku,
                "state": listing.state,
                "inventory": listing.inventory,
                "web_url": listing.web_url,
            }
            if not self.first and before is not None:
                if listing.state != before.state:
                    if listing.state in SOLD_OUT_STATES:
                        self.raise_event(Event.LISTING_SOLD_OUT, data)
                    elif listing.state == "ended":
                        self.raise_event(Event.LISTING_ENDED, data)
                if listing.inventory != before.number and listing.inventory != sent.get(listing.reverb_id):
                    self.raise_event(Event.STOCK_CHANGED, {**data, "previous_inventory": before.number})
            self.remember(seen, "listing", listing.reverb_id, listing.state, listing.inventory)

    def save(self) -> None:
        SeenState.objects.bulk_create(self.new_states, batch_size=500)
        SeenState.objects.bulk_update(self.updates, ["state", "number"], batch_size=500)


def watch(account: ReverbAccount) -> dict[str, int]:
    """Compare the account's mirror with what was last seen; raise events and apply Reverb's sales."""
    cursor, _ = SeenState.objects.get_or_create(account=account, kind="_cursor", reverb_id="watch")
    with transaction.atomic():
        # One watcher per account at a time: the next one waits here, then reads what this one saw.
        cursor = SeenState.objects.select_for_update().get(pk=cursor.pk)
        look = _Watch(account, cursor.state or None)
        started = timezone.now()
        # What we last sent, read before Reverb's sales are applied: a sale is a change on Reverb too.
        sent = dict(
            StockIntent.objects.filter(account=account).values_list("listing__reverb_id", "sent_quantity")
        )
        look.orders()
        look.refunds()
        look.listings(sent)
        look.save()
        # Rows synced while this ran are looked at again next time (a second look changes nothing).
        cursor.state = started.isoformat()
        cursor.save(update_fields=["state"])
    return look.counts
