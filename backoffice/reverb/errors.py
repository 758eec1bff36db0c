"""The ReverbError tree: what went wrong talking to Reverb, and whether trying again can help.

Reverb's error bodies are `{"message": ..., "errors": {field: [messages]}}` (API-NOTES 4.2); some
endpoints send `errors` as a flat list, and some bodies say `error` instead of `message` (4.3).
Nothing here ever holds request headers, and the client masks the token in every message, body and
field error it puts in one, so no error can leak it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit


class ReverbError(Exception):
    """Base of every error the client raises. `retryable` says whether the same call may succeed later."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: dict[str, list[str]] | list | None = None,
        method: str | None = None,
        url: str | None = None,
        body: Any = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors
        self.method = method
        self.url = url
        self.body = body
        if retryable is not None:
            self.retryable = retryable

    def field_errors(self) -> dict[str, list[str]]:
        """Per-field messages; a list-form `errors` lands under "__all__"."""
        return normalise_errors(self.errors)

    def __str__(self) -> str:
        head = ""
        if self.status is not None:
            try:
                head = f"{self.status} {HTTPStatus(self.status).phrase}"
            except ValueError:
                head = str(self.status)
        if self.method and self.url:
            parts = urlsplit(self.url)
            where = parts.path + (f"?{parts.query}" if parts.query else "")
            head = f"{head} on {self.method} {where}".strip()
        text = f"{head}: {self.message}" if head else self.message
        details = [
            f"{k}: {', '.join(v)}" if k != "__all__" else ", ".join(v)
            for k, v in self.field_errors().items()
            if v
        ]
        return "; ".join([text, *details])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ValidationError(ReverbError):
    """400/412/422: the request was refused as invalid; fix the data, do not retry."""


class UnauthorizedError(ReverbError):
    """401: the token is missing, wrong or revoked."""


class ForbiddenError(ReverbError):
    """403: e.g. "You are not authorized to perform this action." (Direct Offers not enabled)."""


class NotFoundError(ReverbError):
    """404."""


class MethodNotAllowedError(ReverbError):
    """405: the verb is not supported on this resource."""


class ConstraintError(ReverbError):
    """406: the request violates a constraint (Reverb's guide: deleting a live listing)."""


class RateLimitedError(ReverbError):
    """429. `retry_after` is the server's requested wait in seconds, when it sent one."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimitPausedError(ReverbError):
    """Reverb paused this account (a 429's Retry-After) for longer than a person should wait: an
    interactive call fails at once with this instead of waiting. `wait` is the seconds left."""

    def __init__(self, wait: float) -> None:
        self.wait = max(float(wait), 0.0)
        super().__init__(f"Reverb asks to wait {math.ceil(self.wait)} s: try again then")


class BudgetBusyError(ReverbError):
    """A person's call found the account's shared request budget spent by other calls for longer than a
    person should wait (ratebudget.DatabaseTokenBucket): nothing was sent. `wait` is the seconds until a
    token is due."""

    def __init__(self, wait: float) -> None:
        self.wait = max(float(wait), 0.0)
        super().__init__(
            "this shop's Reverb requests are all in use just now (sync and stock updates): "
            f"try again in {max(math.ceil(self.wait), 1)} s"
        )


class UnexpectedResponseError(ReverbError):
    """A success answer we cannot read: not JSON, or not the shape the endpoint documents."""


class ServerError(ReverbError):
    """5xx: possibly temporary."""

    retryable = True


class TransportError(ReverbError):
    """No usable answer: timeout, refused or reset connection. `maybe_applied` is True when a
    non-idempotent write may have reached Reverb: the caller must re-read before trying again."""

    def __init__(self, message: str, *, maybe_applied: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.maybe_applied = maybe_applied


class ForeignLinkError(ReverbError):
    """A link points at a host other than the account's API host; following it would leak the token."""


class DuplicateSkuError(ReverbError):
    """More than one listing carries the SKU, so a SKU lookup cannot say which one is ours."""

    def __init__(self, sku: str, listing_ids: list[Any]) -> None:
        super().__init__(
            f"{len(listing_ids)} listings share SKU {sku!r}: " + ", ".join(str(i) for i in listing_ids)
        )
        self.sku = sku
        self.listing_ids = listing_ids


STATUS_ERRORS: dict[int, type[ReverbError]] = {
    400: ValidationError,
    412: ValidationError,
    422: ValidationError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    406: ConstraintError,
    429: RateLimitedError,
}


def normalise_errors(errors: Any) -> dict[str, list[str]]:
    if not errors:
        return {}
    if isinstance(errors, dict):
        return {str(k): [str(m) for m in v] if isinstance(v, list) else [str(v)] for k, v in errors.items()}
    if isinstance(errors, list):
        return {"__all__": [str(m) for m in errors]}
    return {"__all__": [str(errors)]}


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def error_for_status(status: int, body: Any, *, method: str, url: str, headers: Any = None) -> ReverbError:
    """The typed error for an HTTP error answer. `headers` is only read for Retry-After."""
    message = ""
    errors = None
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("error") or "")
        errors = body.get("errors") or None
    elif isinstance(body, str):
        message = body.strip()[:500]
    if not message:
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = f"HTTP {status}"
    kwargs: dict[str, Any] = {"status": status, "errors": errors, "method": method, "url": url, "body": body}
    if status == 429:
        retry_after = parse_retry_after((headers or {}).get("Retry-After"))
        return RateLimitedError(message, retry_after=retry_after, **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    return STATUS_ERRORS.get(status, ReverbError)(message, **kwargs)
