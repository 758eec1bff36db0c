"""Thin django-q2 entry points (DESIGN.md section 7): ids in, a one-line summary out.

Every task re-reads its account, so a queued task for an account disabled since is a no-op. Work is handed
to a worker with backoffice/background/queue.py's `enqueue`, which waits for the surrounding transaction to
commit (a worker never sees an id whose row is not there yet). The schedules in
backoffice/background/schedules.py call `pull_accounts` and `run_due_reconciliations`, which fan out one
task per account.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backoffice.background.queue import enqueue
from backoffice.models import ReconciliationReport, ReverbAccount, SyncRun
from backoffice.sync import registry

log = logging.getLogger(__name__)


def scheduled_accounts() -> list[ReverbAccount]:
    """Accounts the schedules work for: enabled, with automatic sync on. A list, not a streaming cursor:
    enqueueing with the ORM broker closes stale connections, which would kill a cursor mid-loop."""
    return list(ReverbAccount.objects.filter(enabled=True, auto_sync=True).order_by("pk"))


def _busy(account: ReverbAccount, names: Sequence[str]) -> set[str]:
    """Resources with a pull of this account still running (started within the task timeout): a pull that
    overran its interval is not started a second time beside itself. A run left "running" by a killed
    worker stops counting once the timeout has passed."""
    from backoffice.sync.backfill import running_runs

    fresh = timezone.now() - timedelta(seconds=settings.Q_CLUSTER.get("timeout", 600))
    running = SyncRun.objects.filter(
        account=account, resource__in=list(names), status=SyncRun.Status.RUNNING, started_at__gte=fresh
    ).exclude(pk__in=running_runs(account))  # a backfill's chunk runs beside the pulls, it never holds them
    return set(running.values_list("resource", flat=True))


# ---- pulls ------------------------------------------------------------------------------------------


def sync_account_task(account_id: int, resources: Sequence[str] | None = None, full: bool = False) -> str:
    """Pull the named (or every) resource of one account. An account never pulled, or one of these
    resources not pulled for REVERB_CATCH_UP_AFTER_HOURS, first gets a backfill (backoffice/sync/backfill.py:
    deadline work first); a catch-up's resources wait for its deadline walks (their pull is the catch-up)."""
    from backoffice.sync.runner import sync_account

    account = ReverbAccount.objects.filter(pk=account_id).first()
    if account is None or not account.enabled:
        return f"account {account_id}: skipped (gone or disabled)"
    names = list(resources) if resources else list(registry.order())
    waiting = set() if full else _backfill_first(account, names)
    busy = _busy(account, names) | waiting
    todo = [name for name in names if name not in busy]
    skipped = f"; still running: {', '.join(sorted(busy - waiting))}" if busy - waiting else ""
    if waiting:
        skipped += f"; after the backfill's deadline work: {', '.join(sorted(waiting))}"
    if not todo:
        return f"{account.name}: nothing started{skipped}"
    runs = sync_account(account, todo, full=full)
    return "; ".join(run.summary() for run in runs) + skipped


def _backfill_first(account: ReverbAccount, names: Sequence[str]) -> set[str]:
    """Start (or resume, when its chain of chunks broke) the account's backfill if one is due; the resources
    waiting for it."""
    from backoffice.sync import backfill

    running, started = backfill.needed(account, names)
    if running is None:
        return set()
    if started or backfill.stalled(running):
        enqueue(f"{__name__}.backfill_task", account.pk)
    return set(running.held) & set(names)


def backfill_task(account_id: int) -> str:
    """One chunk of the account's backfill (backoffice/sync/backfill.py run_chunk); a chunk that did not end
    it queues the next, so a first pull of hours is many short tasks. One chunk at a time per account."""
    from backoffice.locks import Busy, hold
    from backoffice.models import Backfill
    from backoffice.sync.backfill import progress, run_chunk

    account = ReverbAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return f"account {account_id}: skipped (gone or disabled)"
    try:
        with hold(f"backfill:{account.pk}", wait=1):
            row = Backfill.objects.filter(account=account, state=Backfill.State.RUNNING).first()
            if row is None:
                return f"{account.name}: no backfill running"
            done = run_chunk(row)
    except Busy:
        return f"{account.name}: a chunk of its backfill is running"
    if done:
        return f"{account.name}: backfill done, {row.requests} requests"
    enqueue(f"{__name__}.backfill_task", account.pk)
    done_now = progress(row)
    return f"{account.name}: backfill chunk {row.chunks} done ({done_now.phase}), {done_now.time_left} left"


