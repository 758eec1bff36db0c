"""The audit trail of every change sent to Reverb (DESIGN.md section 3, "Push").

`audited_call` is the one way a service talks to Reverb: it writes an `ApiCall` row ("sending") before
the call, so even a worker killed mid-call leaves a record, then completes it with the outcome, the
per-field errors and a curl command that reproduces the request with the token redacted (Reverb's
support asks for exactly that). Imported by backoffice/models.py so Django registers the model.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from backoffice.reverb.curl import as_curl
from backoffice.reverb.errors import ReverbError

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount
    from backoffice.reverb.client import ReverbClient

T = TypeVar("T")
# Keys whose values never belong in an audit row, whatever the payload.
SECRET_KEYS = {"token", "authorization", "password", "secret", "api_key"}
CURL_HEADERS = {
    "Accept": "application/hal+json",
    "Content-Type": "application/hal+json",
    "Accept-Version": "3.0",
    "Authorization": "Bearer [REDACTED]",
}


class ApiCall(models.Model):
    """One change sent to Reverb: who, what, when, what was sent, and what came back."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused before sending"
        UNKNOWN = "unknown", "Outcome unknown (connection lost)"

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.PROTECT, related_name="api_calls"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty for the system (schedules, webhooks).",
    )
    action = models.CharField(max_length=64, db_index=True, help_text="e.g. listings.publish, orders.ship")
    target_type = models.CharField(max_length=32, blank=True)
    target_key = models.CharField(max_length=64, blank=True, db_index=True)
    request_summary = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING, db_index=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    field_errors = models.JSONField(default=dict, blank=True)
    curl = models.TextField(blank=True)
    requests = models.PositiveSmallIntegerField(default=0)
    job = models.ForeignKey(
        "backoffice.BulkJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="api_calls"
    )
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "API call"
        indexes = [models.Index(fields=["account", "target_type", "target_key"], name="apicall_target")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_key} ({self.get_status_display()})"

# What is added to the request summary of every row written inside `noted(...)`: an automated action's
# rule and reason (automation/), so the trail says which rule acted and why.
_note: ContextVar[dict[str, Any] | None] = ContextVar("audit_note", default=None)


@contextlib.contextmanager
def noted(**note: Any) -> Iterator[None]:
    token = _note.set({**(_note.get() or {}), **note})
    try:
        yield
    finally:
        _note.reset(token)


def _summary(summary: Mapping[str, Any] | None) -> Any:
    return scrub({**dict(summary or {}), **(_note.get() or {})})


def scrub(value: Any) -> Any:
    """A JSON-safe copy with secret-looking keys masked."""
    if isinstance(value, Mapping):
        return {k: "[REDACTED]" if str(k).lower() in SECRET_KEYS else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def audited_call(
    *,
    account: ReverbAccount,
    actor: Any,
    action: str,
    target: tuple[str, str] = ("", ""),
    summary: Mapping[str, Any] | None = None,
    call: Callable[[ReverbClient], T],
    client: ReverbClient | None = None,
    job: Any = None,
) -> tuple[T, ApiCall]:
    """Run `call(client)` with an ApiCall row around it. Re-raises ReverbError after recording it."""
    record = ApiCall.objects.create(
        account=account,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target[0],
        target_key=str(target[1])[:64],
        request_summary=_summary(summary),
        job=job,
    )
    client = client or account.client()
    sent: list[tuple[str, str, bytes | None]] = []
    hook = lambda method, url, body: sent.append((method, url, body))  # noqa: E731
    client.send_hooks.append(hook)
    started = time.monotonic()
    try:
        result = call(client)
    except ReverbError as exc:
        maybe_applied = getattr(exc, "maybe_applied", False)
        _finish(
            record,
            sent,
            started,
            ApiCall.Status.UNKNOWN if maybe_applied else ApiCall.Status.FAILED,
            exc.status,
            str(exc),
            exc.field_errors(),
        )
        raise
    except Exception as exc:
        _finish(record, sent, started, ApiCall.Status.FAILED, None, f"{type(exc).__name__}: {exc}", {})
        raise
    finally:
        client.send_hooks.remove(hook)
    _finish(record, sent, started, ApiCall.Status.SUCCESS, 200, "", {})
    return result, record


def refused(
    *,
    account: ReverbAccount,
    actor: Any,
    action: str,
    target: tuple[str, str],
    reason: str,
    summary: Mapping[str, Any] | None = None,
    job: Any = None,
) -> ApiCall:
    """Record an action refused before anything was sent (wrong state, bad input)."""
    now = timezone.now()
    return ApiCall.objects.create(
        account=account,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target[0],
        target_key=str(target[1])[:64],
        request_summary=_summary(summary),
        status=ApiCall.Status.REFUSED,
        message=reason,
        started_at=now,
        finished_at=now,
        duration_ms=0,
        job=job,
    )


def _finish(
    record: ApiCall,
    sent: list[tuple[str, str, bytes | None]],
    started: float,
    status: str,
    http_status: int | None,
    message: str,
    field_errors: Mapping[str, Any],
) -> None:
    record.status = status
    record.http_status = http_status
    record.message = message[:5000]
    record.field_errors = scrub(dict(field_errors))
    record.requests = len(sent)
    if sent:
        method, url, body = sent[-1]
        record.curl = as_curl(method, url, CURL_HEADERS, body)
        if body and not record.request_summary:
            with contextlib.suppress(ValueError):
                record.request_summary = scrub(json.loads(body))
    record.finished_at = timezone.now()
    record.duration_ms = int((time.monotonic() - started) * 1000)
    record.save()
