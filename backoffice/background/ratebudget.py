"""The shared rate budget around its bucket: web requests answer at once when Reverb paused the account
(`InteractiveMiddleware`), a long walk takes a share of the rate (`SharePace`), the admin shows the last
hour's usage. The bucket itself, one per account in the database (`DatabaseTokenBucket`, and
`account_rate_limiter()` that `ReverbAccount.client()` hands its client), lives with the models, below the
account: backoffice/models/ratebudget.py; named here too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from backoffice.models import ApiUsage, RateBudget
from backoffice.models.ratebudget import DatabaseTokenBucket as DatabaseTokenBucket
from backoffice.models.ratebudget import account_rate_limiter as account_rate_limiter
from backoffice.models.ratebudget import paused_seconds as paused_seconds
from backoffice.models.ratebudget import usage_minute as usage_minute
from backoffice.reverb.ratelimit import (
    INTERACTIVE_DEADLINE,
    INTERACTIVE_PATIENCE,
    RateLimiter,
    interactive,
    paused_for,
)


class InteractiveMiddleware:
    """Web requests are people waiting: Reverb calls made while serving one answer at once with "Reverb
    asks to wait N s" when Reverb paused the account, instead of sleeping on its Retry-After, and each
    call has a short deadline (REVERB_INTERACTIVE_DEADLINE), so a slow server cannot hold the page
    (background work waits and has the worker's deadline)."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        patience = getattr(settings, "REVERB_INTERACTIVE_WAIT", INTERACTIVE_PATIENCE)
        deadline = getattr(settings, "REVERB_INTERACTIVE_DEADLINE", INTERACTIVE_DEADLINE)
        with interactive(patience, deadline):
            return self.get_response(request)


class SharePace:
    """A long background walk's view of the account's budget (backoffice/sync/backfill.py): it draws from
    the same shared bucket, and also spaces its own requests at `share` of the rate, so the rest of the rate
    keeps refilling the bucket for the 5-minute pulls and staff actions while it runs for hours."""

    def __init__(
        self,
        inner: RateLimiter,
        rate_per_second: float,
        share: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.gap = 1.0 / (float(rate_per_second) * min(max(float(share), 0.01), 1.0))
        self.clock = clock
        self.sleep = sleep
        self.next_at = 0.0

    def acquire(self, key: str, cost: int = 1) -> float:
        wait = self.next_at - self.clock()
        if wait > 0:
            self.sleep(wait)
        waited = self.inner.acquire(key, cost) + max(wait, 0.0)
        self.next_at = self.clock() + self.gap * cost
        return waited

    def penalize(self, key: str, seconds: float) -> None:
        self.inner.penalize(key, seconds)

    def paused_for(self, key: str) -> float:
        return paused_for(self.inner, key)


def with_usage_last_hour(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate accounts with `requests_last_hour` and `throttled_last_hour`: two correlated subqueries
    in the same query, so a changelist stays at a constant number of queries."""
    since = usage_minute(time.time() - 3600)
    usage = ApiUsage.objects.filter(account=OuterRef("pk"), minute__gte=since).order_by().values("account")

    def total(column: str) -> Coalesce:
        return Coalesce(Subquery(usage.annotate(n=Sum(column)).values("n")[:1]), 0)

    paused_until = RateBudget.objects.filter(account=OuterRef("pk")).values("paused_until")[:1]
    return queryset.annotate(
        requests_last_hour=total("requests"),
        throttled_last_hour=total("throttled"),
        rate_paused_until=Subquery(paused_until),
    )


def pause_note(account: Any) -> str:
    """ " · paused 42 s" while Reverb's 429 pauses the account (annotated or read), else ""."""
    if hasattr(account, "rate_paused_until"):
        left = max((account.rate_paused_until or 0.0) - time.time(), 0.0)
    else:
        left = account.rate_paused_for
    return f" · paused {math.ceil(left)} s by Reverb" if left > 0 else ""


def usage_last_hour(account: Any) -> tuple[int, int]:
    """(requests, 429s) of one account in the last hour."""
    since = usage_minute(time.time() - 3600)
    totals = ApiUsage.objects.filter(account=account, minute__gte=since).aggregate(
        requests=Sum("requests"), throttled=Sum("throttled")
    )
    return totals["requests"] or 0, totals["throttled"] or 0


__all__ = [
    "DatabaseTokenBucket",
    "usage_minute",
    "InteractiveMiddleware",
    "SharePace",
    "pause_note",
    "paused_seconds",
    "account_rate_limiter",
    "usage_last_hour",
    "with_usage_last_hour",
]