def sync_resource_task(account_id: int, resource: str, full: bool = False) -> str:
    return sync_account_task(account_id, [resource], full)


def pull_accounts(resources: Sequence[str] | None = None, full: bool = False) -> str:
    """A schedule's entry point: one `sync_account_task` per enabled auto-sync account."""
    names = []
    for account in scheduled_accounts():
        enqueue(f"{__name__}.sync_account_task", account.pk, list(resources or []) or None, full)
        names.append(account.name)
    what = ", ".join(resources or ["everything"])
    return f"queued {what} for {len(names)} account(s): {', '.join(names) or 'none'}"


# ---- the nightly reconciliation -----------------------------------------------------------------------


def reconcile_task(account_id: int, report_id: int | None = None) -> str:
    """One chunk of an account's night (backoffice/sync/reconcile.py run_chunk); a chunk that did not end
    the night queues the next. With `report_id` (set by run_due_reconciliations) it continues that report,
    so a retried or re-sent task resumes where the last committed page left it. A chunk that raises is
    noted in the report's log and the next one resumes; after MAX_CHUNK_CRASHES in a row the night fails."""
    from backoffice.sync.reconcile import Busy, Superseded, run_chunk, start_report, summary_line

    state = ReconciliationReport.State
    account = ReverbAccount.objects.filter(pk=account_id).first()
    if account is None or not account.enabled:
        running = ReconciliationReport.objects.filter(pk=report_id, state=state.RUNNING)
        running.update(state=state.FAILED, error="account gone or disabled", finished_at=timezone.now())
        return f"account {account_id}: skipped (gone or disabled)"
    report = None
    if report_id is not None:
        report = ReconciliationReport.objects.filter(pk=report_id, account=account).first()
        if report is not None and report.state != state.RUNNING:
            return f"report {report_id} already {report.state}"
    report = start_report(account, report)
    try:
        done = run_chunk(report)
    except (Busy, Superseded) as exc:
        return f"{account.name}: {exc}"
    except Exception as exc:  # a bug: keep it visible on the report, resume at the cursor
        log.exception("a reconciliation chunk of %s failed", account)
        return _chunk_crashed(report, exc)
    report.refresh_from_db()
    if done:
        return summary_line(report)
    enqueue(f"{__name__}.reconcile_task", account.pk, report.pk)
    return f"{account.name}: chunk {report.chunks} done, the next one queued"


MAX_CHUNK_CRASHES = 3


def _chunk_crashed(report: ReconciliationReport, exc: Exception) -> str:
    from backoffice.sync.reconcile import finish_report, send_summary

    report.refresh_from_db()
    cursor = {**report.cursor, "crashes": report.cursor.get("crashes", 0) + 1}
    note = (
        f"{timezone.now():%Y-%m-%d %H:%M:%S} chunk {report.chunks + 1} failed: {type(exc).__name__}: {exc}\n"
    )
    report.log += note
    report.cursor = cursor
    report.chunk_token = ""
    report.save(update_fields=["log", "cursor", "chunk_token"])
    if cursor["crashes"] < MAX_CHUNK_CRASHES:
        enqueue(f"{__name__}.reconcile_task", report.account_id, report.pk)
        return f"{report.account.name}: chunk failed ({exc}); the next one resumes"
    cursor["errors"] = [*cursor.get("errors", []), f"{MAX_CHUNK_CRASHES} chunks failed in a row: {exc}"]
    finish_report(report, cursor)
    send_summary(report)
    return f"{report.account.name}: failed after {MAX_CHUNK_CRASHES} chunks failed"


