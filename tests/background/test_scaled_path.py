"""The scaled path for real (issue 17 goal 6): PostgreSQL, Redis as django-q2's broker and two `manage.py
qcluster` processes sharing one rate budget, against the emulator as its own process enforcing that budget
(a 429 means it was exceeded). A mass sync and a 200-order bulk ship run side by side; the qcluster holding
the bulk job is SIGKILLed mid-job (with its workers) and restarted. Redis does not re-deliver its task: the
lease sweep (a one-minute schedule on the qcluster running the scheduler, the task timeout shortened to
45 s) sends it again, and the job resumes. Every order is shipped exactly once (the emulator counts ship
calls per order), every mass-sync item ends done, and the emulator answered no 429.

Runs where PostgreSQL (DATABASE_URL) and redis-server are available; `.ci/run` provides both
(`pytest -m scaled`, its step 4, with SCALED_REDIS_URL naming the Redis it started: the test empties it).
Without SCALED_REDIS_URL the test starts its own redis-server on a free loopback port. About 2.5 minutes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from bench.cluster import database_url_of, redis_server, redis_server_binary
from bench.goals.scaled import run_scenario

pytestmark = [pytest.mark.scaled, pytest.mark.django_db(transaction=True)]

SHIPS = 200
KILL_AFTER = 40


@pytest.fixture
def scaled_ready(settings) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the scaled path needs PostgreSQL: set DATABASE_URL (see README, Tests)")
    if redis_server_binary() is None and not os.environ.get("SCALED_REDIS_URL"):
        pytest.skip("the scaled path needs redis-server (Debian's package) on PATH")
    # The test process itself reads the emulator's shop unthrottled and never sends to a worker.
    settings.WORKER_BACKEND = "none"


@contextmanager
def redis() -> Iterator[str]:
    url = os.environ.get("SCALED_REDIS_URL")
    if not url:
        with redis_server() as url:
            yield url
        return
    import redis as redis_client

    redis_client.Redis.from_url(url).flushdb()  # a queue left by an earlier run would run here too
    yield url


@pytest.mark.timeout(600)  # the scenario's own deadline is 240 s; its setup and clusters' start come on top
def test_two_qclusters_on_redis_lose_nothing_when_one_is_killed(scaled_ready: None) -> None:
    with redis() as redis_url:
        result = run_scenario(
            database_url_of(connection.settings_dict),
            redis_url,
            ships=SHIPS,
            rate=10.0,
            burst=5,
            kill_after=KILL_AFTER,
            timeout=45,
            grace=5,
            deadline=240,
        )
    logs = result.pop("logs", "")
    summary = {k: v for k, v in result.items() if k != "never_shipped"}
    print("scaled path:", summary)  # the figures, in CI's log with -rA or -s
    assert result["broker"] == "redis" and result["database"] == "postgres", summary
    assert result["killed"], f"the bulk job's qcluster was never found and killed: {summary}"
    assert result["lost"] == [] and result["never_shipped"] == [], f"{summary}\n{logs}"
    assert result["doubled"] == [], f"{summary}\n{logs}"
    assert result["orders_shipped_once"] == SHIPS and result["ship_calls"] == SHIPS, summary
    assert result["throttled"] == 0, f"the emulator answered 429: the shared budget was exceeded: {summary}"
    for state, succeeded, total in result["jobs"].values():
        assert (state, succeeded) == ("succeeded", total), summary
    assert result["jobs"]["orders.ship"][2] == SHIPS, summary
