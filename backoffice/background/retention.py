"""How long the back office keeps its own records (settings, in days; 0 keeps them forever). Every log the
product writes is deleted here, by one of CORE_PURGES or an app's `Purge` in PURGES; what is never purged
(mirrors of Reverb, configuration, live state) is listed with its reason in tests/test_retention_coverage.py,
which fails when a model is neither.

- WEBHOOK_RETENTION_DAYS: webhook deliveries, once handled (processed, failed or ignored);
- AUDIT_RETENTION_DAYS: the records of who did what: audit rows (ApiCall, except a call still marked as
  being sent), the admin's change log, the login log (django-axes), and the apps' decisions (automation's
  planned answers once decided, its price changes);
- SYNC_RUN_RETENTION_DAYS: sync runs (SyncRun) and their log entries, except a run still running (a
  5-minute schedule writes about 100,000 a year per account; the dashboard and the sync log read them),
  and the log entries of no run (a webhook's re-read that failed);
- STOCK_LOG_RETENTION_DAYS: the stock sync log (SyncLogEntry rows "stock.in" / "stock.out" of no run: one
  per stock change sent or refused, the busiest log of a shop whose other channels push stock);
- JOB_RETENTION_DAYS: finished bulk jobs (BulkJob) with their items;
- API_USAGE_RETENTION_DAYS: the per-minute request counters of the shared rate budget (ApiUsage; the pages
  read the last hour);
- RECONCILIATION_RETENTION_DAYS: nightly reconciliation reports with their findings, except a running one
  and one whose findings still need a person (see `old_reconciliation_reports`);
- TASK_RETENTION_DAYS: django-q's records of failed tasks (successes are capped by Q_CLUSTER save_limit);
- what the apps keep (PURGES, added from their plugins.py plug_in(): automation's sent alerts after
  ALERT_RETENTION_DAYS, inventory's idempotency keys, API call records and event deliveries, the listings'
  CSV import previews after a day...);
- without a setting: expired sessions (Django's `clearsessions`), single-use keys (backoffice/once.py): a
  spent form token once its page is too old to be sent anyway, and a claim left by a crashed request.

`purge_old_records` runs daily from the schedules (backoffice/schedules.py) and deletes in batches, so a
first run over years of rows never holds one huge transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone

from backoffice import once
from backoffice.models import (
    ApiCall,
    ApiUsage,
    BulkJob,
    OnceKey,
    ReconciliationFinding,
    ReconciliationReport,
    SyncLogEntry,
    SyncRun,
    WebhookDelivery,
)
from backoffice.plugins import Slot

M = TypeVar("M", bound=Model)
BATCH = 2000
STOCK_LOG = "stock."  # the stock sync log's resources (stock.in, stock.out): written without a run


@dataclass(frozen=True)
class Purge:
    """A clean-up: `label` names it in the report; `old(now)` is what is past its retention (None: kept
    forever, e.g. its setting is 0)."""

    label: str
    old: Callable[[datetime], QuerySet[Any] | None]


PURGES: Slot[Purge] = Slot("clean-ups")


def days_before(now: datetime, setting: str) -> datetime | None:
    """`now` less the setting's days, or None when the setting is 0 (kept forever)."""
    days = getattr(settings, setting)
    return now - timedelta(days=days) if days > 0 else None


def older_than(now: datetime, setting: str, rows: QuerySet[M], field: str) -> QuerySet[M] | None:
    """`rows` whose `field` is before the setting's days ago, or None when the setting is 0 (kept forever):
    the shape of nearly every clean-up."""
    if (before := days_before(now, setting)) is None:
        return None
    return rows.filter(**{f"{field}__lt": before})


def old_webhook_deliveries(now: datetime) -> QuerySet[WebhookDelivery] | None:
    handled = WebhookDelivery.objects.exclude(
        state__in=[WebhookDelivery.State.RECEIVED, WebhookDelivery.State.PROCESSING]
    )
    return older_than(now, "WEBHOOK_RETENTION_DAYS", handled, "received_at")


def old_audit_rows(now: datetime) -> QuerySet[ApiCall] | None:
    done = ApiCall.objects.exclude(status=ApiCall.Status.SENDING)
    return older_than(now, "AUDIT_RETENTION_DAYS", done, "started_at")


def old_sync_runs(now: datetime) -> QuerySet[SyncRun] | None:
    """Their SyncLogEntry rows go with them (cascade)."""
    finished = SyncRun.objects.exclude(status=SyncRun.Status.RUNNING)
    return older_than(now, "SYNC_RUN_RETENTION_DAYS", finished, "started_at")


def old_runless_log_entries(now: datetime) -> QuerySet[SyncLogEntry] | None:
    runless = SyncLogEntry.objects.filter(run__isnull=True).exclude(resource__startswith=STOCK_LOG)
    return older_than(now, "SYNC_RUN_RETENTION_DAYS", runless, "created_at")


def old_stock_log_entries(now: datetime) -> QuerySet[SyncLogEntry] | None:
    stock = SyncLogEntry.objects.filter(run__isnull=True, resource__startswith=STOCK_LOG)
    return older_than(now, "STOCK_LOG_RETENTION_DAYS", stock, "created_at")


def old_bulk_jobs(now: datetime) -> QuerySet[BulkJob] | None:
    """Their items go with them (cascade)."""
    finished = BulkJob.objects.exclude(state__in=BulkJob.ACTIVE)
    return older_than(now, "JOB_RETENTION_DAYS", finished, "created_at")


