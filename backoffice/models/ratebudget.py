"""The shared rate budget, the database's side: one token bucket per account held in the `RateBudget` row, so
every worker on every machine draws from the same budget and a 429 seen by one pauses them all.

Each `acquire` is one short transaction: lock the account's row (SELECT ... FOR UPDATE on PostgreSQL; on
SQLite the settings' transaction_mode IMMEDIATE takes the write lock at BEGIN), refill, then either take
the tokens and count the request in `ApiUsage`, or compute how long to wait. Waiting happens outside the
transaction, then it tries again. Times are Unix seconds (`time.time()`), comparable across machines.

People come first: background calls leave `reserve` tokens in the bucket, which only a person's call (a
web request, ratelimit.interactive) may take, so a page's Reverb read is not queued behind a stock drain or
a pull that keeps the bucket empty; and a person's call waits for a token at most half its deadline, then
fails with BudgetBusyError (a clear "try again in N s") instead of holding the page.

`account_rate_limiter()` is what `ReverbAccount.client()` hands its client: this bucket when
settings.REVERB_RATE_BUDGET == "database" (the default), the process-local one when "local". It lives with
the models, below the account that uses it; backoffice/background/ratebudget.py has the rest (the web
requests' patience, a long walk's share, the admin's usage numbers).
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import F

from backoffice.reverb.errors import BudgetBusyError
from backoffice.reverb.ratelimit import LocalTokenBucket, RateLimiter, current_deadline, default_rate_limiter

from .background import ApiUsage, RateBudget

ACCOUNT_PREFIX = "account:"
# Unix times near 1.7e9 have a resolution of ~2.4e-7 s, so a refill computed from them can fall a hair
# short of a whole token for ever; a thousandth of a token is forgiven and a wait is never below 1 ms.
TOKEN_SLACK = 1e-3
MIN_WAIT = 1e-3


def account_id_of(key: str) -> int | None:
    """The account pk in a client's account_key ("account:<pk>"), or None for other keys."""
    prefix, _, pk = key.partition(":")
    return int(pk) if prefix + ":" == ACCOUNT_PREFIX and pk.isdigit() else None


