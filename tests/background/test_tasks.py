"""Task entry points: enqueued on commit, ids in and a summary out, disabled accounts skipped, and the
nightly reconciliation due at reconcile_at in each account's own time zone (DST and missed runs too)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backoffice.background import tasks
from backoffice.models import ReconciliationReport, ReverbAccount, SyncRun
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[tuple[Any, ...]]:
    """What would go to django-q2: (func path, *args)."""
    import django_q.tasks

    settings.WORKER_BACKEND = "django_q"
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(django_q.tasks, "async_task", lambda func, *args, **kw: sent.append((func, *args)))
    return sent


@pytest.fixture
def fast_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.reverb.ratelimit import UnlimitedRateLimiter

    build = ReverbAccount.client
    monkeypatch.setattr(
        ReverbAccount,
        "client",
        lambda self: build(self, rate_limiter=UnlimitedRateLimiter(), sleep=lambda s: None),
    )


def at(text: str, zone: str = "UTC") -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def test_pull_accounts_skips_disabled_and_manual_accounts(
    queued: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    on = AccountFactory(name="on")
    AccountFactory(name="disabled", enabled=False)
    AccountFactory(name="manual", auto_sync=False)
    with django_capture_on_commit_callbacks(execute=True):
        summary = tasks.pull_accounts(["orders", "refunds"])
    assert queued == [("backoffice.background.tasks.sync_account_task", on.pk, ["orders", "refunds"], False)]
    assert summary == "queued orders, refunds for 1 account(s): on"


@pytest.mark.django_db(transaction=True)
def test_pull_accounts_survives_the_broker_closing_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-q2's ORM broker closes stale connections when a task is queued from inside a worker; the
    loop over accounts must not hold a streaming cursor across that (seen under `make run`)."""
    from django.db import connection

    accounts = [AccountFactory(name=f"shop-{i}") for i in range(3)]
    sent: list[int] = []

    def enqueue_like_the_broker(func: str, account_id: int, *args: Any) -> None:
        sent.append(account_id)
        connection.close()

    monkeypatch.setattr(tasks, "enqueue", enqueue_like_the_broker)
    assert tasks.pull_accounts(["orders"]).startswith("queued orders for 3 account(s)")
    assert sent == [a.pk for a in accounts]


def test_sync_account_task(emulator: Any, fast_clients: None) -> None:
    account = AccountFactory(name="shop")
    summary = tasks.sync_account_task(account.pk, ["orders", "refunds"])
    assert summary.startswith("shop orders: fetched=") and "shop refunds: fetched=" in summary
    assert set(SyncRun.objects.values_list("resource", flat=True)) == {"orders", "refunds"}
    assert tasks.sync_resource_task(account.pk, "listings").startswith("shop listings: fetched=")

    account.enabled = False
    account.save()
    skipped = f"account {account.pk}: skipped (gone or disabled)"
    assert tasks.sync_account_task(account.pk, ["orders"]) == skipped
    assert tasks.sync_account_task(999999) == "account 999999: skipped (gone or disabled)"


def test_a_pull_still_running_is_not_started_beside_itself(emulator: Any, fast_clients: None) -> None:
    account = AccountFactory(name="shop")
    SyncRun.objects.create(account=account, resource="orders", started_at=timezone.now())
    # a run left "running" by a killed worker long ago does not block
    long_ago = timezone.now() - dt.timedelta(hours=2)
    SyncRun.objects.create(account=account, resource="refunds", started_at=long_ago)
    summary = tasks.sync_account_task(account.pk, ["orders", "refunds"])
    assert "shop refunds: fetched=" in summary and summary.endswith("; still running: orders")
    assert SyncRun.objects.filter(resource="orders").count() == 1


# ---- when the nightly reconciliation is due ---------------------------------------------------------


def due_names(now: dt.datetime) -> list[str]:
    return sorted(a.name for a, _ in tasks.due_accounts(now))


def test_due_follows_each_accounts_time_zone(db: None) -> None:
    tokyo = AccountFactory(name="tokyo", time_zone="Asia/Tokyo", reconcile_at=dt.time(3, 0))
    chicago = AccountFactory(name="chicago", time_zone="America/Chicago", reconcile_at=dt.time(3, 0))
    late = AccountFactory(name="utc-late", time_zone="UTC", reconcile_at=dt.time(23, 30))
    AccountFactory(name="off", time_zone="UTC", reconcile_at=dt.time(0, 0), enabled=False)
    AccountFactory(name="manual", time_zone="UTC", reconcile_at=dt.time(0, 0), auto_sync=False)
    # Each ran at its moment of its local June 10th.
    ran = [(tokyo, "2025-06-09T18:00"), (chicago, "2025-06-10T08:00"), (late, "2025-06-09T23:30")]
    for account, when in ran:
        ReconciliationReport.objects.create(account=account, started_at=at(when))

    # 2025-06-10 17:59 UTC = 02:59 on the 11th in Tokyo: not yet; 18:00 UTC = 03:00 Tokyo: due.
    assert due_names(at("2025-06-10T17:59")) == []
    assert due_names(at("2025-06-10T18:00")) == ["tokyo"]
    # Chicago is UTC-5 in June: 03:00 there is 08:00 UTC.
    assert due_names(at("2025-06-11T07:59")) == ["tokyo"]
    assert due_names(at("2025-06-11T08:00")) == ["chicago", "tokyo"]
    assert due_names(at("2025-06-11T23:30")) == ["chicago", "tokyo", "utc-late"]


