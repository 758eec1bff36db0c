"""Bulk jobs: one model for every long job (mass sync, bulk ship, bulk end, CSV import...).

A job is a list of items, each handled by a function registered for the job's kind by its app's
AppConfig.ready() (`register_job_handlers(jobs.JOB_HANDLERS)`), e.g. orders/jobs.py:

    def ship_one(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome: ...
    JOB_HANDLERS = {"orders.ship": ship_one}

`create_job` stores the job and its items and enqueues `run_job` on commit. `run_job` walks the items in
order, records each outcome, honours cancellation between items, and can be run again after a crash: an
item left "running" by a killed worker is handed back with `resumed=True`, and its handler must re-read
Reverb before acting (so a shipment is never sent twice). The models are in backoffice/models/jobs.py.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from backoffice.background.queue import enqueue, enqueue_now
from backoffice.models import BulkJob, BulkJobItem

log = logging.getLogger(__name__)
RUN = "backoffice.background.jobs.run_job"


@dataclass
class Outcome:
    state: str  # a BulkJobItem.State value
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, message: str = "", **result: Any) -> Outcome:
        return cls(BulkJobItem.State.SUCCEEDED, message, result)

    @classmethod
    def failed(cls, message: str, **result: Any) -> Outcome:
        return cls(BulkJobItem.State.FAILED, message, result)

    @classmethod
    def skipped(cls, message: str, **result: Any) -> Outcome:
        return cls(BulkJobItem.State.SKIPPED, message, result)


@dataclass
class ItemSpec:
    key: str
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)


ItemHandler = Callable[..., Outcome]
HANDLERS: dict[str, ItemHandler] = {}


def register_job_handlers(handlers: Mapping[str, ItemHandler]) -> None:
    """Register handlers by job kind. Each app calls it from its AppConfig.ready() with its jobs module's
    JOB_HANDLERS, so every process (web, worker) knows every kind before it runs a job."""
    HANDLERS.update(handlers)


def handler_for(kind: str) -> ItemHandler:
    try:
        return HANDLERS[kind]
    except KeyError:
        raise LookupError(
            f"no handler registered for bulk job kind {kind!r}; register it in its app's AppConfig.ready()"
        ) from None


class JobAlreadyRunning(Exception):
    def __init__(self, job: BulkJob) -> None:
        super().__init__(f"{job.title} is already {job.get_state_display().lower()} (job {job.pk})")
        self.job = job


def create_job(
    kind: str,
    *,
    title: str,
    items: Iterable[ItemSpec],
    account: Any = None,
    user: Any = None,
    params: dict[str, Any] | None = None,
    single_flight: bool = False,
    backend: str | None = None,
) -> BulkJob:
    """Store a job and its items; the worker starts it once the surrounding transaction commits.
    A single-flight job refuses to start beside an active one of its kind and account."""
    from django.db import IntegrityError

    specs = list(items)
    if single_flight:
        running = BulkJob.objects.filter(
            kind=kind, account=account, single_flight=True, state__in=BulkJob.ACTIVE
        ).first()
        if running:
            raise JobAlreadyRunning(running)
    try:
        with transaction.atomic():
            job = BulkJob.objects.create(
                kind=kind,
                title=title,
                account=account,
                params=params or {},
                total=len(specs),
                started_by=user if getattr(user, "is_authenticated", False) else None,
                single_flight=single_flight,
            )
            BulkJobItem.objects.bulk_create(
                BulkJobItem(job=job, position=i, key=s.key[:128], label=s.label[:255], params=s.params)
                for i, s in enumerate(specs)
            )
    except IntegrityError:  # lost the race against another request starting the same job
        running = BulkJob.objects.filter(
            kind=kind, account=account, single_flight=True, state__in=BulkJob.ACTIVE
        ).first()
        if running:
            raise JobAlreadyRunning(running) from None
        raise
    enqueue(RUN, job.pk, backend=backend, task_name=f"bulk-job-{job.pk}")
    return job


def job_url(job: BulkJob | int) -> str:
    """The job's page in the admin (progress bar, counts, per-item results). Redirect here after
    starting a job."""
    from django.urls import reverse

    return reverse("admin:backoffice_bulkjob_change", args=[getattr(job, "pk", job)])


def request_cancel(job: BulkJob) -> bool:
    """Ask the worker to stop between items; the items not sent yet end "cancelled". A job no worker
    has picked up yet is cancelled at once. Returns False if the job had already finished."""
    asked = BulkJob.objects.filter(pk=job.pk, state__in=BulkJob.ACTIVE).update(cancel_requested=True)
    if asked and BulkJob.objects.filter(pk=job.pk, state=BulkJob.State.QUEUED, started_at=None).exists():
        _cancel(job, only_if_state=BulkJob.State.QUEUED)
    return bool(asked)


def recover_stale_jobs(older_than_seconds: float = 900) -> list[int]:
    """Re-enqueue running jobs whose worker stopped beating (killed, machine lost). `run_job` resumes
    them: finished items stay finished, the item that was running is handed back with resumed=True.
    Meant for a schedule; django-q's own re-delivery (timeout < retry) covers the usual case."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    stale = list(
        BulkJob.objects.filter(state=BulkJob.State.RUNNING)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at=None))
        .values_list("pk", flat=True)
    )
    for pk in stale:
        enqueue_now(RUN, pk, task_name=f"bulk-job-{pk}")
    return stale


# Share of the task timeout one run of a job on the cluster may use before it hands the rest of the job
# to a new task: at Reverb's pace (1 request/s) 500 items outlast the 600 s timeout, and django-q kills
# a task at it (the item in hand fails with its TimeoutException and the job stalls until the sweep).
SLICE_OF_TIMEOUT = 0.8
clock = time.monotonic


