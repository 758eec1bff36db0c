"""How long the back office keeps its own records (settings, in days; 0 keeps them forever):

- WEBHOOK_RETENTION_DAYS: webhook deliveries, once handled (processed, failed or ignored);
- AUDIT_RETENTION_DAYS: audit rows (ApiCall), except a call still marked as being sent;
- SYNC_RUN_RETENTION_DAYS: sync runs (SyncRun) and their log entries, except a run still running (a
  5-minute schedule writes about 100,000 a year per account; the dashboard and the sync log read them),
  and the log entries of no run (a webhook's re-read that failed);
- STOCK_LOG_RETENTION_DAYS: the stock sync log (SyncLogEntry rows "stock.in" / "stock.out" of no run: one
  per stock change sent or refused, the busiest log of a shop whose other channels push stock);
- JOB_RETENTION_DAYS: finished bulk jobs (BulkJob) with their items;
- what the apps keep (PURGES, added from their AppConfig.ready(): automation's sent alerts after
  ALERT_RETENTION_DAYS, the listings' CSV import previews after a day...);
- single-use keys (backoffice/once.py): a spent form token once its page is too old to be sent anyway,
  and a claim left by a crashed request.

`purge_old_records` runs daily from the schedules (backoffice/schedules.py) and deletes in batches, so a
first run over years of rows never holds one huge transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone

from backoffice import once
from backoffice.models import ApiCall, BulkJob, OnceKey, SyncLogEntry, SyncRun, WebhookDelivery
from backoffice.plugins import Slot

BATCH = 2000
STOCK_LOG = "stock."  # the stock sync log's resources (stock.in, stock.out): written without a run


@dataclass(frozen=True)
class Purge:
    """An app's clean-up: `label` names it in the report; `old(now)` is what is past its retention (None:
    kept forever, e.g. its setting is 0)."""

    label: str
    old: Callable[[datetime], QuerySet[Model] | None]


PURGES: Slot[Purge] = Slot("clean-ups")


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
    done = {
        "webhook deliveries": 0,
        "audit rows": 0,
        "sync runs": 0,
        "sync log entries of no run": 0,
        "stock sync log entries": 0,
        "bulk jobs": 0,
        **{purge.label: 0 for purge in PURGES},
        "single-use keys": 0,
    }
    webhook_days = settings.WEBHOOK_RETENTION_DAYS
    if webhook_days > 0:
        old = WebhookDelivery.objects.filter(received_at__lt=now - timedelta(days=webhook_days)).exclude(
            state__in=[WebhookDelivery.State.RECEIVED, WebhookDelivery.State.PROCESSING]
        )
        done["webhook deliveries"] = _delete_in_batches(old)
    audit_days = settings.AUDIT_RETENTION_DAYS
    if audit_days > 0:
        old = ApiCall.objects.filter(started_at__lt=now - timedelta(days=audit_days)).exclude(
            status=ApiCall.Status.SENDING
        )
        done["audit rows"] = _delete_in_batches(old)
    sync_run_days = settings.SYNC_RUN_RETENTION_DAYS
    if sync_run_days > 0:
        old = SyncRun.objects.filter(started_at__lt=now - timedelta(days=sync_run_days)).exclude(
            status=SyncRun.Status.RUNNING
        )
        done["sync runs"] = _delete_in_batches(old)  # their SyncLogEntry rows go with them (cascade)
        runless = SyncLogEntry.objects.filter(
            run__isnull=True, created_at__lt=now - timedelta(days=sync_run_days)
        )
        done["sync log entries of no run"] = _delete_in_batches(
            runless.exclude(resource__startswith=STOCK_LOG)
        )
    stock_days = settings.STOCK_LOG_RETENTION_DAYS
    if stock_days > 0:
        old = SyncLogEntry.objects.filter(
            run__isnull=True, resource__startswith=STOCK_LOG, created_at__lt=now - timedelta(days=stock_days)
        )
        done["stock sync log entries"] = _delete_in_batches(old)
    job_days = settings.JOB_RETENTION_DAYS
    if job_days > 0:
        old = BulkJob.objects.filter(created_at__lt=now - timedelta(days=job_days)).exclude(
            state__in=BulkJob.ACTIVE
        )
        done["bulk jobs"] = _delete_in_batches(old)  # their items go with them (cascade)
    for purge in PURGES:
        old = purge.old(now)
        if old is not None:
            done[purge.label] = _delete_in_batches(old)
    # A form token older than its lifetime is refused whatever its key, so the key can go a day later.
    spent_forms = OnceKey.objects.filter(
        key__startswith="form:", created__lt=now - once.TOKEN_LIFETIME - timedelta(days=1)
    )
    stale_claims = OnceKey.objects.filter(key__startswith="claim:", created__lt=now - once.STALE_CLAIM)
    done["single-use keys"] = _delete_in_batches(spent_forms) + _delete_in_batches(stale_claims)
    return done
