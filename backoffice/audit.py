"""The audit trail of every change sent to Reverb (DESIGN.md section 3, "Push").

`audited_call` is the one way a service talks to Reverb (through a `backoffice.actions.Push`: its
`Audited` part, below, carries who acts on what): it writes an `ApiCall` row ("sending") before
the call, so even a worker killed mid-call leaves a record, then completes it with the outcome, the
per-field errors and a curl command that reproduces the request with the token redacted (Reverb's
support asks for exactly that). The ApiCall model itself lives in backoffice/models/audit.py.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from django.utils import timezone

from backoffice.models import ApiCall
from backoffice.reverb.curl import as_curl
from backoffice.reverb.errors import ReverbError

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from backoffice.models import BulkJob, ReverbAccount
    from backoffice.reverb.client import ReverbClient

T = TypeVar("T")
# Who acts: a user, or None for the system (schedules, webhooks, commands).
Actor: TypeAlias = "AbstractBaseUser | None"


@dataclass
class Audited:
    """What the audit row of one change sent to Reverb records: who acts, on which account and target, as
    part of which job, with what summary; `call` is the latest row. backoffice.actions.Push adds the verbs."""

    account: ReverbAccount
    action: str
    target: tuple[str, str] = ("", "")
    actor: Actor = None
    job: BulkJob | None = None
    summary: Mapping[str, Any] | None = None
    client: ReverbClient | None = None
    call: ApiCall | None = None
    secrets: tuple[str, ...] = ()  # masked in the audit row's curl and summary

    @property
    def reverb(self) -> ReverbClient:
        """The client to send with (the account's own unless one was handed in)."""
        if self.client is None:
            self.client = self.account.client()
        return self.client


# Keys whose values never belong in an audit row, whatever the payload.
SECRET_KEYS = {"token", "authorization", "password", "secret", "api_key"}
CURL_HEADERS = {
    "Accept": "application/hal+json",
    "Content-Type": "application/hal+json",
    "Accept-Version": "3.0",
    "Authorization": "Bearer [REDACTED]",
}


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


def _row(push: Audited, **fields: Any) -> ApiCall:
    return ApiCall.objects.create(
        account=push.account,
        actor=push.actor if getattr(push.actor, "is_authenticated", False) else None,
        action=push.action,
        target_type=push.target[0],
        target_key=str(push.target[1])[:64],
        request_summary=_summary(push.summary),
        job=push.job,
        **fields,
    )


def audited_call(push: Audited, call: Callable[[ReverbClient], T]) -> T:
    """Run `call(push.reverb)` with an ApiCall row around it, left on `push.call` (also when it fails).
    Re-raises ReverbError after recording it."""
    record = push.call = _row(push)
    client = push.reverb
    sent: list[tuple[str, str, bytes | None]] = []
    hook = lambda method, url, body: sent.append(_hide(push.secrets, method, url, body))  # noqa: E731
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
    return result


def refused(push: Audited, reason: str) -> ApiCall:
    """Record an action refused before anything was sent (wrong state, bad input); left on `push.call`."""
    now = timezone.now()
    push.call = _row(
        push, status=ApiCall.Status.REFUSED, message=reason, started_at=now, finished_at=now, duration_ms=0
    )
    return push.call


def _hide(
    secrets: tuple[str, ...], method: str, url: str, body: bytes | None
) -> tuple[str, str, bytes | None]:
    """The request as the audit row keeps it: each of the push's secrets (e.g. a webhook URL's) masked."""
    for secret in filter(None, secrets):
        url = url.replace(secret, "[REDACTED]")
        body = body.replace(secret.encode(), b"[REDACTED]") if body else body
    return method, url, body


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
        note = _note.get() or {}
        if body and set(record.request_summary) <= set(note):  # no summary but the note: show the body
            with contextlib.suppress(ValueError):
                sent_body = json.loads(body)
                is_map = isinstance(sent_body, Mapping)
                record.request_summary = _summary(sent_body) if is_map else scrub(sent_body)
    record.finished_at = timezone.now()
    record.duration_ms = int((time.monotonic() - started) * 1000)
    record.save()
