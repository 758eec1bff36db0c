"""Bulk jobs and their items (one model for every long job); run by backoffice/background/jobs.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


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