def resume_stalled_reconciliations(now: datetime | None = None) -> list[str]:
    """Nights whose chunk chain broke (a worker killed before it queued the next chunk, a task lost):
    running reports with no page saved for the task timeout get a chunk again (noted in their log)."""
    from backoffice.sync.reconcile import stale_after

    now = now or timezone.now()
    stale = now - stale_after()
    stalled = ReconciliationReport.objects.filter(state=ReconciliationReport.State.RUNNING).filter(
        Q(last_chunk_at__lt=stale) | Q(last_chunk_at__isnull=True, started_at__lt=stale)
    )
    names = []
    for report in stalled.select_related("account"):
        enqueue(f"{__name__}.reconcile_task", report.account_id, report.pk)
        names.append(report.account.name)
    return names


def zone_of(account: ReverbAccount) -> ZoneInfo:
    try:
        return ZoneInfo(account.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("account %s has an unknown time zone %r; using UTC", account, account.time_zone)
        return ZoneInfo("UTC")


def scheduled_moment(account: ReverbAccount, now: datetime) -> datetime:
    """Today's reconciliation moment for the account: reconcile_at on the account's local date of `now`.

    A local time that does not exist that day (spring forward) resolves like zoneinfo's fold=0: shifted
    past the gap; one that happens twice (fall back) means its first occurrence. Either way once a day."""
    zone = zone_of(account)
    local_today = now.astimezone(zone).date()
    return datetime.combine(local_today, account.reconcile_at, tzinfo=zone)


def due_accounts(now: datetime | None = None) -> list[tuple[ReverbAccount, datetime]]:
    """Accounts whose reconciliation moment of their local today has passed and that have no report
    started since that moment: a missed run (workers down at 03:00) happens as soon as they are back, and
    never twice the same local day. One query for the accounts, one for their reports."""
    from backoffice.models import Backfill

    now = now or timezone.now()
    # An account's first pull reads everything anyway: its night waits for it (and then runs, once).
    filling = set(
        Backfill.objects.filter(state=Backfill.State.RUNNING, kind=Backfill.Kind.FIRST).values_list(
            "account_id", flat=True
        )
    )
    candidates = [(a, scheduled_moment(a, now)) for a in scheduled_accounts() if a.pk not in filling]
    candidates = [(a, moment) for a, moment in candidates if moment <= now]
    if not candidates:
        return []
    earliest = min(moment for _, moment in candidates)
    started = ReconciliationReport.objects.filter(
        account__in=[a for a, _ in candidates], started_at__gte=earliest
    ).values_list("account_id", "started_at")
    latest: dict[int, datetime] = {}
    for account_id, at in started:
        latest[account_id] = max(at, latest.get(account_id, at))
    return [(a, moment) for a, moment in candidates if latest.get(a.pk, earliest - timedelta(1)) < moment]


def run_due_reconciliations(now: datetime | None = None) -> str:
    """A schedule's entry point (every few minutes): start the reconciliations that are due. The report
    row is created here, before the task is queued, so the next tick does not start a second one."""
    started = []
    resumed = resume_stalled_reconciliations(now)
    for account, _moment in due_accounts(now):
        with transaction.atomic():
            report = ReconciliationReport.objects.create(account=account, started_at=now or timezone.now())
            enqueue(f"{__name__}.reconcile_task", account.pk, report.pk)
        started.append(account.name)
    again = f"; resumed {len(resumed)} stalled: {', '.join(resumed)}" if resumed else ""
    return f"started {len(started)} reconciliation(s): {', '.join(started) or 'none due'}{again}"


def check_scopes_task(account_id: int) -> str:
    """Check the account's token scopes (a dozen harmless requests of its budget) and keep the result."""
    account = ReverbAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None or not account.has_token:
        return "no enabled account with a token"
    return f"{account.name}: {account.check_scopes()}"


def purge_old_records() -> str:
    """A schedule's entry point (daily): delete every log's rows past their retention
    (backoffice/background/retention.py)."""
    from backoffice.background.retention import purge_old_records as purge

    done = purge()
    return ", ".join(f"deleted {n} {what}" for what, n in done.items())


def requeue_lost_tasks() -> str:
    """A schedule's entry point (every 5 minutes): send again the tasks a dead worker held
    (backoffice/background/queue.py, TaskLease)."""
    from backoffice.background.queue import requeue_lost

    return ", ".join(f"{n} {what}" for what, n in requeue_lost().items())
