"""Reverb webhooks: receive (store raw first, answer 200 at once) and process (re-read, upsert).

Reverb signs nothing and sends the bare object with no envelope (API-NOTES 12), so:
- the URL is the secret: /webhooks/reverb/<ReverbAccount.webhook_secret>/, rotatable from the admin;
- the body is never trusted: it only says *which* object changed. Processing re-reads that object through
  the client and upserts it with the sync engine (same mapper, same hash skip), so processing a delivery
  twice, or two deliveries for one object, ends in the same mirror state.
- a burst costs one re-read per object, not per delivery: a worker claims the delivery (a compare-and-set
  to "processing") and the object (`once.claim`), and its re-read settles every delivery for that object
  received before it started (`covered_by`); waiting for Reverb's budget defers a delivery, never fails it.
Nothing here is needed by polling: the scheduled pulls cover everything whether webhooks arrive or not.

Processing is sent to a worker on commit through backoffice/background/queue.py (settings.WORKER_BACKEND;
with "none" deliveries are stored only and `process_pending` picks them up).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from backoffice import once
from backoffice.actions import Push, ReverbRefused
from backoffice.background.queue import enqueue, lease_expiry
from backoffice.models import ReverbAccount, WebhookDelivery
from backoffice.reverb.errors import RateLimitedError, RateLimitPausedError, UnauthorizedError
from backoffice.reverb.ratelimit import current_patience, patience

if TYPE_CHECKING:
    from backoffice.reverb.client import ReverbClient

log = logging.getLogger(__name__)
PROCESS = "backoffice.background.webhooks.process_delivery"

State = WebhookDelivery.State

# The topics we register: each names an object we can re-read (API-NOTES 12's docs table). `orders/paid`
# is the one topic a seller token could register in the sandbox (API-NOTES 16.5); the others are optional:
# Reverb's 400 "topic does not have a valid value" for one of them is "not offered", not a failure.
REQUIRED_TOPICS = ("orders/paid",)
OPTIONAL_TOPICS = (
    "listings/update",
    "listings/publish",
    "orders/create",
    "orders/update",
    "payments/create",
    "payments/update",
)
TOPICS = (*REQUIRED_TOPICS, *OPTIONAL_TOPICS)
# Topic prefix -> (object type = sync resource name, body field holding its key).
OBJECT_TYPES: dict[str, tuple[str, str]] = {
    "listings": ("listings", "id"),
    "orders": ("orders", "order_number"),
    "payments": ("payments", "id"),
}
# Request headers worth keeping with the body (never cookies or auth).
KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Reverb-Topic", "X-Request-Id")
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# A worker waits for the account's budget; a longer pause Reverb asked for (429) defers the delivery: it
# goes back to "received" for the next run of `process_pending`, never "failed" for waiting.
BUDGET_PATIENCE = 30.0


class WebhookBodyError(ValueError):
    """The body does not say which object changed (not JSON, not an object, no usable key)."""


@dataclass(frozen=True)
class Target:
    object_type: str  # a sync resource name: listings, orders, payments
    key: str


# ---- URLs ---------------------------------------------------------------------------------------------


def webhook_path(account: ReverbAccount) -> str:
    return reverse("reverb_webhook", args=[account.webhook_secret])


def webhook_url(account: ReverbAccount, base_url: str) -> str:
    """The public URL Reverb posts to, from the site's public origin (e.g. https://shop.example.com)."""
    return base_url.rstrip("/") + webhook_path(account)


# ---- what a body is about ------------------------------------------------------------------------------


