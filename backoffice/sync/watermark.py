"""Where an incremental pull starts: the last successful run's start minus an overlap.

The watermark is the start of the last run that succeeded, not "now minus a period": a pull that did not
run (workers down, a broken cron) or failed does not move it, so nothing is skipped however long the gap.
The overlap only covers what can still hide behind that start: our clock against Reverb's, and Reverb's
index trailing a change by seconds (API-NOTES 3). Reverb's Magento plugin reaches back 24 h on every
poll (CHANGELOG 0.9.1) because its window was relative to now; here that would re-read a day of rows
twelve times an hour (issue 17: the request economy), so the overlap is minutes
(REVERB_SYNC_OVERLAP_MINUTES), and the nightly reconciliation re-reads everything anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from backoffice.models import Backfill, SyncRun


def overlap() -> timedelta:
    return timedelta(minutes=getattr(settings, "REVERB_SYNC_OVERLAP_MINUTES", 15))


def last_success(account_id: int, resource: str) -> SyncRun | None:
    ok = (SyncRun.Status.SUCCESS, SyncRun.Status.PARTIAL)
    return (
        SyncRun.objects.filter(account_id=account_id, resource=resource, status__in=ok)
        .exclude(full=False, since__isnull=True)  # a nightly slice (reconcile.py), neither full nor since
        .order_by("-started_at")
        .first()
    )


def since_for(account_id: int, resource: str) -> datetime | None:
    """updated_start_date for the next incremental pull; None (a complete scan) on the first run, unless the
    account's first pull is a backfill (backoffice/sync/backfill.py): it reads everything older than its
    start, so the incremental pulls beside it start there and stay cheap from the first minute."""
    run = last_success(account_id, resource)
    if run is not None:
        return run.started_at - overlap()
    first = Backfill.objects.filter(account_id=account_id, kind=Backfill.Kind.FIRST)
    started = first.values_list("started_at", flat=True).first()
    return started - overlap() if started else None
