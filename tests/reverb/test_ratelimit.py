"""The per-account token bucket: burst, then the steady rate; a 429 pauses the key; threads share it."""

from __future__ import annotations

import threading
import time

import pytest

from backoffice.reverb.ratelimit import LocalTokenBucket, RateLimiter, UnlimitedRateLimiter


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def test_burst_then_waits_at_the_steady_rate(fake: FakeTime) -> None:
    bucket = LocalTokenBucket(rate_per_second=2, burst=3, clock=fake.clock, sleep=fake.sleep)
    assert [bucket.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire("a") == pytest.approx(0.5)
    assert bucket.acquire("a") == pytest.approx(0.5)
    fake.now += 10  # idle time refills, but never beyond the burst
    assert bucket.available("a") == 3
    assert bucket.acquire("a", cost=3) == 0.0


def test_keys_have_separate_budgets(fake: FakeTime) -> None:
    bucket = LocalTokenBucket(rate_per_second=1, burst=1, clock=fake.clock, sleep=fake.sleep)
    assert bucket.acquire("account:1") == 0.0
    assert bucket.acquire("account:2") == 0.0
    assert bucket.acquire("account:1") == pytest.approx(1.0)


def test_penalize_pauses_the_key_then_refills_from_the_end_of_the_pause(fake: FakeTime) -> None:
    bucket = LocalTokenBucket(rate_per_second=10, burst=5, clock=fake.clock, sleep=fake.sleep)
    bucket.penalize("a", 3.0)
    assert bucket.available("a") == 0
    assert bucket.acquire("a") == pytest.approx(3.0 + 0.1)  # the pause, then one token's refill
    assert bucket.acquire("b") == 0.0  # other accounts are unaffected
    bucket.penalize("a", 1.0)
    bucket.penalize("a", 0.5)  # a shorter penalty never shortens a longer one
    assert bucket.acquire("a") == pytest.approx(1.1)


def test_cost_above_burst_is_refused(fake: FakeTime) -> None:
    bucket = LocalTokenBucket(rate_per_second=1, burst=2, clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(ValueError):
        bucket.acquire("a", cost=3)
    with pytest.raises(ValueError):
        LocalTokenBucket(rate_per_second=0, burst=1)


def test_two_threads_stay_under_the_budget() -> None:
    """Real clock, real threads: 2 x 15 grants from a bucket of burst 5 at 100/s cannot all be granted
    in less than (30 - 5) / 100 s, and every grant fits the budget of its moment."""
    rate, burst = 100.0, 5
    bucket = LocalTokenBucket(rate_per_second=rate, burst=burst)
    grants: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(15):
            bucket.acquire("shared")
            with lock:
                grants.append(time.monotonic())

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(grants) == 30
    assert grants[-1] - started >= (30 - burst) / rate - 0.01
    grants.sort()
    for i, moment in enumerate(grants):  # at most burst + rate * elapsed grants by any moment
        assert i + 1 <= burst + rate * (moment - started) + 1


def test_protocol_is_small() -> None:
    limiter: RateLimiter = UnlimitedRateLimiter()
    assert limiter.acquire("x") == 0.0
    limiter.penalize("x", 5)
    assert limiter.acquire("x", cost=10) == 0.0
