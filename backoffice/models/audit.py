"""The audit row of every change sent to Reverb, written by backoffice/audit.py (`audited_call`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiCall(models.Model):
    """One change sent to Reverb: who, what, when, what was sent, and what came back."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused before sending"
        UNKNOWN = "unknown", "Outcome unknown (connection lost)"

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.PROTECT, related_name="api_calls"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty for the system (schedules, webhooks).",
    )
    action = models.CharField(max_length=64, db_index=True, help_text="e.g. listings.publish, orders.ship")
    target_type = models.CharField(max_length=32, blank=True)
    target_key = models.CharField(max_length=64, blank=True, db_index=True)
    request_summary = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING, db_index=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    field_errors = models.JSONField(default=dict, blank=True)
    curl = models.TextField(blank=True)
    requests = models.PositiveSmallIntegerField(default=0)
    job = models.ForeignKey(
        "backoffice.BulkJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="api_calls"
    )
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "API call"
        indexes = [models.Index(fields=["account", "target_type", "target_key"], name="apicall_target")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_key} ({self.get_status_display()})"
