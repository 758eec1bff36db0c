"""Webhook deliveries and audit rows are kept for a retention period (settings) and cleaned up daily."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.audit import ApiCall
from backoffice.background import retention, schedules, tasks
from backoffice.models import WebhookDelivery
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_old_rows_go_recent_and_pending_ones_stay(settings) -> None:
    settings.WEBHOOK_RETENTION_DAYS = 30
    settings.AUDIT_RETENTION_DAYS = 365
    account = AccountFactory()
    now = timezone.now()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    hook = WebhookDelivery.State
    gone_hook = WebhookDelivery.objects.create(account=account, state=hook.PROCESSED, received_at=old)
    WebhookDelivery.objects.create(account=account, state=hook.FAILED, received_at=old)
    kept_pending = WebhookDelivery.objects.create(account=account, state=hook.RECEIVED, received_at=old)
    kept_recent = WebhookDelivery.objects.create(account=account, state=hook.PROCESSED, received_at=recent)
    call = ApiCall.Status
    ApiCall.objects.create(
        account=account, action="x", status=call.SUCCESS, started_at=now - timedelta(days=366)
    )
    kept_sending = ApiCall.objects.create(
        account=account, action="x", status=call.SENDING, started_at=now - timedelta(days=366)
    )
    kept_call = ApiCall.objects.create(
        account=account, action="x", status=call.FAILED, started_at=now - timedelta(days=300)
    )

    assert retention.purge_old_records() == {
        "webhook deliveries": 2,
        "audit rows": 1,
        "sync runs": 0,
        "sync log entries of no run": 0,
        "stock sync log entries": 0,
        "bulk jobs": 0,
        "API usage counters": 0,
        "reconciliation reports": 0,
        "failed background tasks": 0,
        "admin log entries": 0,
        "login log entries": 0,
        "failed login log entries": 0,
        "expired sessions": 0,
        "single-use keys": 0,
        "CSV import previews": 0,
        "bulk-ship batches": 0,
        "idempotency keys": 0,
        "stock API call records": 0,
        "delivered events": 0,
        "given-up events": 0,
        "alerts": 0,
        "decided offer plans": 0,
        "price changes": 0,
    }
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {kept_pending.pk, kept_recent.pk}
    assert set(ApiCall.objects.values_list("pk", flat=True)) == {kept_sending.pk, kept_call.pk}
    assert not WebhookDelivery.objects.filter(pk=gone_hook.pk).exists()
    assert "deleted 0 webhook deliveries" in tasks.purge_old_records()


def test_zero_keeps_forever(settings) -> None:
    settings.WEBHOOK_RETENTION_DAYS = 0
    settings.AUDIT_RETENTION_DAYS = 0
    account = AccountFactory()
    ancient = timezone.now() - timedelta(days=5000)
    WebhookDelivery.objects.create(account=account, state="processed", received_at=ancient)
    ApiCall.objects.create(account=account, action="x", status="success", started_at=ancient)
    assert retention.purge_old_records()["webhook deliveries"] == 0
    assert retention.purge_old_records()["audit rows"] == 0


def test_batches(settings, monkeypatch) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    account = AccountFactory()
    ancient = timezone.now() - timedelta(days=5000)
    for _ in range(5):
        WebhookDelivery.objects.create(account=account, state="ignored", received_at=ancient)
    assert retention.purge_old_records()["webhook deliveries"] == 5


def test_the_clean_up_is_scheduled_daily(settings) -> None:
    assert settings.WEBHOOK_RETENTION_DAYS > 0 and settings.AUDIT_RETENTION_DAYS > 0
    (spec,) = [s for s in schedules.SCHEDULES if s.func == "backoffice.background.tasks.purge_old_records"]
    assert spec.minutes == 24 * 60


def test_old_csv_import_previews_go(admin_user) -> None:
    from listings.models import CsvImportPreview

    account = AccountFactory()
    old = CsvImportPreview.objects.create(account=account, created_by=admin_user, rows=[])
    CsvImportPreview.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    fresh = CsvImportPreview.objects.create(account=account, created_by=admin_user, rows=[])
    assert retention.purge_old_records()["CSV import previews"] == 1
    assert list(CsvImportPreview.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_old_sync_runs_go_with_their_log_running_and_recent_ones_stay(settings) -> None:
    from backoffice.models import SyncLogEntry, SyncRun

    settings.SYNC_RUN_RETENTION_DAYS = 30
    account = AccountFactory()
    now = timezone.now()

    def run(days: int, status: str) -> SyncRun:
        return SyncRun.objects.create(
            account=account, resource="orders", started_at=now - timedelta(days=days), status=status
        )

    gone = run(31, "success")
    SyncLogEntry.objects.create(account=account, run=gone, resource="orders", status="failed")
    run(400, "failed")
    kept = {run(31, "running").pk, run(29, "failed").pk}
    assert retention.purge_old_records()["sync runs"] == 2
    assert set(SyncRun.objects.values_list("pk", flat=True)) == kept
    assert not SyncLogEntry.objects.exists()
    settings.SYNC_RUN_RETENTION_DAYS = 0
    run(5000, "success")
    assert retention.purge_old_records()["sync runs"] == 0


def test_spent_form_tokens_go_once_too_old_to_be_sent_and_stale_claims_go() -> None:
    from backoffice import once
    from backoffice.models import OnceKey

    now = timezone.now()
    week = once.TOKEN_LIFETIME
    old_form = OnceKey.objects.create(key="form:x:old")
    young_form = OnceKey.objects.create(key="form:x:young")
    stale_claim = OnceKey.objects.create(key="claim:listings.create:1:SKU")
    live_claim = OnceKey.objects.create(key="claim:listings.create:1:OTHER")
    OnceKey.objects.filter(pk=old_form.pk).update(created=now - week - timedelta(days=1, minutes=1))
    OnceKey.objects.filter(pk=young_form.pk).update(created=now - week)
    OnceKey.objects.filter(pk=stale_claim.pk).update(created=now - once.STALE_CLAIM - timedelta(minutes=1))

    assert retention.purge_old_records()["single-use keys"] == 2
    assert set(OnceKey.objects.values_list("pk", flat=True)) == {young_form.pk, live_claim.pk}


def test_old_stock_sync_log_rows_go_recent_ones_stay(settings) -> None:
    from backoffice.models import SyncLogEntry

    settings.STOCK_LOG_RETENTION_DAYS = 30
    settings.SYNC_RUN_RETENTION_DAYS = 60
    account = AccountFactory()
    now = timezone.now()

    def entry(resource: str, days: int) -> SyncLogEntry:
        row = SyncLogEntry.objects.create(account=account, resource=resource, status="success")
        SyncLogEntry.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=days))
        return row

    entry("stock.out", 31), entry("stock.in", 400)
    kept = {entry("stock.out", 29).pk, entry("listings", 45).pk}  # a run-less pull failure: the runs' days
    entry("listings", 61)
    done = retention.purge_old_records()
    assert (done["stock sync log entries"], done["sync log entries of no run"]) == (2, 1)
    assert set(SyncLogEntry.objects.values_list("pk", flat=True)) == kept
    settings.STOCK_LOG_RETENTION_DAYS = 0
    entry("stock.out", 5000)
    assert retention.purge_old_records()["stock sync log entries"] == 0


def test_old_finished_jobs_and_sent_alerts_go(settings) -> None:
    from automation.models import Alert
    from backoffice.models import BulkJob

    settings.JOB_RETENTION_DAYS = 30
    settings.ALERT_RETENTION_DAYS = 30
    account = AccountFactory()
    old = timezone.now() - timedelta(days=31)
    BulkJob.objects.create(kind="x", title="done", state=BulkJob.State.SUCCEEDED, created_at=old)
    running = BulkJob.objects.create(kind="x", title="running", state=BulkJob.State.RUNNING, created_at=old)
    recent = BulkJob.objects.create(kind="x", title="recent", state=BulkJob.State.FAILED)

    def alert(key: str, sent: bool) -> Alert:
        row = Alert.objects.create(
            account=account,
            channel="chat",
            kind="order",
            key=key,
            text=key,
            path="/",
            sent_at=old if sent else None,
        )
        Alert.objects.filter(pk=row.pk).update(created_at=old)
        return row

    alert("sent", True)
    unsent = alert("unsent", False)
    done = retention.purge_old_records()
    assert (done["bulk jobs"], done["alerts"]) == (1, 1)
    assert set(BulkJob.objects.values_list("pk", flat=True)) == {running.pk, recent.pk}
    assert list(Alert.objects.values_list("pk", flat=True)) == [unsent.pk]
