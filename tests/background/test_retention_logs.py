"""The logs that had no retention (issue 28): each purge deletes an old row, keeps a recent one, and keeps
what a person still has to act on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from backoffice.background import retention
from backoffice.models import ApiUsage, ReconciliationFinding, ReconciliationReport
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_old_api_usage_counters_go_recent_ones_stay(settings: Any) -> None:
    settings.API_USAGE_RETENTION_DAYS = 30
    account = AccountFactory()
    now = timezone.now().replace(second=0, microsecond=0)
    ApiUsage.objects.create(account=account, minute=now - timedelta(days=31), requests=5)
    kept = ApiUsage.objects.create(account=account, minute=now - timedelta(days=29), requests=5)
    assert retention.purge_old_records()["API usage counters"] == 1
    assert list(ApiUsage.objects.values_list("pk", flat=True)) == [kept.pk]
    settings.API_USAGE_RETENTION_DAYS = 0
    ApiUsage.objects.create(account=account, minute=now - timedelta(days=5000))
    assert retention.purge_old_records()["API usage counters"] == 0


def _report(account: Any, days: int, state: str = "clean", **extra: Any) -> ReconciliationReport:
    return ReconciliationReport.objects.create(
        account=account, state=state, started_at=timezone.now() - timedelta(days=days), **extra
    )


def _finding(report: ReconciliationReport, action: str) -> ReconciliationFinding:
    return ReconciliationFinding.objects.create(
        report=report, resource="orders", object_key="1", action=action
    )


def test_old_reconciliation_reports_go_with_their_findings_running_and_recent_ones_stay(
    settings: Any,
) -> None:
    settings.RECONCILIATION_RETENTION_DAYS = 90
    account = AccountFactory()
    gone = _report(account, 91, "repaired")
    _finding(gone, ReconciliationFinding.Action.REPAIRED)
    running = _report(account, 91, "running")
    recent = _report(account, 89, "attention")
    _finding(recent, ReconciliationFinding.Action.LEFT_FOR_PERSON)
    assert retention.purge_old_records()["reconciliation reports"] == 1
    assert set(ReconciliationReport.objects.values_list("pk", flat=True)) == {running.pk, recent.pk}
    assert list(ReconciliationFinding.objects.values_list("report", flat=True)) == [recent.pk]


def test_a_report_whose_findings_need_a_person_stays_until_a_whole_sweep_has_checked_again(settings) -> None:
    """Its conflict (or the check that failed) is open until the night has checked all of the mirror after it:
    two complete sweeps of the older history ended after it started, so one started after it."""
    settings.RECONCILIATION_RETENTION_DAYS = 90
    account = AccountFactory()
    now = timezone.now()
    open_one = _report(account, 200, "attention")
    _finding(open_one, ReconciliationFinding.Action.LEFT_FOR_PERSON)
    unchecked = _report(account, 200, "attention")
    _finding(unchecked, ReconciliationFinding.Action.FAILED)

    def covered(days_ago: int) -> datetime:
        return now - timedelta(days=days_ago)

    # One sweep ended after them (it may have started before them): not enough.
    _report(account, 150, history_covered_at=covered(150))
    assert retention.purge_old_records()["reconciliation reports"] == 1  # the report of 150 days, clean
    assert ReconciliationReport.objects.filter(pk__in=[open_one.pk, unchecked.pk]).count() == 2
    # Another account's sweeps say nothing of this one.
    other = AccountFactory(name="other")
    _report(other, 10, history_covered_at=covered(100))
    _report(other, 5, history_covered_at=covered(50))
    assert retention.purge_old_records()["reconciliation reports"] == 0
    # A second complete sweep of this account: both are checked again, they go.
    _report(account, 10, history_covered_at=covered(100))
    _report(account, 5, history_covered_at=covered(50))
    assert retention.purge_old_records()["reconciliation reports"] == 2
    assert not ReconciliationFinding.objects.exists()


def test_old_failed_background_tasks_go_recent_ones_and_successes_stay(settings: Any) -> None:
    from django_q.models import Task

    settings.TASK_RETENTION_DAYS = 30
    now = timezone.now()

    def task(n: int, days: int, success: bool) -> Task:
        at = now - timedelta(days=days)
        return Task.objects.create(
            id=f"{n:032d}", name=f"t{n}", func="x.y", started=at, stopped=at, success=success
        )

    task(1, 31, False)
    kept = {task(2, 29, False).pk, task(3, 400, True).pk}  # successes: Q_CLUSTER save_limit keeps 1000
    assert retention.purge_old_records()["failed background tasks"] == 1
    assert set(Task.objects.values_list("pk", flat=True)) == kept


def test_the_admin_log_and_the_login_log_follow_the_audit_retention(settings: Any, admin_user: Any) -> None:
    from axes.models import AccessFailureLog, AccessLog
    from django.contrib.admin.models import ADDITION, LogEntry

    settings.AUDIT_RETENTION_DAYS = 365
    old, recent = timezone.now() - timedelta(days=366), timezone.now() - timedelta(days=364)
    for at in (old, recent):
        LogEntry.objects.create(user=admin_user, object_repr="x", action_flag=ADDITION, action_time=at)
        login = AccessLog.objects.create(user_agent="ua", username="admin", http_accept="*/*", path_info="/")
        failed = AccessFailureLog.objects.create(
            user_agent="ua", username="admin", http_accept="*/*", path_info="/", locked_out=False
        )
        AccessLog.objects.filter(pk=login.pk).update(attempt_time=at)
        AccessFailureLog.objects.filter(pk=failed.pk).update(attempt_time=at)
    done = retention.purge_old_records()
    assert (done["admin log entries"], done["login log entries"], done["failed login log entries"]) == (
        1,
        1,
        1,
    )
    for model in (LogEntry, AccessLog, AccessFailureLog):
        assert model.objects.count() == 1
    assert LogEntry.objects.get().action_time == recent


def test_expired_sessions_go_live_ones_stay() -> None:
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    live, expired = SessionStore(), SessionStore()
    live.create(), expired.create()
    Session.objects.filter(pk=expired.session_key).update(expire_date=timezone.now() - timedelta(minutes=1))
    assert retention.purge_old_records()["expired sessions"] == 1
    assert list(Session.objects.values_list("pk", flat=True)) == [live.session_key]
