"""django-tables2 tables of the back office (NetBox-style: declarative columns, LazyPaginator in views)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice.admin.links import EMPTY, change_url, field_errors_html, reverb_link
from backoffice.models import ReconciliationFinding, SyncLogEntry

MirrorKey = tuple[str, int, str]  # (resource, account id, reverb id)


def mirror_change_urls(entries: Iterable[SyncLogEntry]) -> dict[MirrorKey, str]:
    """Admin change URLs of the mirror rows the entries name: one query per resource on the page, so the
    cost does not grow with the number of rows. Items that were never mirrored (failed to map) get none."""
    from backoffice.sync import registry

    wanted: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for entry in entries:
        if entry.reverb_id:
            wanted[entry.resource].add((entry.account_id, entry.reverb_id))
    urls: dict[MirrorKey, str] = {}
    for resource, keys in wanted.items():
        try:
            model = registry.get(resource).model
        except KeyError:
            continue
        rows = model._default_manager.filter(
            account_id__in={a for a, _ in keys}, reverb_id__in={k for _, k in keys}
        ).only("pk", "account_id", "reverb_id")
        for row in rows:
            if (row.account_id, row.reverb_id) in keys:
                urls[(resource, row.account_id, row.reverb_id)] = change_url(row)
    return urls


class SyncLogTable(tables.Table):
    created_at = tables.DateTimeColumn(
        verbose_name="Time", format="Y-m-d H:i:s", order_by=("created_at", "id"), linkify=False
    )
    account = tables.Column(verbose_name="Account", accessor="account__name", order_by=("account__name",))
    resource = tables.Column()
    reverb_id = tables.Column(verbose_name="Item id")
    sku = tables.Column(verbose_name="SKU")
    web_url = tables.Column(verbose_name="Reverb", orderable=False)
    status = tables.Column()
    message = tables.Column(orderable=False)
    field_errors = tables.Column(verbose_name="Field errors", orderable=False)
    entry = tables.Column(verbose_name="", accessor="pk", orderable=False)

    class Meta:
        model = SyncLogEntry
        fields = (
            "created_at",
            "account",
            "resource",
            "reverb_id",
            "sku",
            "web_url",
            "status",
            "message",
            "field_errors",
            "entry",
        )
        order_by = ("-created_at",)
        empty_text = "No sync log entries match."
        attrs = {"id": "result_list", "class": "sync-log"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._mirror_urls: dict[MirrorKey, str] | None = None

    def _mirror_url(self, record: SyncLogEntry) -> str:
        if self._mirror_urls is None:  # resolved once, for the current page only
            page = getattr(self, "page", None)
            records = [row.record for row in page.object_list] if page else [r.record for r in self.rows]
            self._mirror_urls = mirror_change_urls(records)
        return self._mirror_urls.get((record.resource, record.account_id, record.reverb_id), "")

    def render_reverb_id(self, value: str, record: SyncLogEntry) -> SafeString | str:
        url = self._mirror_url(record)
        return format_html('<a href="{}">{}</a>', url, value) if url else value

    def render_web_url(self, value: str) -> SafeString | str:
        return reverb_link(value)

    def render_status(self, value: str, record: SyncLogEntry) -> SafeString:
        return format_html('<span class="sync-status sync-status-{}">{}</span>', record.status, value)

    def render_field_errors(self, value: Any) -> SafeString | str:
        return field_errors_html(value) or EMPTY

    def render_entry(self, record: SyncLogEntry) -> SafeString | str:
        url = change_url(record)
        return format_html('<a href="{}">details</a>', url) if url else EMPTY


class ReconciliationFindingTable(tables.Table):
    """The findings of one reconciliation report (backoffice/admin/reconcile.py)."""

    resource = tables.Column()
    object_key = tables.Column(verbose_name="Object")
    object_label = tables.Column(verbose_name="Label", orderable=False)
    field = tables.Column(verbose_name="Field")
    ours = tables.Column(verbose_name="Ours (before)", orderable=False)
    theirs = tables.Column(verbose_name="Reverb's", orderable=False)
    action = tables.Column(verbose_name="Done")
    reason = tables.Column(orderable=False)

    class Meta:
        model = ReconciliationFinding
        fields = ("resource", "object_key", "object_label", "field", "ours", "theirs", "action", "reason")
        order_by = ("resource", "object_key")
        empty_text = "No findings: the mirror matched Reverb."
        attrs = {"id": "result_list", "class": "reconciliation-findings"}

    def render_action(self, value: str, record: ReconciliationFinding) -> SafeString:
        return format_html('<span class="finding finding-{}">{}</span>', record.action, value)
