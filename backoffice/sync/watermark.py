"""Where an incremental pull starts: the last successful run's start minus an overlap.

Reverb's Magento plugin learned to reach back 24 h on every order poll (CHANGELOG 0.9.1) because slow
or broken crons lost orders; re-reading a day of unchanged rows costs one SELECT per page here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from backoffice.models import SyncRun


def overlap() -> timedelta:
    return timedelta(hours=getattr(settings, "REVERB_SYNC_OVERLAP_HOURS", 24))


def last_success(account_id: int, resource: str) -> SyncRun | None:
    ok = (SyncRun.Status.SUCCESS, SyncRun.Status.PARTIAL)
    return (
        SyncRun.objects.filter(account_id=account_id, resource=resource, status__in=ok)
        .exclude(full=False, since__isnull=True)  # a nightly slice (reconcile.py), neither full nor since
        .order_by("-started_at")
        .first()
    )


def since_for(account_id: int, resource: str) -> datetime | None:
    """updated_start_date for the next incremental pull; None (a complete scan) on the first run."""
    run = last_success(account_id, resource)
    return run.started_at - overlap() if run else None
