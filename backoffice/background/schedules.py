"""Schedules as data (DESIGN.md section 7), written to django-q2's Schedule table by `setup_schedules`.

Every schedule is a fan-out: the scheduled task loops over the enabled accounts with automatic sync and
queues one task per account (backoffice/background/tasks.py), so a new or disabled account needs no
schedule change.

The nightly reconciliation is not a per-account daily Schedule row: `run_due_reconciliations` runs every
few minutes and starts, per account, the reconciliation whose moment (reconcile_at in the account's time
zone, on the account's local date) has passed and that has no report since that moment. That follows each
account's time zone and DST without recomputing next_run, picks up an account's new time at once, and a
run missed while the workers were down happens when they come back, once.

Our rows are the ones whose name starts with PREFIX: `apply` creates and updates them by name and removes
ours that are no longer listed; other schedules (added in the admin) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from backoffice.plugins import Slot

PREFIX = "reverb: "

# The pulls are incremental (changes since the last success, or newest first until a page with nothing
# new), so with nothing changing each costs one request per collection: about 52 requests an hour per
# account whatever the shop's size (`bench --goals economy`), against a 10% share (360) of a 1/s budget.


@dataclass(frozen=True)
class Spec:
    name: str  # without PREFIX
    func: str
    minutes: int
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return PREFIX + self.name


BACKGROUND = "backoffice.background"
TASKS = f"{BACKGROUND}.tasks"
PULL = f"{TASKS}.pull_accounts"

CORE: tuple[Spec, ...] = (
    Spec("orders and refund requests", PULL, 5, {"resources": ["orders", "refunds"]}),
    Spec("offers and conversations", PULL, 5, {"resources": ["negotiations", "conversations"]}),
    Spec("payments, feedback and payouts", PULL, 60, {"resources": ["payments", "feedback", "payouts"]}),
    # No listings scan here: /my/listings has no updated-since filter, so every scan is complete (2,000
    # requests at 100k listings, issue 17). The nightly reconciliation (backoffice/sync/reconcile.py) reads
    # every listing; in between, an order pull re-reads the listing of each new sale or restock by SKU
    # (orders/sync.py) and a listings webhook re-reads its listing (backoffice/background/webhooks.py).
    Spec("nightly reconciliation (starts the due ones)", f"{TASKS}.run_due_reconciliations", 5),
    # Safety nets: a bulk job whose worker died without django-q re-delivering it, and webhook deliveries
    # whose processing task was lost (both are idempotent: finished work is never redone).
    Spec("recover stalled bulk jobs", f"{BACKGROUND}.jobs.recover_stale_jobs", 15),
    Spec("unprocessed webhook deliveries", f"{BACKGROUND}.webhooks.process_pending", 15, {"limit": 500}),
    # Any task a dead worker held (Redis does not re-deliver): sent again after the task timeout.
    Spec("re-send tasks lost with their worker", f"{TASKS}.requeue_lost_tasks", 5),
    # Retention: rows past WEBHOOK_/AUDIT_RETENTION_DAYS (backoffice/background/retention.py).
    Spec("clean up old webhook deliveries and audit rows", f"{TASKS}.purge_old_records", 24 * 60),
)

# Every schedule: the core's, then what each app adds from its AppConfig.ready() (its plugins.py).
SCHEDULES: Slot[Spec] = Slot("schedules")
for _spec in CORE:
    SCHEDULES.add(_spec, key=_spec.name)


def _wanted(spec: Spec) -> dict[str, Any]:
    from django_q.models import Schedule

    return {
        "func": spec.func,
        "args": None,
        "kwargs": repr(spec.kwargs) if spec.kwargs else None,
        "schedule_type": Schedule.MINUTES,
        "minutes": spec.minutes,
        "repeats": -1,
    }


def apply(now: datetime | None = None) -> list[tuple[str, str]]:
    """Create or update our schedules by name and remove stale ones of ours: [(action, name), ...] with
    action "created", "updated", "unchanged" or "removed". Idempotent."""
    from django_q.models import Schedule

    now = now or timezone.now()
    done: list[tuple[str, str]] = []
    with transaction.atomic():
        ours = {s.name: s for s in Schedule.objects.filter(name__startswith=PREFIX)}
        for spec in SCHEDULES:
            wanted = _wanted(spec)
            row = ours.pop(spec.full_name, None)
            if row is None:
                Schedule.objects.create(name=spec.full_name, next_run=now, **wanted)
                done.append(("created", spec.full_name))
                continue
            stale = {k: v for k, v in wanted.items() if getattr(row, k) != v}
            if not stale:
                done.append(("unchanged", spec.full_name))
                continue
            for name, value in stale.items():
                setattr(row, name, value)
            if "minutes" in stale:  # a new interval starts now rather than at the old next_run
                row.next_run = now
            row.save()
            done.append(("updated", spec.full_name))
        for name, row in ours.items():
            row.delete()
            done.append(("removed", name))
    return done