def old_api_usage(now: datetime) -> QuerySet[ApiUsage] | None:
    return older_than(now, "API_USAGE_RETENTION_DAYS", ApiUsage.objects.all(), "minute")


def old_reconciliation_reports(now: datetime) -> QuerySet[ReconciliationReport] | None:
    """Finished reports past their retention, with their findings (cascade). A report with findings left for
    a person (or that could not be checked) is kept until the night has checked the whole mirror again after
    it: the recent months are checked every night, the older history once per sweep, so two sweeps that
    ended after it started mean one started after it and completed (a conflict still there is then in a newer
    report). A shop whose nights stopped keeps its last word."""
    if (before := days_before(now, "RECONCILIATION_RETENTION_DAYS")) is None:
        return None
    old = ReconciliationReport.objects.filter(started_at__lt=before).exclude(
        state=ReconciliationReport.State.RUNNING
    )
    for_a_person = ReconciliationFinding.objects.filter(
        report=OuterRef("pk"),
        action__in=[ReconciliationFinding.Action.LEFT_FOR_PERSON, ReconciliationFinding.Action.FAILED],
    )
    sweeps: dict[int, set[datetime]] = {}
    covered = ReconciliationReport.objects.filter(history_covered_at__isnull=False)
    for account_id, at in covered.values_list("account_id", "history_covered_at").distinct():
        sweeps.setdefault(account_id, set()).add(at)
    still_open = [
        pk
        for pk, account_id, started in old.filter(Exists(for_a_person)).values_list(
            "pk", "account_id", "started_at"
        )
        if sum(at > started for at in sweeps.get(account_id, ())) < 2
    ]
    return old.exclude(pk__in=still_open)


def old_failed_tasks(now: datetime) -> QuerySet[Any] | None:
    """django-q keeps Q_CLUSTER["save_limit"] successes but every failure; its Task rows by `stopped`."""
    from django_q.models import Task

    return older_than(now, "TASK_RETENTION_DAYS", Task.objects.filter(success=False), "stopped")


def old_admin_log(now: datetime) -> QuerySet[Any] | None:
    """The admin's change log (who added, changed or deleted what): an audit record."""
    from django.contrib.admin.models import LogEntry

    return older_than(now, "AUDIT_RETENTION_DAYS", LogEntry.objects.all(), "action_time")


def old_login_log(now: datetime) -> QuerySet[Any] | None:
    """django-axes' log of logins (one row per login; AXES_DISABLE_ACCESS_LOG off): who signed in, from
    where. Its attempts (lockouts) axes deletes itself past AXES_COOLOFF_TIME."""
    from axes.models import AccessLog

    return older_than(now, "AUDIT_RETENTION_DAYS", AccessLog.objects.all(), "attempt_time")


def old_failed_login_log(now: datetime) -> QuerySet[Any] | None:
    """django-axes' failed-login log (written only with AXES_ENABLE_ACCESS_FAILURE_LOG)."""
    from axes.models import AccessFailureLog

    return older_than(now, "AUDIT_RETENTION_DAYS", AccessFailureLog.objects.all(), "attempt_time")


def expired_sessions(now: datetime) -> QuerySet[Any]:
    """What `manage.py clearsessions` deletes (the database session backend)."""
    from django.contrib.sessions.models import Session

    return Session.objects.filter(expire_date__lt=now)


def spent_once_keys(now: datetime) -> QuerySet[OnceKey]:
    """A form token older than its lifetime is refused whatever its key, so the key can go a day later."""
    spent_form = Q(key__startswith="form:", created__lt=now - once.TOKEN_LIFETIME - timedelta(days=1))
    stale_claim = Q(key__startswith="claim:", created__lt=now - once.STALE_CLAIM)
    return OnceKey.objects.filter(spent_form | stale_claim)


CORE_PURGES: tuple[Purge, ...] = (
    Purge("webhook deliveries", old_webhook_deliveries),
    Purge("audit rows", old_audit_rows),
    Purge("sync runs", old_sync_runs),
    Purge("sync log entries of no run", old_runless_log_entries),
    Purge("stock sync log entries", old_stock_log_entries),
    Purge("bulk jobs", old_bulk_jobs),
    Purge("API usage counters", old_api_usage),
    Purge("reconciliation reports", old_reconciliation_reports),
    Purge("failed background tasks", old_failed_tasks),
    Purge("admin log entries", old_admin_log),
    Purge("login log entries", old_login_log),
    Purge("failed login log entries", old_failed_login_log),
    Purge("expired sessions", expired_sessions),
    Purge("single-use keys", spent_once_keys),
)


def all_purges() -> list[Purge]:
    """The core's clean-ups, then the apps' (PURGES)."""
    return [*CORE_PURGES, *PURGES]


def _delete_in_batches(qs: QuerySet[Model]) -> int:
    deleted = 0
    while True:
        ids = list(qs.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted
        _, per_model = qs.model._default_manager.filter(pk__in=ids).delete()
        deleted += per_model.get(qs.model._meta.label, 0)


def purge_old_records(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its retention; {"webhook deliveries": n, "audit rows": n, ...}."""
    now = now or timezone.now()
    done = {}
    for purge in all_purges():
        old = purge.old(now)
        done[purge.label] = 0 if old is None else _delete_in_batches(old)
    return done
