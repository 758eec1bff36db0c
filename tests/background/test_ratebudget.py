"""The shared rate budget: a token bucket per account in the database, its usage counters, the client
wiring, the admin's last-hour numbers, and two worker processes staying under one budget together."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice.background.ratebudget import (
    DatabaseTokenBucket,
    account_rate_limiter,
    usage_last_hour,
    usage_minute,
)
from backoffice.models import ApiUsage, RateBudget
from backoffice.reverb.errors import RateLimitedError
from backoffice.reverb.ratelimit import LocalTokenBucket, UnlimitedRateLimiter
from tests.background.subproc import popen
from tests.conftest import EMULATOR_ORIGIN
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000.0  # a fixed Unix time


class FakeTime:
    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def bucket(fake: FakeTime, rate: float = 2.0, burst: int = 3) -> DatabaseTokenBucket:
    return DatabaseTokenBucket(rate, burst, clock=fake.clock, sleep=fake.sleep)


def usage(account: Any) -> list[tuple[int, int]]:
    return list(
        ApiUsage.objects.filter(account=account).order_by("minute").values_list("requests", "throttled")
    )


def test_burst_then_rate_and_usage_counted(fake: FakeTime) -> None:
    account = AccountFactory(name="shop")
    key = f"account:{account.pk}"
    limiter = bucket(fake)
    assert [limiter.acquire(key) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire(key) == 0.5  # burst spent: one token per 1/rate seconds
    assert limiter.acquire(key) == 0.5
    assert fake.sleeps == [0.5, 0.5]
    fake.now += 10  # refills up to the burst only
    assert limiter.available(key) == 3.0
    assert usage(account) == [(5, 0)]
    fake.now += 60  # a new minute: a new usage row
    limiter.acquire(key)
    assert usage(account) == [(5, 0), (1, 0)]
    budget = RateBudget.objects.get(account=account)
    assert budget.tokens == 2.0 and budget.refilled_at == fake.now


def second_acquire_sql(fake: FakeTime) -> list[str]:
    """What an account's second acquire runs (the first creates the budget row), savepoints left out."""
    account = AccountFactory(name="shop")
    limiter = bucket(fake)
    limiter.acquire(f"account:{account.pk}")
    with CaptureQueriesContext(connection) as queries:
        limiter.acquire(f"account:{account.pk}")
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_acquire_is_a_short_transaction_with_constant_queries(fake: FakeTime) -> None:
    sql = second_acquire_sql(fake)
    # lock/read the budget, count the request (an UPDATE that hits), save the budget
    assert len(sql) == 3, sql


@pytest.mark.skipif(
    not connection.features.has_select_for_update,
    reason="this database has no SELECT ... FOR UPDATE (SQLite): CI runs it on PostgreSQL (DATABASE_URL)",
)
def test_acquire_locks_the_budget_row_before_reading_it(fake: FakeTime) -> None:
    sql = second_acquire_sql(fake)
    reads = [s for s in sql if s.lstrip().upper().startswith("SELECT")]
    assert reads and "ratebudget" in reads[0].lower(), sql
    assert reads[0].rstrip().upper().endswith("FOR UPDATE"), reads[0]


def test_a_429_pauses_the_budget_and_is_counted(fake: FakeTime) -> None:
    account = AccountFactory(name="shop")
    key = f"account:{account.pk}"
    limiter = bucket(fake)
    limiter.acquire(key)
    limiter.penalize(key, 5)
    budget = RateBudget.objects.get(account=account)
    assert (budget.tokens, budget.paused_until) == (0.0, T0 + 5)
    assert limiter.acquire(key) == 5.5  # the pause, then one token's refill time
    assert fake.sleeps == [5.0, 0.5]
    assert usage(account) == [(2, 1)]


def test_other_keys_and_missing_accounts_fall_back_safely(fake: FakeTime) -> None:
    limiter = bucket(fake)
    assert [limiter.acquire("https://api.example/api") for _ in range(3)] == [0.0] * 3
    assert limiter.acquire("https://api.example/api") == 0.5  # the local bucket
    assert limiter.acquire("account:999999") == 0.0  # no such account: nothing to share or count
    assert not RateBudget.objects.exists() and not ApiUsage.objects.exists()


