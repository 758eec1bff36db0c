"""The mirror base model and the sync bookkeeping (DESIGN.md section 4).

Every domain app's mirror model subclasses RemoteModel; every pull records a SyncRun.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.signals import connection_created
from django.dispatch import receiver


class PayloadField(models.JSONField):
    """A JSONField stored as PostgreSQL `json` (the text as written) rather than `jsonb` (parsed into a
    binary tree): a mirror row's payload is written on every pull and read whole, never queried inside
    (what a query needs is promoted to a column). Building jsonb was a fifth of PostgreSQL's time in a
    first sync. `json` has no equality operator: no DISTINCT or set operation over a row's columns, and
    no containment or key-existence lookups on it. Elsewhere (SQLite) it is Django's JSONField."""

    def db_type(self, connection: Any) -> str | None:
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)


@receiver(connection_created)
def _json_as_text(sender: Any, connection: Any, **kwargs: Any) -> None:
    """psycopg hands `json` columns over already parsed, where JSONField.from_db_value expects text (as
    Django has psycopg hand over `jsonb`): load them as text too."""
    if connection.vendor == "postgresql":
        from psycopg.types.string import TextLoader

        connection.connection.adapters.register_loader("json", TextLoader)


class RemoteModel(models.Model):
    """A local copy of one Reverb object. A local primary key beside the remote key (as dj-stripe does),
    the whole last payload in `raw`, and only what staff filter/search/sort/join on promoted to columns.

    `last_synced_at` is when the row was last *written* by a pull (created or changed); an unchanged row is
    confirmed by its resource's latest successful SyncRun instead, so a sync with nothing new writes nothing.
    """

    # No index of its own: the unique (account, reverb_id) constraint leads with it and serves every
    # lookup by account. A second index made PostgreSQL, before it had statistics on a new mirror, look
    # up rows by account alone and filter the whole shop for each key (a first sync's link lookups).
    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reverb_id = models.CharField("Reverb id", max_length=64)
    raw = PayloadField(default=dict, blank=True)
    remote_created_at = models.DateTimeField(null=True, blank=True, db_index=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True, db_index=True)
    payload_hash = models.CharField(max_length=32, blank=True, default="", editable=False)
    first_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Absent from the last complete scan: gone from Reverb (or out of our token's sight). Never deleted.
    missing = models.BooleanField(default=False, db_index=True)
    missing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["account", "reverb_id"], name="%(app_label)s_%(class)s_account_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.reverb_id}"

    def link(self, name: str) -> str:
        """An href from the payload's HAL `_links`, or ''."""
        links = self.raw.get("_links") if isinstance(self.raw, dict) else None
        entry = links.get(name) if isinstance(links, dict) else None
        return entry.get("href", "") if isinstance(entry, dict) else ""


class SyncRun(models.Model):
    """One pull of one resource for one account, with its counts."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        PARTIAL = "partial", "Partial (some records failed)"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="sync_runs"
    )
    resource = models.CharField(max_length=40, db_index=True)
    full = models.BooleanField(default=False, help_text="A complete scan (marks absent rows missing).")
    since = models.DateTimeField(null=True, blank=True, help_text="updated_start_date sent, if incremental.")
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    pages = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["account", "resource", "status", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.resource} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def ok(self) -> bool:
        return self.status in (self.Status.SUCCESS, self.Status.PARTIAL)

    def summary(self) -> str:
        return (
            f"{self.account.name} {self.resource}: fetched={self.fetched} created={self.created} "
            f"updated={self.updated} unchanged={self.unchanged} missing={self.missing} failed={self.failed} "
            f"requests={self.requests} {self.seconds:.1f}s {'ok' if self.ok else self.status}"
        )


class SyncLogEntry(models.Model):
    """The per-item sync log Reverb's sync guide asks for (item id, SKU, link, status, message, time).

    Pulls log failures (with the raw payload and the reason) and skips, not every successful item: the
    SyncRun carries the counts, and a sync with nothing new must write nothing. Pushes log every item.
    """

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.CASCADE, related_name="log")
    resource = models.CharField(max_length=40, db_index=True)
    reverb_id = models.CharField("item id", max_length=64, blank=True, default="", db_index=True)
    sku = models.CharField("SKU", max_length=255, blank=True, default="", db_index=True)
    web_url = models.URLField("View on Reverb", max_length=500, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    message = models.TextField(blank=True, default="")
    field_errors = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "sync log entry"
        verbose_name_plural = "sync log"

    def __str__(self) -> str:
        return f"{self.resource} {self.reverb_id} {self.status}"


def amount_field(verbose_name: str | None = None, **kwargs: object) -> models.DecimalField:
    """A Money amount as Decimal (Reverb sends decimal strings); its currency lives in a sibling column."""
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, null=True, blank=True, **kwargs)