def work_slice() -> float | None:
    """Seconds one `run_job` task may work before it continues in a new task: on the cluster a share of
    its timeout; in a thread or inline, no limit (None)."""
    if settings.WORKER_BACKEND != "django_q":
        return None
    return SLICE_OF_TIMEOUT * (settings.Q_CLUSTER.get("timeout") or 600)


def run_job(job_id: int) -> str:
    """The worker's entry point (ids in, summary out). Safe to run again after a crash: finished items
    are never redone, and an item a dead worker left "running" is handed back with resumed=True. On the
    cluster it stops between items after `work_slice()` seconds and sends itself again for the rest."""
    started, limit = clock(), work_slice()
    job = BulkJob.objects.get(pk=job_id)
    if not job.is_active:
        return f"job {job_id} already {job.state}"
    handler = handler_for(job.kind)
    now = timezone.now()
    BulkJob.objects.filter(pk=job.pk, state__in=BulkJob.ACTIVE).update(
        state=BulkJob.State.RUNNING, started_at=job.started_at or now, heartbeat_at=now
    )
    try:
        for item in _unfinished_items(job):
            if BulkJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                return _cancel(job)
            if limit is not None and clock() - started > limit:
                enqueue_now(RUN, job.pk, task_name=f"bulk-job-{job.pk}")
                return f"job {job.pk}: continued in a new task after {clock() - started:.0f}s"
            _run_item(job, item, handler)
    except Exception as exc:  # a bug in the runner itself: the job fails visibly, every item keeps a record
        log.exception("bulk job %s crashed", job.pk)
        _fail(job, f"{type(exc).__name__}: {exc}")
        raise
    job.refresh_from_db()
    if job.failed:
        state = BulkJob.State.PARTIAL if job.succeeded or job.skipped else BulkJob.State.FAILED
    else:
        state = BulkJob.State.SUCCEEDED
    BulkJob.objects.filter(pk=job.pk, state=BulkJob.State.RUNNING).update(
        state=state, finished_at=timezone.now()
    )
    return f"job {job.pk}: {job.succeeded} succeeded, {job.failed} failed, {job.skipped} skipped"


def _unfinished_items(job: BulkJob, batch: int = 100) -> Iterator[BulkJobItem]:
    """Pending and running items in order, a batch at a time (never a whole big job in memory, and no
    open cursor over rows this loop updates)."""
    last = -1
    while True:
        items = list(
            job.items.filter(
                state__in=[BulkJobItem.State.PENDING, BulkJobItem.State.RUNNING], position__gt=last
            ).order_by("position")[:batch]
        )
        if not items:
            return
        for item in items:
            last = item.position
            yield item


_COUNTERS = {
    BulkJobItem.State.SUCCEEDED: "succeeded",
    BulkJobItem.State.FAILED: "failed",
    BulkJobItem.State.SKIPPED: "skipped",
}


def _run_item(job: BulkJob, item: BulkJobItem, handler: ItemHandler) -> None:
    resumed = item.state == BulkJobItem.State.RUNNING  # a previous worker died while handling it
    # Written before the call: if this worker dies now, the next run sees "running" and re-reads first.
    claimed = BulkJobItem.objects.filter(
        pk=item.pk, state__in=[BulkJobItem.State.PENDING, BulkJobItem.State.RUNNING]
    ).update(state=BulkJobItem.State.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now())
    if not claimed:  # another run of this job finished it meanwhile
        return
    try:
        outcome = handler(job, item, resumed=resumed)
    except Exception as exc:  # one item's failure never stops the others
        log.warning("bulk job %s item %s failed: %s", job.pk, item.key, exc, exc_info=True)
        outcome = Outcome.failed(f"{type(exc).__name__}: {exc}")
    state = outcome.state if outcome.state in _COUNTERS else BulkJobItem.State.FAILED
    column = _COUNTERS[state]
    with transaction.atomic():
        # Only the run that still holds the item records it, so the counts never go past the total.
        recorded = BulkJobItem.objects.filter(pk=item.pk, state=BulkJobItem.State.RUNNING).update(
            state=state,
            message=outcome.message[:5000],
            result=outcome.result,
            finished_at=timezone.now(),
        )
        if recorded:
            BulkJob.objects.filter(pk=job.pk).update(
                processed=F("processed") + 1, **{column: F(column) + 1}, heartbeat_at=timezone.now()
            )


NOT_SENT = "Cancelled: not sent."


def _cancel(job: BulkJob, only_if_state: str | None = None) -> str:
    now = timezone.now()
    with transaction.atomic():
        jobs = BulkJob.objects.filter(pk=job.pk, state__in=BulkJob.ACTIVE)
        if only_if_state:
            jobs = jobs.filter(state=only_if_state)
        if not jobs.update(state=BulkJob.State.CANCELLED, finished_at=now):
            return f"job {job.pk} was no longer active"
        left = job.items.filter(state=BulkJobItem.State.PENDING).update(
            state=BulkJobItem.State.CANCELLED, message=NOT_SENT, finished_at=now
        )
    return f"job {job.pk} cancelled; {left} item(s) not sent"


def _fail(job: BulkJob, error: str) -> None:
    """The runner itself broke: the job fails and the items it never reached say so."""
    now = timezone.now()
    with transaction.atomic():
        BulkJob.objects.filter(pk=job.pk).update(state=BulkJob.State.FAILED, error=error, finished_at=now)
        job.items.filter(state=BulkJobItem.State.PENDING).update(
            state=BulkJobItem.State.CANCELLED,
            message=f"Not sent: the job failed ({error})"[:5000],
            finished_at=now,
        )
