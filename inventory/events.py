"""Events out: signed webhooks to the endpoints a Manager registered, and the watcher that finds events.

Signature: headers `X-Backoffice-Timestamp: <unix seconds>` and
`X-Backoffice-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`; the receiver
recomputes it with the endpoint's secret and refuses old timestamps (replays). `X-Backoffice-Event` and
`X-Backoffice-Delivery` name the event and the delivery.

A failed attempt (network error, timeout, non-2xx) is tried again after RETRY_DELAYS; after the last one
the delivery is failed (replayable from the admin). An endpoint whose attempts fail DISABLE_AFTER times in a
row is disabled, and the Managers get an email saying so.

The watcher compares the mirror with what it last saw (`SeenState`): a new order decrements the shop's
stock intent (`services.apply_reverb_sale`) and raises order.paid when paid; order status changes raise
order.paid / order.shipped; refund requests turning approved raise refund.approved; listings turning
sold out or ended raise listing.sold_out / listing.ended; an inventory change not sent by us raises
stock.changed. The first look at an account records a baseline and raises nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

import requests
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backoffice.models import ReverbAccount

from .models import EventDelivery, EventEndpoint, SeenState, StockIntent

log = logging.getLogger(__name__)
Event = EventEndpoint.Event

RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
DISABLE_AFTER = 20
TIMEOUT = (5.0, 10.0)
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
    """One delivery per endpoint that wants `event`; each is sent once the transaction commits."""
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
        for e in EventEndpoint.objects.filter(enabled=True)
        if e.wants(event, account_id)
    ]
    EventDelivery.objects.bulk_create(deliveries)
    if deliveries:
        from backoffice.background.queue import enqueue

        enqueue("inventory.tasks.deliver_due")
    return deliveries


def deliver(delivery: EventDelivery, *, session: requests.Session | None = None) -> bool:
    """One attempt. True when the endpoint answered 2xx."""
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        return False
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
    http = session or requests
    code, error = None, ""
    try:
        response = http.post(endpoint.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
        code = response.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}: {response.text[:300]}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
    delivery.attempts += 1
    delivery.last_status_code = code
    delivery.last_error = error
    now = timezone.now()
    if not error:
        delivery.status, delivery.delivered_at, delivery.next_try_at = (
            EventDelivery.Status.DELIVERED,
            now,
            None,
        )
        delivery.save()
        EventEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        return True
    if delivery.attempts <= len(RETRY_DELAYS):
        delivery.next_try_at = now + RETRY_DELAYS[delivery.attempts - 1]
    else:
        delivery.status, delivery.next_try_at = EventDelivery.Status.FAILED, None
    delivery.save()
    EventEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint.refresh_from_db(fields=["consecutive_failures", "enabled"])
    if endpoint.enabled and endpoint.consecutive_failures >= DISABLE_AFTER:
        disable(endpoint, f"{endpoint.consecutive_failures} failed attempts in a row; last: {error}")
    return False


def disable(endpoint: EventEndpoint, reason: str) -> None:
    EventEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_at=timezone.now(), disabled_reason=reason[:2000]
    )
    endpoint.enabled = False
    emails = [
        u.email
        for u in get_user_model().objects.filter(is_active=True, groups__name="Manager").exclude(email="")
    ]
    log.warning("event endpoint %s disabled: %s", endpoint, reason)
    if emails:
        send_mail(
            f"Event endpoint disabled: {endpoint.name}",
            f"The back office stopped sending events to {endpoint.url}.\n\n{reason}\n\n"
            "Fix the receiver, then enable the endpoint again in the admin "
            "(and replay the failed deliveries).",
            None,
            emails,
            fail_silently=True,
        )


def deliver_due(limit: int = 200) -> int:
    """Send the pending deliveries whose time has come (first attempts and retries)."""
    now = timezone.now()
    due = list(
        EventDelivery.objects.filter(status=EventDelivery.Status.PENDING, endpoint__enabled=True)
        .filter(next_try_at__isnull=True)
        .select_related("endpoint")[:limit]
    ) + list(
        EventDelivery.objects.filter(
            status=EventDelivery.Status.PENDING, endpoint__enabled=True, next_try_at__lte=now
        ).select_related("endpoint")[:limit]
    )
    with requests.Session() as session:
        return sum(deliver(d, session=session) for d in due)


def replay(delivery: EventDelivery) -> EventDelivery:
    """A new delivery of the same event (same event id, so receivers can de-duplicate)."""
    return EventDelivery.objects.create(
        endpoint=delivery.endpoint, event=delivery.event, event_id=delivery.event_id, payload=delivery.payload
    )


# ---- the watcher -----------------------------------------------------------------------------------


def _seen(account: ReverbAccount, kind: str) -> dict[str, SeenState]:
    return {s.reverb_id: s for s in SeenState.objects.filter(account=account, kind=kind)}


def watch(account: ReverbAccount) -> dict[str, int]:
    """Compare the account's mirror with what was last seen; raise events and apply Reverb's sales."""
    from listings.models import Listing
    from orders.models import Order
    from refunds.models import RefundRequest

    from . import services

    counts: dict[str, int] = {}
    cursor, _ = SeenState.objects.get_or_create(account=account, kind="_cursor", reverb_id="watch")
    first = not cursor.state
    since = None if first else cursor.state
    started = timezone.now()

    def changed(model: Any) -> Any:
        rows = model.objects.filter(account=account)
        return rows.filter(last_synced_at__gte=since) if since else rows

    def bump(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    new_states: list[SeenState] = []
    updates: list[SeenState] = []

    def remember(seen: dict[str, SeenState], kind: str, key: str, state: str, number: int | None) -> None:
        row = seen.get(key)
        if row is None:
            new_states.append(
                SeenState(account=account, kind=kind, reverb_id=key, state=state, number=number)
            )
        elif (row.state, row.number) != (state, number):
            row.state, row.number = state, number
            updates.append(row)

    with transaction.atomic():
        # What we last sent, read before Reverb's sales are applied: a sale is a change on Reverb too.
        sent = dict(
            StockIntent.objects.filter(account=account).values_list("listing__reverb_id", "sent_quantity")
        )
        seen = _seen(account, "order")
        for order in changed(Order).select_related("listing"):
            before = seen.get(order.reverb_id)
            data = {
                "order_number": order.order_number,
                "status": order.status,
                "sku": order.sku,
                "quantity": order.quantity,
                "listing_id": order.product_id,
                "web_url": order.web_url,
            }
            new = not first and before is None and order.status not in ("cancelled", "unpaid")
            listing = order.listing or (
                Listing.objects.filter(account=account, reverb_id=order.product_id).first()
                if new and order.product_id
                else None
            )  # the order may have landed before the sync linked it to its listing
            if new and listing is not None:
                services.apply_reverb_sale(
                    listing, order.quantity, order.order_number, order.remote_created_at
                )
                bump("sales")
            old = before.state if before is not None else ""
            if not first and order.status != old:
                if order.status in PAID_STATUSES and old not in PAID_STATUSES:
                    emit(Event.ORDER_PAID, account, data)
                    bump(Event.ORDER_PAID)
                if order.status in SHIPPED_STATUSES and old not in SHIPPED_STATUSES:
                    emit(Event.ORDER_SHIPPED, account, data)
                    bump(Event.ORDER_SHIPPED)
            remember(seen, "order", order.reverb_id, order.status, order.quantity)

        seen = _seen(account, "refund")
        for refund in changed(RefundRequest):
            before = seen.get(refund.reverb_id)
            if not first and refund.state == "approved" and (before is None or before.state != "approved"):
                emit(
                    Event.REFUND_APPROVED,
                    account,
                    {
                        "refund_request_id": refund.reverb_id,
                        "order_number": refund.order_number,
                        "state": refund.state,
                    },
                )
                bump(Event.REFUND_APPROVED)
            remember(seen, "refund", refund.reverb_id, refund.state, None)

        seen = _seen(account, "listing")
        for listing in changed(Listing).only("reverb_id", "sku", "state", "inventory", "web_url", "title"):
            before = seen.get(listing.reverb_id)
            data = {
                "listing_id": listing.reverb_id,
                "sku": listing.sku,
                "state": listing.state,
                "inventory": listing.inventory,
                "web_url": listing.web_url,
            }
            if not first and before is not None:
                if listing.state != before.state:
                    if listing.state in SOLD_OUT_STATES:
                        emit(Event.LISTING_SOLD_OUT, account, data)
                        bump(Event.LISTING_SOLD_OUT)
                    elif listing.state == "ended":
                        emit(Event.LISTING_ENDED, account, data)
                        bump(Event.LISTING_ENDED)
                if listing.inventory != before.number and listing.inventory != sent.get(listing.reverb_id):
                    emit(Event.STOCK_CHANGED, account, {**data, "previous_inventory": before.number})
                    bump(Event.STOCK_CHANGED)
            remember(seen, "listing", listing.reverb_id, listing.state, listing.inventory)

        SeenState.objects.bulk_create(new_states, batch_size=500)
        SeenState.objects.bulk_update(updates, ["state", "number"], batch_size=500)
        # Rows synced while this ran are looked at again next time (a second look changes nothing).
        cursor.state = started.isoformat()
        cursor.save(update_fields=["state"])
    return counts