def max_body_bytes() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def parse_body(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise WebhookBodyError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookBodyError(f"body is JSON but not an object (got {type(data).__name__})")
    return data


def infer_type(data: Mapping[str, Any]) -> str:
    """No topic header: guess from the shape. Payments carry an order number too, but an id of their own
    and none of an order's money or buyer fields; orders have no `id` (their key is the order number)."""
    if data.get("order_number") not in (None, ""):
        order_like = any(k in data for k in ("amount_product", "buyer_name", "buyer_id", "total"))
        return "payments" if "id" in data and not order_like else "orders"
    if any(k in data for k in ("make", "model", "sku", "listing_currency", "inventory")):
        return "listings"
    raise WebhookBodyError(
        "no X-Reverb-Topic header and the body looks like no known object "
        "(expected a listing, an order or a payment)"
    )


def target_of(topic: str, data: Mapping[str, Any]) -> Target | None:
    """Which object to re-read; None for a topic that names no object we mirror (e.g. app/uninstalled)."""
    if topic:
        prefix = topic.split("/", 1)[0]
        if prefix not in OBJECT_TYPES:
            return None
        object_type = OBJECT_TYPES[prefix][0]
    else:
        object_type = infer_type(data)
    field = OBJECT_TYPES[object_type][1]
    key = data.get(field)
    if object_type == "orders" and key in (None, ""):
        key = data.get("id")
    if isinstance(key, bool) or not isinstance(key, str | int) or str(key).strip() in ("", "0"):
        raise WebhookBodyError(f"the {object_type[:-1]} in the body has no usable {field!r}")
    key = str(key).strip()
    if len(key) > 64 or "/" in key:
        raise WebhookBodyError(f"the {object_type[:-1]} key {key[:70]!r} is not a Reverb key")
    return Target(object_type, key)


# ---- receiving -----------------------------------------------------------------------------------------


def _headers(request: HttpRequest) -> dict[str, str]:
    kept = {name: request.headers[name][:500] for name in KEPT_HEADERS if name in request.headers}
    kept["Remote-Addr"] = str(request.META.get("REMOTE_ADDR", ""))
    return kept


@csrf_exempt
def receive(request: HttpRequest, secret: str) -> HttpResponse:
    """Store first (one SELECT, one INSERT), answer at once; processing happens after the commit."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    found = ReverbAccount.objects.filter(webhook_secret=secret).values_list("pk", "enabled").first()
    if found is None:
        return HttpResponseNotFound(b"", content_type="text/plain")
    account_id, enabled = found
    headers = _headers(request)
    topic = request.headers.get("X-Reverb-Topic", "").replace("\x00", "").strip()[:64]
    cap = max_body_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    raw = b"" if declared > cap else request.read(cap + 1)
    delivery = WebhookDelivery(account_id=account_id, topic=topic, headers=headers)
    too_big = declared > cap or len(raw) > cap
    has_nul = not too_big and b"\x00" in raw
    if too_big:  # recorded (so it is seen), never processed
        delivery.state = State.FAILED
        delivery.error = f"body larger than {cap} bytes ({max(declared, len(raw))}); not stored"
    elif has_nul:  # no text column takes a NUL on PostgreSQL, and no JSON Reverb sends has one
        delivery.body = raw.replace(b"\x00", b"").decode("utf-8", errors="replace")
        delivery.state = State.FAILED
        delivery.error = "body contains a NUL byte (0x00): stored without it, not processed"
    else:
        _classify(delivery, raw, enabled)
    delivery.save(force_insert=True)
    if delivery.state == State.RECEIVED:
        enqueue(PROCESS, delivery.pk, task_name=f"webhook-{delivery.pk}")
    if too_big:
        return HttpResponse(b"payload too large", status=413, content_type="text/plain")
    if has_nul:
        return HttpResponse(b"body contains a NUL byte", status=400, content_type="text/plain")
    return HttpResponse(b"ok", content_type="text/plain")


def _classify(delivery: WebhookDelivery, raw: bytes, enabled: bool) -> None:
    """Fill body, object type and key; a body we cannot read is stored as failed, with the reason."""
    try:
        delivery.body = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        delivery.body = raw.decode("utf-8", errors="replace")
        delivery.state, delivery.error = State.FAILED, f"body is not UTF-8: {exc}"
        return
    if not enabled:
        delivery.state = State.IGNORED
        delivery.error = "the account is disabled: stored, not processed (polling is off for it too)"
        return
    try:
        target = target_of(delivery.topic, parse_body(delivery.body))
    except WebhookBodyError as exc:
        delivery.state, delivery.error = State.FAILED, str(exc)
        return
    if target is None:
        delivery.state = State.IGNORED
        delivery.error = f"topic {delivery.topic!r} names no object this back office mirrors"
        return
    delivery.object_type, delivery.object_key = target.object_type, target.key


# ---- processing ----------------------------------------------------------------------------------------


def _takeable(replay: bool) -> Q:
    """Rows a worker may take: "received" ones (replay: failed and processed ones too), and "processing"
    ones whose worker died (claimed longer ago than a task may run)."""
    states = [State.RECEIVED, State.FAILED, State.PROCESSED] if replay else [State.RECEIVED]
    stale = timezone.now() - lease_expiry()
    return Q(state__in=states) | Q(state=State.PROCESSING, claimed_at__lt=stale)


def _claim(delivery_id: int, *, replay: bool) -> WebhookDelivery | None:
    """Take the delivery for this worker: one compare-and-set UPDATE (its state must still be takeable),
    so of two workers handed the same delivery exactly one goes on; the row says "processing" meanwhile."""
    taken = (
        WebhookDelivery.objects.filter(_takeable(replay), pk=delivery_id)
        .exclude(state=State.IGNORED)
        .update(
            state=State.PROCESSING, claimed_at=timezone.now(), attempts=F("attempts") + 1, covered_by=None
        )
    )
    if not taken:
        return None
    return WebhookDelivery.objects.select_related("account").get(pk=delivery_id)


def _twins(delivery: WebhookDelivery) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(
        account_id=delivery.account_id, object_type=delivery.object_type, object_key=delivery.object_key
    ).exclude(pk=delivery.pk)


def _object_claim(account_id: int, object_type: str, object_key: str) -> str:
    return f"webhook:{account_id}:{object_type}:{object_key}"


def process_delivery(delivery_id: int, *, replay: bool = False, client: ReverbClient | None = None) -> str:
    """The worker's entry point (an id in, a summary out). Only "received" deliveries are taken unless
    `replay` (the admin's action), which also re-processes failed and processed ones; ignored ones never."""
    state, outcome = handle(delivery_id, replay=replay, client=client)
    return f"webhook delivery {delivery_id}: {state or 'nothing to do'} {outcome}".strip()


def handle(
    delivery_id: int, *, replay: bool = False, client: ReverbClient | None = None
) -> tuple[str | None, str]:
    """(new state, outcome), or (None, "") when the delivery was not ours to take. The outcome is
    created/updated/unchanged, a note (kept in `error`, e.g. Reverb's 404), a deferral or the failure.

    One re-read per object at a time (a `once.claim` on the object): a worker handed a delivery whose
    object another worker is re-reading leaves it; that re-read settles it if it was received before the
    re-read started, and sends it again otherwise."""
    found = WebhookDelivery.objects.filter(pk=delivery_id).values("account_id", "object_type", "object_key")
    row = found.first()
    if row is None:
        return None, ""
    if not row["object_type"]:  # stored before objects were classified: nothing to coalesce on
        return _handle_claimed(delivery_id, replay=replay, client=client)
    try:
        with once.claim(_object_claim(row["account_id"], row["object_type"], row["object_key"])):
            state, outcome = _handle_claimed(delivery_id, replay=replay, client=client)
    except once.AlreadyClaimed:
        return None, ""
    if state in (State.PROCESSED, State.FAILED):  # after the release: a twin that came meanwhile goes next
        _send_next(row["account_id"], row["object_type"], row["object_key"])
    return state, outcome


def _handle_claimed(delivery_id: int, *, replay: bool, client: ReverbClient | None) -> tuple[str | None, str]:
    delivery = _claim(delivery_id, replay=replay)
    if delivery is None:
        return None, ""
    started = timezone.now()
    if delivery.object_type:  # its twins received before this re-read starts are settled by it
        _twins(delivery).filter(state=State.RECEIVED, received_at__lte=started).update(
            state=State.PROCESSING, claimed_at=started, covered_by=delivery.pk
        )
    state, note = State.PROCESSED, ""
    person = current_patience()  # the admin's Replay runs in a person's request: their patience
    try:
        with patience(BUDGET_PATIENCE if person is None else min(person, BUDGET_PATIENCE)):
            outcome, note = _process(delivery, client)
    except (RateLimitedError, RateLimitPausedError) as exc:  # waiting for the budget is not a failure
        wait = getattr(exc, "wait", None) or getattr(exc, "retry_after", None)
        asked = (
            f"Reverb asks to wait {math.ceil(wait)} s" if wait else "Reverb answered 429 (too many requests)"
        )
        state = State.RECEIVED
        note = outcome = f"deferred: {asked}; taken again by the next run of unprocessed deliveries"
    except Exception as exc:  # any failure stays on the delivery, to be replayed
        log.warning("webhook delivery %s failed: %s", delivery.pk, exc, exc_info=True)
        state, note = State.FAILED, f"{type(exc).__name__}: {exc}"
        outcome = note
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=state,
        error=note[:5000],
        processed_at=None if state == State.RECEIVED else now,
        object_type=delivery.object_type,
        object_key=delivery.object_key,
    )
    covered = WebhookDelivery.objects.filter(covered_by=delivery.pk, state=State.PROCESSING)
    if state == State.RECEIVED:  # deferred together
        covered.update(state=State.RECEIVED, covered_by=None, claimed_at=None, error=note[:5000])
    else:
        why = f"settled by the re-read of delivery {delivery.pk}" + (f": {note}" if note else "")
        covered.update(state=state, error=why[:5000], processed_at=now)
    return state, outcome


def _send_next(account_id: int, object_type: str, object_key: str) -> None:
    """A twin received after the re-read started (it waited for the object's claim) gets its own task."""
    waiting = WebhookDelivery.objects.filter(
        account_id=account_id, object_type=object_type, object_key=object_key, state=State.RECEIVED
    ).exclude(error__startswith="deferred:")
    first = waiting.order_by("received_at", "pk").values_list("pk", flat=True).first()
    if first is not None:
        enqueue(PROCESS, first, task_name=f"webhook-{first}")


def _process(delivery: WebhookDelivery, client: ReverbClient | None) -> tuple[str, str]:
    """(outcome, note to keep on the delivery)."""
    from backoffice.reverb.errors import NotFoundError
    from backoffice.sync.objects import upsert_objects

    account = delivery.account
    if not account.enabled:
        raise RuntimeError("the account is disabled; it is never called")
    target = target_of(delivery.topic, parse_body(delivery.body))
    if target is None:
        note = f"topic {delivery.topic!r} names no object this back office mirrors"
        return "skipped", note
    delivery.object_type, delivery.object_key = target.object_type, target.key
    client = client or account.client()
    try:
        payload = reread(client, target)
    except NotFoundError:
        return "not found", (
            f"Reverb answers 404 for {target.object_type[:-1]} {target.key}: nothing upserted; "
            "the nightly reconciliation decides whether it is gone"
        )
    result = upsert_objects(account, target.object_type, [payload]).result
    if result.created or result.updated:
        _reread_what_it_changed(account, client, target.object_type, payload)
    if result.created:
        return "created", ""
    return ("updated" if result.updated else "unchanged"), ""


def _reread_what_it_changed(
    account: ReverbAccount, client: ReverbClient, object_type: str, payload: dict[str, Any]
) -> None:
    """What a new or changed object says changed too, re-read as an incremental pull does (the resource's
    `incremental_children`: an order's listing by SKU, orders/sync.py): the pull that follows finds the
    object unchanged and would re-read nothing."""
    from backoffice.sync import registry
    from backoffice.sync.objects import upsert_objects

    for child, fetch in registry.get(object_type).incremental_children:
        for rows in fetch(client, [payload]):
            upsert_objects(account, child, rows)


def reread(client: ReverbClient, target: Target) -> dict[str, Any]:
    """The object as Reverb has it now (never the webhook body)."""
    if target.object_type == "listings":  # the seller's own row by SKU: GET /listings/{id} has no sku
        from backoffice.sync import registry

        model = registry.get("listings").model
        sku = model.objects.filter(reverb_id=target.key).values_list("sku", flat=True).first() or ""
        payload = client.seller_listing(target.key, sku)
        if not isinstance(payload, dict):
            raise WebhookBodyError(f"Reverb answered {type(payload).__name__} for {target}")
        return payload
    fetch = {
        "orders": client.get_order,
        "payments": client.get_payment,
    }[target.object_type]
    payload = fetch(target.key)
    if not isinstance(payload, dict):
        raise WebhookBodyError(f"Reverb answered {type(payload).__name__} for {target}")
    return payload


def process_pending(account: ReverbAccount | None = None, *, limit: int | None = None) -> int:
    """Process every delivery still "received" (a lost enqueue, WORKER_BACKEND "none", a dead worker, a
    deferral), oldest first. Returns how many this call took (twins settled by one re-read count once;
    others may have been taken by another worker)."""
    qs = WebhookDelivery.objects.filter(_takeable(replay=False))
    if account is not None:
        qs = qs.filter(account=account)
    rows = qs.order_by("received_at", "pk").values_list("pk", "account_id")[:limit]
    taken, waiting = 0, set()  # accounts Reverb asked to wait: the rest of theirs go to the next run
    for delivery_id, account_id in list(rows):
        if account_id in waiting:
            continue
        state = handle(delivery_id)[0]
        taken += state is not None
        if state == State.RECEIVED:
            waiting.add(account_id)
    return taken


def replay(delivery_ids: list[int]) -> dict[str, int]:
    """The admin's "Replay": process the deliveries again, now, in this request. Counts per outcome."""
    counts: dict[str, int] = {}
    for delivery_id in delivery_ids:
        state = handle(delivery_id, replay=True)[0]
        outcome = str(state) if state else "skipped"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# ---- secret rotation -----------------------------------------------------------------------------------


def rotate_secret(account: ReverbAccount) -> str:
    """A new secret: the old URL answers 404 from now on; registrations must be made again."""
    from backoffice.models import new_webhook_secret

    account.webhook_secret = new_webhook_secret()
    account.save(update_fields=["webhook_secret", "updated"])
    return account.webhook_secret


# ---- registration with Reverb --------------------------------------------------------------------------

OAUTH_EXPLANATION = (
    "Reverb refused to register webhooks with this account's token ({message}). Reverb only accepts "
    "webhook registrations from an OAuth app's token, not from a personal access token like the ones this "
    "back office stores. Nothing is lost meanwhile: the scheduled polling pulls every listing, order and "
    "payment change on its own, webhooks only make changes arrive sooner. To use webhooks, register the "
    "URL below with an OAuth app token for this shop: {url}"
)


class WebhookRegistrationRefused(Exception):
    """Reverb answered 401 to a registration call: explained in words a shop owner can act on."""


@dataclass(frozen=True)
class RegistrationResult:
    topic: str
    outcome: str  # registered, already registered, failed, removed
    detail: str = ""


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def is_ours(url: str, base_url: str | None = None) -> bool:
    """A registration pointing at this back office's receiver (any secret); under `base_url` if given."""
    marker = "/webhooks/reverb/"
    if base_url:
        return url.startswith(base_url.rstrip("/") + marker)
    return marker in _path_of(url)


def _refused(exc: Exception, url: str) -> WebhookRegistrationRefused:
    message = getattr(exc, "message", "") or str(exc)
    if "oauth" in message.lower():
        return WebhookRegistrationRefused(OAUTH_EXPLANATION.format(message=message, url=url))
    return WebhookRegistrationRefused(
        f"Reverb refused this account's token ({message}); check it with `reverb_account check`."
    )


def registrations(account: ReverbAccount, client: ReverbClient | None = None) -> list[dict[str, Any]]:
    try:
        return (client or account.client()).webhook_registrations()
    except UnauthorizedError as exc:
        raise _refused(exc, "(needs --base-url)") from exc


def register(
    account: ReverbAccount, base_url: str, client: ReverbClient | None = None
) -> list[RegistrationResult]:
    """Register every topic in TOPICS at the account's URL, skipping the ones already there; then remove
    registrations of ours under the same base URL that carry an old (rotated) secret."""
    client = client or account.client()
    url = webhook_url(account, base_url)
    try:
        existing = client.webhook_registrations()
    except UnauthorizedError as exc:
        raise _refused(exc, url) from exc
    have = {(str(r.get("topic")), str(r.get("url"))) for r in existing}
    results: list[RegistrationResult] = []
    for topic in TOPICS:
        if (topic, url) in have:
            results.append(RegistrationResult(topic, "already registered"))
            continue
        push = _webhook_push(account, client, "webhooks.register", topic, {"topic": topic})
        try:
            made = push.send(lambda c, topic=topic: c.register_webhook(url, topic))
        except ReverbRefused as exc:
            if isinstance(exc.error, UnauthorizedError):
                raise _refused(exc.error, url) from exc.error
            # e.g. 400 "topic does not have a valid value": per topic
            if topic in OPTIONAL_TOPICS and exc.error.status == 400:
                results.append(RegistrationResult(topic, "not offered", str(exc.error)))
            else:
                results.append(RegistrationResult(topic, "failed", str(exc.error)))
            continue
        results.append(RegistrationResult(topic, "registered", f"id {made.get('id', '?')}"))
    for reg in existing:
        reg_url = str(reg.get("url", ""))
        if is_ours(reg_url, base_url) and reg_url != url:
            results.append(_delete(account, client, reg, "removed", "an old secret's URL"))
    return results


def unregister(
    account: ReverbAccount, base_url: str | None = None, client: ReverbClient | None = None
) -> list[RegistrationResult]:
    """Remove every registration pointing at our receiver (under `base_url` if given)."""
    client = client or account.client()
    try:
        existing = client.webhook_registrations()
    except UnauthorizedError as exc:
        raise _refused(exc, webhook_url(account, base_url or "")) from exc
    return [
        _delete(account, client, reg, "removed")
        for reg in existing
        if is_ours(str(reg.get("url", "")), base_url)
    ]


def _webhook_push(
    account: ReverbAccount, client: ReverbClient, action: str, key: str, summary: Mapping[str, Any]
) -> Push:
    """Registrations are changes on Reverb like any other: audited, with the URL's secret masked (the
    receiver's URL carries the account's webhook secret)."""
    return Push(
        account, action, ("webhook", key), summary=summary, client=client, secrets=(account.webhook_secret,)
    )


def _delete(
    account: ReverbAccount, client: ReverbClient, reg: Mapping[str, Any], outcome: str, why: str = ""
) -> RegistrationResult:
    topic = str(reg.get("topic", ""))
    push = _webhook_push(
        account, client, "webhooks.unregister", str(reg["id"]), {"topic": topic, "id": reg["id"]}
    )
    try:
        push.send(lambda c: c.delete_webhook(reg["id"]))
    except ReverbRefused as exc:
        return RegistrationResult(topic, "failed", f"removing {reg.get('url')}: {exc.error}")
    detail = f"id {reg['id']} {reg.get('url')}" + (f" ({why})" if why else "")
    return RegistrationResult(topic, outcome, detail)