def test_due_once_a_day_and_missed_runs_catch_up(db: None) -> None:
    account = AccountFactory(name="chicago", time_zone="America/Chicago", reconcile_at=dt.time(3, 0))
    # Workers were down at 03:00 Chicago; they come back at 10:00: the run happens now, once.
    now = at("2025-06-11T10:00", "America/Chicago")
    ReconciliationReport.objects.create(account=account, started_at=now - dt.timedelta(days=1))
    assert due_names(now) == ["chicago"]
    ReconciliationReport.objects.create(account=account, started_at=now)
    assert due_names(now + dt.timedelta(hours=5)) == []
    # A manual run before today's moment does not stand in for the nightly one.
    ReconciliationReport.objects.create(account=account, started_at=at("2025-06-12T01:00", "America/Chicago"))
    assert due_names(at("2025-06-12T03:01", "America/Chicago")) == ["chicago"]


def test_due_across_dst_changes(db: None) -> None:
    account = AccountFactory(name="ny", time_zone="America/New_York", reconcile_at=dt.time(2, 30))
    # Spring forward, 2025-03-09: 02:30 does not exist in New York; it runs once, at 03:30 EDT (07:30 UTC).
    assert due_names(at("2025-03-09T07:29")) == []
    assert due_names(at("2025-03-09T07:30")) == ["ny"]
    ReconciliationReport.objects.create(account=account, started_at=at("2025-03-09T07:30"))
    assert due_names(at("2025-03-09T23:00")) == []

    account.reconcile_at = dt.time(1, 30)
    account.save()
    # Fall back, 2025-11-02: 01:30 happens twice (05:30 and 06:30 UTC); it runs at the first only.
    assert due_names(at("2025-11-02T05:29")) == []
    assert due_names(at("2025-11-02T05:30")) == ["ny"]
    ReconciliationReport.objects.create(account=account, started_at=at("2025-11-02T05:30"))
    assert due_names(at("2025-11-02T06:45")) == []


def test_unknown_time_zone_falls_back_to_utc(db: None) -> None:
    AccountFactory(name="typo", time_zone="Mars/Olympus", reconcile_at=dt.time(3, 0))
    assert due_names(at("2025-06-11T02:59")) == []
    assert due_names(at("2025-06-11T03:00")) == ["typo"]


def test_run_due_reconciliations_starts_each_once(
    queued: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    account = AccountFactory(name="shop", time_zone="Europe/Berlin", reconcile_at=dt.time(3, 0))
    now = at("2025-06-11T03:05", "Europe/Berlin")
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_due_reconciliations(now) == "started 1 reconciliation(s): shop"
        again = tasks.run_due_reconciliations(now + dt.timedelta(minutes=5))
    assert again == "started 0 reconciliation(s): none due"
    report = ReconciliationReport.objects.get()
    assert report.state == ReconciliationReport.State.RUNNING
    assert queued == [("backoffice.background.tasks.reconcile_task", account.pk, report.pk)]


def test_reconcile_task_completes_the_report_it_is_given(emulator: Any, fast_clients: None) -> None:
    account = AccountFactory(name="shop")
    report = ReconciliationReport.objects.create(account=account)
    summary = tasks.reconcile_task(account.pk, report.pk)
    assert summary.startswith("shop: Repaired (checked=")  # a first run adds the whole shop to the mirror
    report.refresh_from_db()
    assert report.state == ReconciliationReport.State.REPAIRED and report.finished_at
    assert ReconciliationReport.objects.count() == 1
    # delivered twice (a retry after the first one finished): nothing done again
    assert tasks.reconcile_task(account.pk, report.pk) == f"report {report.pk} already repaired"


def test_reconcile_task_for_a_disabled_account_closes_its_report(db: None) -> None:
    account = AccountFactory(name="shop", enabled=False)
    report = ReconciliationReport.objects.create(account=account)
    assert tasks.reconcile_task(account.pk, report.pk).endswith("skipped (gone or disabled)")
    report.refresh_from_db()
    assert report.state == ReconciliationReport.State.FAILED and "disabled" in report.error