def test_the_client_of_an_account_uses_the_database_budget(settings: Any) -> None:
    account = AccountFactory(name="shop")
    settings.REVERB_RATE_BUDGET = "database"
    assert isinstance(account.client().rate_limiter, DatabaseTokenBucket)
    assert account_rate_limiter() is account_rate_limiter()
    unlimited = UnlimitedRateLimiter()
    assert account.client(rate_limiter=unlimited).rate_limiter is unlimited
    settings.REVERB_RATE_BUDGET = "local"
    assert isinstance(account.client().rate_limiter, LocalTokenBucket)
    settings.REVERB_RATE_BUDGET = "redis?"
    with pytest.raises(Exception, match="REVERB_RATE_BUDGET"):
        account.client()


def test_requests_and_429s_from_the_emulator_are_counted_and_shown(emulator: Any, fake: FakeTime) -> None:
    account = AccountFactory(name="shop")
    limiter = bucket(fake, rate=100, burst=50)
    client = account.client(rate_limiter=limiter, sleep=lambda s: None, max_retries=2)
    client.get_order(next(iter(emulator.store.table("orders"))))
    session = client.session
    assert session.post(f"{EMULATOR_ORIGIN}/__emulator__/faults", json={"rate_429": 1.0, "retry_after": 3}).ok
    with pytest.raises(RateLimitedError):
        client.get("/shop")
    assert usage(account) == [(4, 3)]  # 1 + 3 attempts sent; each 429 counted
    assert RateBudget.objects.get(account=account).paused_until >= T0 + 3
    # Usage rows are per real minute in the admin's "last hour": move them to now.
    ApiUsage.objects.update(minute=usage_minute(time.time()))
    assert usage_last_hour(account) == (4, 3)


def test_admin_shows_last_hour_usage_with_constant_queries(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    url = reverse("admin:backoffice_reverbaccount_changelist")
    now = time.time()
    first = AccountFactory(name="first")
    ApiUsage.objects.create(account=first, minute=usage_minute(now), requests=7, throttled=1)
    ApiUsage.objects.create(account=first, minute=usage_minute(now - 600), requests=5, throttled=0)
    ApiUsage.objects.create(account=first, minute=usage_minute(now - 7200), requests=100, throttled=9)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        body = client.get(url).content.decode()
    assert "API requests / 429s (last hour)" in body and "12 / 1" in body
    for n in range(10):
        other = AccountFactory(name=f"other-{n}")
        ApiUsage.objects.create(account=other, minute=usage_minute(now), requests=n, throttled=0)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)
    print(f"account changelist: {len(many)} queries")
    page = client.get(reverse("admin:backoffice_reverbaccount_change", args=[first.pk])).content.decode()
    assert "12 / 1" in page and "never run" in page


WORKER = """
import time
from backoffice.background.ratebudget import DatabaseTokenBucket
limiter = DatabaseTokenBucket(float(os.environ["RATE"]), int(os.environ["BURST"]))
key = "account:" + os.environ["ACCOUNT"]
start = float(os.environ["START"])
while time.time() < start:
    time.sleep(0.001)
grants = []
for _ in range(int(os.environ["N"])):
    limiter.acquire(key)
    grants.append(time.time())
print(json.dumps(grants))
"""

SETUP = """
from backoffice.models import RateBudget
from backoffice.models import ReverbAccount
account = ReverbAccount.objects.create(name="shared", api_url="http://127.0.0.1:9/api")
burst, t0 = float(os.environ["BURST"]), float(os.environ["T0"])
RateBudget.objects.create(account=account, tokens=burst, refilled_at=t0)
print(account.pk)
"""