def usage_minute(unix: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(unix // 60 * 60, tz=datetime.UTC)


class DatabaseTokenBucket:
    """`burst` requests at once, then `rate_per_second`, per account, shared through the database; the
    last `reserve` tokens are for people's calls only.

    Keys that are not "account:<pk>" (a client built without an account) fall back to a process-local
    bucket with the same numbers.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        using: str = DEFAULT_DB_ALIAS,
        reserve: int = 0,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.rate = float(rate_per_second)
        self.burst = int(burst)
        self.reserve = min(max(int(reserve), 0), self.burst - 1)  # background can always take one
        self.clock = clock
        self.sleep = sleep
        self.using = using
        self._local = LocalTokenBucket(self.rate, self.burst, clock=clock, sleep=sleep)

    # ---- RateLimiter ---------------------------------------------------------------------------------
    def acquire(self, key: str, cost: int = 1) -> float:
        if cost > self.burst:
            raise ValueError(f"cost {cost} exceeds the burst {self.burst}; it could never be granted")
        account_id = account_id_of(key)
        if account_id is None:
            return self._local.acquire(key, cost)
        deadline = current_deadline()  # a person is waiting: the reserve is theirs, the wait is short
        keep = 0 if deadline is not None else min(self.reserve, self.burst - cost)
        waited = 0.0
        while True:
            wait = self._try_take(account_id, cost, keep)
            if wait <= 0:
                return waited
            if deadline is not None and waited + wait > deadline / 2:  # half for the wait, half for Reverb
                raise BudgetBusyError(wait)
            self.sleep(wait)  # outside the transaction: other workers go on meanwhile
            waited += wait

    def penalize(self, key: str, seconds: float) -> None:
        account_id = account_id_of(key)
        if account_id is None:
            self._local.penalize(key, seconds)
            return
        with transaction.atomic(using=self.using):
            budget, now = self._locked(account_id)
            if budget is None:
                return
            self._refill(budget, now)
            budget.tokens = 0.0  # over budget: start refilling only after the pause
            budget.paused_until = max(budget.paused_until, now + max(seconds, 0.0))
            budget.save(using=self.using, update_fields=["tokens", "refilled_at", "paused_until"])
            self._count(account_id, now, throttled=1)

    def paused_for(self, key: str) -> float:
        """Seconds the account is still paused after a 429 (0 when it is not); one indexed read."""
        account_id = account_id_of(key)
        if account_id is None:
            return self._local.paused_for(key)
        return paused_seconds(account_id, now=self.clock(), using=self.using)

    def available(self, key: str) -> float:
        """Tokens left for `key` now, without taking any (diagnostics and tests)."""
        account_id = account_id_of(key)
        if account_id is None:
            return self._local.available(key)
        with transaction.atomic(using=self.using):
            budget, now = self._locked(account_id)
            if budget is None:
                return 0.0
            self._refill(budget, now)
            return 0.0 if now < budget.paused_until else budget.tokens

    # ---- inside the transaction ----------------------------------------------------------------------
    def _try_take(self, account_id: int, cost: int, keep: int = 0) -> float:
        """Take `cost` tokens, leaving at least `keep`, and return 0, or return the seconds to wait before
        trying again."""
        with transaction.atomic(using=self.using):
            budget, now = self._locked(account_id)
            if budget is None:  # the account is gone: nothing to share, nothing to count
                return 0.0
            self._refill(budget, now)
            if now < budget.paused_until:
                wait = budget.paused_until - now
            elif budget.tokens >= cost + keep - TOKEN_SLACK:
                budget.tokens = max(budget.tokens - cost, 0.0)
                self._count(account_id, now, requests=cost)
                wait = 0.0
            else:
                wait = max((cost + keep - budget.tokens) / self.rate, MIN_WAIT)
            budget.save(using=self.using, update_fields=["tokens", "refilled_at"])
        return wait

    def _locked(self, account_id: int) -> tuple[RateBudget | None, float]:
        rows = RateBudget.objects.using(self.using).select_for_update()
        budget = rows.filter(account_id=account_id).first()
        now = self.clock()  # read after the lock: the wait for the lock is not counted as refill time
        if budget is None:
            if not _accounts().using(self.using).filter(pk=account_id).exists():
                return None, now
            try:
                with transaction.atomic(using=self.using):
                    budget = RateBudget.objects.using(self.using).create(
                        account_id=account_id, tokens=float(self.burst), refilled_at=now
                    )
            except IntegrityError:  # another worker created it first (PostgreSQL); wait for its lock
                budget = rows.get(account_id=account_id)
        return budget, now

    def _refill(self, budget: RateBudget, now: float) -> None:
        refill_from = max(budget.refilled_at, budget.paused_until)  # nothing refills during a pause
        if now > refill_from:
            budget.tokens = min(float(self.burst), budget.tokens + (now - refill_from) * self.rate)
        budget.refilled_at = max(budget.refilled_at, now)

    def _count(self, account_id: int, now: float, *, requests: int = 0, throttled: int = 0) -> None:
        """Upsert this minute's usage. The account's budget row is locked, so no one else counts
        for this account meanwhile: an UPDATE, and an INSERT only on the minute's first request."""
        minute = usage_minute(now)
        usage = ApiUsage.objects.using(self.using).filter(account_id=account_id, minute=minute)
        if not usage.update(requests=F("requests") + requests, throttled=F("throttled") + throttled):
            ApiUsage.objects.using(self.using).create(
                account_id=account_id, minute=minute, requests=requests, throttled=throttled
            )


def paused_seconds(account_id: int, *, now: float | None = None, using: str = DEFAULT_DB_ALIAS) -> float:
    """Seconds the account's shared budget is still paused by a 429 (0 when it is not)."""
    rows = RateBudget.objects.using(using).filter(account_id=account_id)
    paused_until = rows.values_list("paused_until", flat=True).first() or 0.0
    return max(paused_until - (time.time() if now is None else now), 0.0)


_buckets: dict[tuple[float, int, int], DatabaseTokenBucket] = {}
_buckets_lock = threading.Lock()


def account_rate_limiter() -> RateLimiter:
    """The rate limiter for clients of an account, per settings.REVERB_RATE_BUDGET."""
    mode = getattr(settings, "REVERB_RATE_BUDGET", "database")
    if mode == "local":
        return default_rate_limiter(settings.REVERB_RATE_PER_SECOND, settings.REVERB_RATE_BURST)
    if mode != "database":
        raise ImproperlyConfigured(f"REVERB_RATE_BUDGET must be 'database' or 'local', not {mode!r}")
    rate, burst = float(settings.REVERB_RATE_PER_SECOND), int(settings.REVERB_RATE_BURST)
    key = (rate, burst, int(getattr(settings, "REVERB_INTERACTIVE_RESERVE", 0)))
    with _buckets_lock:
        if key not in _buckets:
            _buckets[key] = DatabaseTokenBucket(rate, burst, reserve=key[2])
        return _buckets[key]


def _accounts() -> Any:
    """The accounts a budget belongs to (its FK's model: ReverbAccount, which imports this module)."""
    return RateBudget._meta.get_field("account").related_model._default_manager
