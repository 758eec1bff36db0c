"""The latest sync runs of each (account, resource), read by the index on (account, resource, status,
started_at) instead of a pass over every run kept (the dashboard's sync health, pages/dashboard.py).

The (account, resource) pairs are found by a loose index scan (a recursive query: each step is the next
resource name after the last one, one index probe), and each pair's last success, partial, and failure by one
probe each, so the reads grow with the accounts and resources, not with the runs kept. Plain SQL that
PostgreSQL and SQLite both run (the ORM has no recursive query).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class LatestRuns(NamedTuple):
    account_id: int
    resource: str
    last_success: datetime | None  # finished_at of the latest run that succeeded (in full or in part)
    last_failure: datetime | None  # finished_at of the latest failed run
    last_error: str  # and its error


def _last(column: str, runs: str) -> str:
    """A pair's latest run of one status (the parameter): `column` of it. The highest pk wins a tie."""
    return (
        f"(SELECT r.{column} FROM {runs} r WHERE r.account_id = p.account_id AND r.resource = p.resource"
        " AND r.status = %s ORDER BY r.started_at DESC, r.id DESC LIMIT 1)"
    )


def latest_runs(account_ids: Iterable[int]) -> list[LatestRuns]:
    """Per (account, resource) with any run: its latest success or partial run's end, its latest failed
    run's end and error, ordered by account and resource. One query."""
    from backoffice.models import ReverbAccount, SyncRun

    ids = list(account_ids)
    if not ids:
        return []
    runs, accounts = SyncRun._meta.db_table, ReverbAccount._meta.db_table
    next_resource = f"SELECT MIN(r.resource) FROM {runs} r WHERE r.account_id = %s"
    status = SyncRun.Status
    sql = (
        "WITH RECURSIVE pairs(account_id, resource) AS ("
        f" SELECT a.id, ({next_resource % 'a.id'}) FROM {accounts} a"
        f" WHERE a.id IN ({', '.join(['%s'] * len(ids))})"
        f" UNION ALL SELECT p.account_id, ({next_resource % 'p.account_id'} AND r.resource > p.resource)"
        " FROM pairs p WHERE p.resource IS NOT NULL)"
        f" SELECT p.account_id, p.resource, {_last('finished_at', runs)}, {_last('finished_at', runs)},"
        f" {_last('finished_at', runs)}, {_last('error', runs)}"
        " FROM pairs p WHERE p.resource IS NOT NULL ORDER BY p.account_id, p.resource"
    )
    params = [*ids, status.SUCCESS, status.PARTIAL, status.FAILED, status.FAILED]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        LatestRuns(account, resource, _later(_when(success), _when(partial)), _when(failure), error or "")
        for account, resource, success, partial, failure, error in rows
    ]


def _when(value: datetime | str | None) -> datetime | None:
    """SQLite gives a raw query's datetime back naive or as text (UTC, as Django stores it)."""
    when = parse_datetime(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when is not None and timezone.is_naive(when) else when


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((v for v in (a, b) if v is not None), default=None)
