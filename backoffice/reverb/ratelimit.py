"""Per-account request budgets. Reverb documents no numbers, only that excess calls answer 429
(API-NOTES 4.5), so the rate and burst are settings and a 429 pauses the whole account's budget.

`RateLimiter` is deliberately two methods so a database- or Redis-backed bucket shared by all workers of
an account can implement it later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

DEFAULT_RATE_PER_SECOND = 5.0
DEFAULT_BURST = 20
INTERACTIVE_PATIENCE = 0.0  # seconds a person's request waits out a pause Reverb asked for: none
INTERACTIVE_DEADLINE = 10.0  # seconds a person's request gives one Reverb call, retries included

# None: background work, which waits out any pause. A number: the longest pause (a 429's Retry-After)
# worth waiting for; a longer one fails at once (RateLimitPausedError) instead of hanging the caller.
_patience: ContextVar[float | None] = ContextVar("reverb_patience", default=None)
# None: the client's own deadline (a worker's). A number: a person is waiting, so one call (its retries
# included) gets at most that many seconds, whatever the server does.
_deadline: ContextVar[float | None] = ContextVar("reverb_interactive_deadline", default=None)


@contextmanager
def patience(seconds: float) -> Iterator[None]:
    """Within this block, Reverb calls wait out a pause Reverb asked for only up to `seconds`."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


@contextmanager
def interactive(
    patience_seconds: float = INTERACTIVE_PATIENCE, deadline: float = INTERACTIVE_DEADLINE
) -> Iterator[None]:
    """A person is waiting (a web request): Reverb calls do not wait out a pause Reverb asked for longer
    than `patience_seconds` (they say "Reverb asks to wait N s"), and each call ends within `deadline`."""
    token = _deadline.set(deadline)
    try:
        with patience(patience_seconds):
            yield
    finally:
        _deadline.reset(token)


def current_patience() -> float | None:
    return _patience.get()


def current_deadline() -> float | None:
    return _deadline.get()


def paused_for(limiter: object, key: str) -> float:
    """Seconds `key` is still paused on `limiter` (0 for limiters that cannot tell)."""
    probe = getattr(limiter, "paused_for", None)
    return float(probe(key)) if probe is not None else 0.0


class RateLimiter(Protocol):
    def acquire(self, key: str, cost: int = 1) -> float:
        """Block until `cost` requests may be sent for `key`; return the seconds waited."""
        ...

    def penalize(self, key: str, seconds: float) -> None:
        """The server said slow down (429): send nothing for `key` for `seconds`."""
        ...

    def paused_for(self, key: str) -> float:
        """Seconds `key` is still paused (0 when it is not): shown to staff, and lets a person's request
        fail fast instead of waiting."""
        ...


class UnlimitedRateLimiter:
    """Never waits. For tests and tools that pace themselves."""

    def acquire(self, key: str, cost: int = 1) -> float:
        return 0.0

    def penalize(self, key: str, seconds: float) -> None:
        pass

    def paused_for(self, key: str) -> float:
        return 0.0


@dataclass
class _Bucket:
    tokens: float
    updated: float
    paused_until: float = 0.0


class LocalTokenBucket:
    """A token bucket per key, in this process: `burst` requests at once, then `rate_per_second`.
    Thread-safe: the lock guards the arithmetic only; waiting happens outside it, then re-checks."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.rate = float(rate_per_second)
        self.burst = int(burst)
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
        refill_from = max(bucket.updated, bucket.paused_until)  # nothing refills during a pause
        if now > refill_from:
            bucket.tokens = min(self.burst, bucket.tokens + (now - refill_from) * self.rate)
        bucket.updated = max(bucket.updated, now)
        return bucket

    def acquire(self, key: str, cost: int = 1) -> float:
        if cost > self.burst:
            raise ValueError(f"cost {cost} exceeds the burst {self.burst}; it could never be granted")
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                bucket = self._bucket(key, now)
                if now < bucket.paused_until:
                    wait = bucket.paused_until - now
                elif bucket.tokens >= cost - 1e-9:  # float refill can fall a hair short forever
                    bucket.tokens = max(bucket.tokens - cost, 0.0)
                    return waited
                else:
                    wait = (cost - bucket.tokens) / self.rate
            self.sleep(wait)
            waited += wait

    def penalize(self, key: str, seconds: float) -> None:
        with self._lock:
            now = self.clock()
            bucket = self._bucket(key, now)
            bucket.tokens = 0.0  # the server says we are over budget: start refilling after the pause
            bucket.paused_until = max(bucket.paused_until, now + max(seconds, 0.0))

    def paused_for(self, key: str) -> float:
        with self._lock:
            bucket = self._buckets.get(key)
            return max(bucket.paused_until - self.clock(), 0.0) if bucket else 0.0

    def available(self, key: str) -> float:
        """Tokens left for `key` now (for tests and the admin's diagnostics)."""
        with self._lock:
            now = self.clock()
            bucket = self._bucket(key, now)
            return 0.0 if now < bucket.paused_until else bucket.tokens


_defaults: dict[tuple[float, int], LocalTokenBucket] = {}
_defaults_lock = threading.Lock()


def default_rate_limiter(
    rate_per_second: float = DEFAULT_RATE_PER_SECOND, burst: int = DEFAULT_BURST
) -> RateLimiter:
    """One process-wide bucket per (rate, burst), so every client of an account in this process shares
    its budget (and a caller with other numbers gets its own)."""
    key = (float(rate_per_second), int(burst))
    with _defaults_lock:
        if key not in _defaults:
            _defaults[key] = LocalTokenBucket(*key)
        return _defaults[key]