def test_two_worker_processes_stay_under_one_budget(file_db: Path) -> None:
    rate, burst, n = 20.0, 5, 25
    t0 = time.time() + 3  # both workers start together, after their Django setup
    from tests.background.subproc import run

    account = run(file_db, SETUP, BURST=str(burst), T0=str(t0)).strip()
    env = {"RATE": str(rate), "BURST": str(burst), "ACCOUNT": account, "START": str(t0), "N": str(n)}
    workers = [popen(file_db, WORKER, **env) for _ in range(2)]
    grants: list[float] = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-3000:]
        grants += json.loads(out)
    grants.sort()
    assert len(grants) == 2 * n
    # Every prefix of the merged grants fits the budget: at most burst + rate * elapsed by then.
    for count, at in enumerate(grants, start=1):
        assert count <= burst + rate * (at - t0) + 1e-6, (count, at - t0)
    elapsed = grants[-1] - t0
    assert elapsed >= (2 * n - burst) / rate * 0.99  # they really had to wait for each other
    # and did not starve: a loose bound, since a loaded 2-core machine delays process start-up by seconds
    assert elapsed < (2 * n - burst) / rate + 30
    import sqlite3

    with sqlite3.connect(file_db) as conn:
        assert conn.execute("SELECT SUM(requests) FROM backoffice_apiusage").fetchone() == (2 * n,)


# ---- a long Retry-After (issue 16 item 7) ---------------------------------------------------------------


def test_a_429_asking_for_an_hour_pauses_the_account_only_for_the_cap(emulator: Any, settings: Any) -> None:
    settings.REVERB_MAX_PAUSE = 180
    account = AccountFactory(name="shop")
    client = account.client(sleep=lambda s: None, max_retries=0)
    assert client.session.post(
        f"{EMULATOR_ORIGIN}/__emulator__/faults", json={"rate_429": 1.0, "retry_after": 3600}
    ).ok
    with pytest.raises(RateLimitedError):
        client.get("/shop")
    assert 170 < account.rate_paused_for <= 180 and 170 < client.paused_for() <= 180


def test_a_clerk_is_told_to_come_back_instead_of_waiting_and_staff_see_the_pause(
    admin_user: User, emulator: Any
) -> None:
    account = AccountFactory(name="paused shop")
    account.client().rate_limiter.penalize(f"account:{account.pk}", 240)
    client = Client()
    client.force_login(admin_user)
    changelist = reverse("admin:backoffice_reverbaccount_changelist")
    started = time.monotonic()
    response = client.post(
        changelist, {"action": "verify_connection", "_selected_action": [account.pk]}, follow=True
    )
    assert time.monotonic() - started < 5  # not the four minutes of the pause
    text = response.content.decode()
    assert "Reverb asks to wait 24" in text  # 240 s, or 239 by the time it is read
    assert "paused 2" in text and "s by Reverb" in text  # the changelist shows the pause
    page = client.get(reverse("admin:backoffice_reverbaccount_change", args=[account.pk])).content.decode()
    assert "s by Reverb" in page


def test_people_have_a_reserve_background_cannot_spend_and_a_short_wait(fake: FakeTime) -> None:
    """A stock drain keeps the bucket as empty as it may: a person's call still finds a token at once, and
    when even the reserve is spent it fails within half its deadline with a clear message, sending nothing."""
    from backoffice.reverb.errors import BudgetBusyError
    from backoffice.reverb.ratelimit import interactive

    account = AccountFactory(name="shop")
    key = f"account:{account.pk}"
    limiter = DatabaseTokenBucket(1.0, 5, clock=fake.clock, sleep=fake.sleep, reserve=2)
    assert [limiter.acquire(key) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire(key) == 1.0  # the background waits rather than take the last 2 tokens
    with interactive(deadline=4.0):
        assert [limiter.acquire(key) for _ in range(2)] == [0.0, 0.0]  # people: the reserve, at once
        assert limiter.acquire(key) == 1.0  # one token due within half the deadline: worth the wait
        with pytest.raises(BudgetBusyError, match=r"all in use just now .*try again in 3 s"):
            limiter.acquire(key, cost=3)  # 3 s away: more than half the deadline
    assert usage(account) == [(7, 0)]
