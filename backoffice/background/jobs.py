"""Bulk jobs: one model for every long job (mass sync, bulk ship, bulk end, CSV import...).

A job is a list of items, each handled by a function registered for the job's kind:

    @job_handler("orders.ship")
    def ship_one(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome: ...

`create_job` stores the job and its items and enqueues `run_job` on commit. `run_job` walks the items in
order, records each outcome, honours cancellation between items, and can be run again after a crash: an
item left "running" by a killed worker is handed back with `resumed=True`, and its handler must re-read
Reverb before acting (so a shipment is never sent twice). Imported by backoffice/models.py.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

log = logging.getLogger(__name__)


class BulkJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Finished with failures"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (State.QUEUED, State.RUNNING)

    kind = models.CharField(max_length=48, db_index=True)
    title = models.CharField(max_length=200)
    account = models.ForeignKey(
        "backoffice.ReverbAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    # Set for jobs that must not run twice at once for an account (a mass sync): see the constraint.
    single_flight = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "bulk job"
        constraints = [
            # "Do everything to prevent a user from launching multiple mass syncs at the same time"
            # (Reverb's e-commerce sync guide): the database itself refuses a second active one.
            models.UniqueConstraint(
                fields=["kind", "account"],
                condition=Q(single_flight=True, state__in=["queued", "running"]),
                name="bulkjob_single_flight",
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_state_display()})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE


class BulkJobItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    key = models.CharField(max_length=128, help_text="What the item acts on, e.g. an order number.")
    label = models.CharField(max_length=255, blank=True)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="bulkjobitem_unique_key")]

    def __str__(self) -> str:
        return f"{self.key}: {self.get_state_display()}"


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


def job_handler(kind: str) -> Callable[[ItemHandler], ItemHandler]:
    def register(fn: ItemHandler) -> ItemHandler:
        HANDLERS[kind] = fn
        return fn

    return register


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
    transaction.on_commit(lambda: enqueue(job.pk, backend))
    return job


def enqueue(job_id: int, backend: str | None = None) -> None:
    """Hand the job to a worker. `backend`, else settings.JOBS_BACKEND: "django_q" (default), "thread"
    (live-server tests, one process), "inline" (run now: unit tests, a command's --now), or "none" (the caller
    runs `run_job` itself)."""
    backend = backend or getattr(settings, "JOBS_BACKEND", "django_q")
    if backend == "none":  # the caller runs it (tests, tools)
        return
    if backend == "inline":
        run_job(job_id)
    elif backend == "thread":
        threading.Thread(target=_run_in_thread, args=(job_id,), daemon=True).start()
    else:
        from django_q.tasks import async_task

        async_task("backoffice.jobs.run_job", job_id, task_name=f"bulk-job-{job_id}")


def _run_in_thread(job_id: int) -> None:
    from django.db import connection

    try:
        run_job(job_id)
    finally:
        connection.close()


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
        enqueue(pk)
    return stale


def run_job(job_id: int) -> str:
    """The worker's entry point (ids in, summary out). Safe to run again after a crash: finished items
    are never redone, and an item a dead worker left "running" is handed back with resumed=True."""
    job = BulkJob.objects.get(pk=job_id)
    if not job.is_active:
        return f"job {job_id} already {job.state}"
    handler = HANDLERS.get(job.kind) or _load_handler(job.kind)
    now = timezone.now()
    BulkJob.objects.filter(pk=job.pk, state__in=BulkJob.ACTIVE).update(
        state=BulkJob.State.RUNNING, started_at=job.started_at or now, heartbeat_at=now
    )
    try:
        for item in _unfinished_items(job):
            if BulkJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                return _cancel(job)
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


def _load_handler(kind: str) -> ItemHandler:
    """Handlers live in the module the kind names ("backoffice.mass_sync") or in the app's jobs module
    (e.g. orders/jobs.py for "orders.ship")."""
    import importlib

    app = kind.split(".", 1)[0]
    for module in (kind, f"{app}.jobs"):
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(module)
        if kind in HANDLERS:
            return HANDLERS[kind]
    raise LookupError(f"no handler registered for bulk job kind {kind!r}")
