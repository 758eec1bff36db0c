"""Models of the background machinery (DESIGN.md section 7): the shared rate budget and its usage
counters, webhook deliveries, and nightly reconciliation reports.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RateBudget(models.Model):
    """One token bucket per account, in the database so every worker on every machine shares it."""

    account = models.OneToOneField(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="rate_budget"
    )
    tokens = models.FloatField(default=0.0)
    refilled_at = models.FloatField(default=0.0, help_text="Unix time of the last refill.")
    paused_until = models.FloatField(default=0.0, help_text="Unix time; a 429 pauses the budget until then.")

    def __str__(self) -> str:
        return f"rate budget of {self.account}"


class ApiUsage(models.Model):
    """Requests sent and 429s received per account and minute, for the admin's last-hour numbers."""

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="api_usage"
    )
    minute = models.DateTimeField(db_index=True)
    requests = models.PositiveIntegerField(default=0)
    throttled = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "minute"], name="apiusage_account_minute")]
        verbose_name_plural = "API usage"

    def __str__(self) -> str:
        return f"{self.account} {self.minute:%Y-%m-%d %H:%M}: {self.requests} requests, {self.throttled} 429s"


class WebhookDelivery(models.Model):
    """A webhook body stored raw first (answered 200 at once), processed later by a worker."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"  # claimed by a worker (compare-and-set), see claimed_at
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        IGNORED = "ignored", "Ignored"

    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="webhooks")
    topic = models.CharField(max_length=64, blank=True, db_index=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(
        blank=True, help_text="Exactly as received; never trusted, only used to know what to re-read."
    )
    object_type = models.CharField(max_length=32, blank=True)
    object_key = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When a worker took it: a "processing" row older than the task timeout is a dead worker's, taken again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # A burst's twins (same object, received before its re-read started) are settled by one re-read: this.
    # No constraint: retention deletes old deliveries in bulk, and a pointer to a deleted one is harmless.
    covered_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="covered",
    )

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["account", "object_type", "object_key"], name="webhook_object")]

    def __str__(self) -> str:
        return f"{self.topic or 'webhook'} {self.object_key} ({self.get_state_display()})"


class ReconciliationReport(models.Model):
    """One reconciliation run for one account: per-resource counts and the findings."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        CLEAN = "clean", "Clean"
        REPAIRED = "repaired", "Repaired"
        NEEDS_ATTENTION = "attention", "Needs a person"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="reconciliations"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING, db_index=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {resource: {"checked", "created", "updated", "missing", "conflicts", "failures"}}
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    emailed = models.BooleanField(default=False)
    job = models.ForeignKey(
        "backoffice.BulkJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The night in chunks (backoffice/sync/reconcile.py): the segments planned when it started, where the
    # next chunk resumes (saved with every page, in the page's transaction), and what happened to chunks.
    plan = models.JSONField(default=list, blank=True)
    cursor = models.JSONField(default=dict, blank=True)
    chunks = models.PositiveIntegerField(default=0, help_text="Chunks (tasks) run so far.")
    chunk_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    last_chunk_at = models.DateTimeField(null=True, blank=True, help_text="The last page a chunk saved.")
    log = models.TextField(blank=True, help_text="Chunks that stopped without finishing, and resumes.")
    # Older history (before the recent months) is checked a share each night: this night's share and
    # range, and when all of it was last covered (a complete sweep ended).
    older_share = models.FloatField(null=True, blank=True)
    older_range = models.CharField(max_length=100, blank=True, default="")
    history_covered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"reconciliation of {self.account} at {self.started_at:%Y-%m-%d %H:%M}"


class ReconciliationFinding(models.Model):
    """One difference between the mirror and Reverb: what differed, and what was done or why not."""

    class Action(models.TextChoices):
        REPAIRED = "repaired", "Repaired from Reverb"
        CREATED = "created", "Added to the mirror"
        MARKED_MISSING = "missing", "Marked missing"
        LEFT_FOR_PERSON = "person", "Left for a person"
        FAILED = "failed", "Could not be checked"

    report = models.ForeignKey(ReconciliationReport, on_delete=models.CASCADE, related_name="findings")
    resource = models.CharField(max_length=32, db_index=True)
    object_key = models.CharField(max_length=64)
    object_label = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=64, blank=True)
    ours = models.TextField(blank=True)
    theirs = models.TextField(blank=True)
    action = models.CharField(max_length=10, choices=Action.choices, db_index=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["report", "resource", "object_key"]

    def __str__(self) -> str:
        return f"{self.resource} {self.object_key} {self.field}: {self.get_action_display()}"


class ReconciliationSeen(models.Model):
    """A key one night's reconciliation returned (per resource): what a complete pass did not see is
    marked missing when the resource's last segment ends. Deleted when the report finishes."""

    report = models.ForeignKey(ReconciliationReport, on_delete=models.CASCADE, related_name="+")
    resource = models.CharField(max_length=32)
    key = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "resource", "key"], name="reconciliationseen_unique")
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.key} seen by report {self.report_id}"


class HistorySweep(models.Model):
    """Per account: where the rolling check of older history stands. Each night checks the slice from
    `position` on (None: from the very beginning), sized so the sweep ends within RECONCILE_SWEEP_NIGHTS."""

    account = models.OneToOneField(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="history_sweep"
    )
    position = models.DateTimeField(null=True, blank=True, help_text="Older history before this is done.")
    nights = models.PositiveSmallIntegerField(default=0, help_text="Nights into the current sweep.")
    started_at = models.DateTimeField(null=True, blank=True)
    covered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last complete sweep ended: all older history checked."
    )

    def __str__(self) -> str:
        return f"history sweep of {self.account}"


class Backfill(models.Model):
    """An account's first pull (or its pull after a long outage), walked in chunks by
    backoffice/sync/backfill.py: what has a deadline first, then what is live, then history newest first.
    `steps` is the plan with each step's progress (pages read, pages it has, requests spent), saved with
    every page in the page's transaction, so a chunk killed anywhere resumes after the last page landed."""

    class Kind(models.TextChoices):
        FIRST = "first", "First pull"
        CATCH_UP = "catch_up", "After an outage"

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    account = models.OneToOneField(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="backfill"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FIRST)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    today_done_at = models.DateTimeField(
        null=True, blank=True, help_text="When the work with a deadline today was complete."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    last_chunk_at = models.DateTimeField(null=True, blank=True, help_text="The last page a chunk saved.")
    steps = models.JSONField(default=list, blank=True)
    # Resources whose own pulls wait for this backfill (after an outage: their catch-up comes after it).
    held = models.JSONField(default=list, blank=True)
    runs = models.JSONField(default=list, blank=True, help_text="The sync runs of the running chunk.")
    requests = models.PositiveIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Steps given up after failing MAX_STEP_FAILURES chunks.")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.account}: {self.get_state_display()}"


class TaskLease(models.Model):
    """A task sent to the cluster and not yet finished (backoffice/background/queue.py): written before the
    send, removed once django-q has stored the task's result. With Redis as the broker a task whose worker
    dies is gone from the queue; the sweep (`requeue_lost_tasks`) sends again what is older than the task
    timeout and has no result."""

    func = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    task_name = models.CharField(max_length=100, blank=True, default="")
    task_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.func} sent {self.sent_at:%Y-%m-%d %H:%M:%S} (attempt {self.attempts})"
