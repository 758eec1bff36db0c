"""Read-only admin for sync bookkeeping: SyncRun (counts per pull) and SyncLogEntry (per-item log).

The SyncLogEntry changelist redirects to the sync-log page (backoffice/pages/sync_log.py), so the admin's
app list and sidebar lead there; single entries keep their admin change page (raw payload, field errors)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice.admin.base import MirrorAdmin
from backoffice.admin.links import EMPTY, field_errors_html, pretty_json, reverb_link
from backoffice.admin.scale import EstimatedCountPaginator
from backoffice.models import SyncLogEntry, SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(MirrorAdmin):
    list_display = [
        "started_at",
        "account",
        "resource",
        "full",
        "status",
        "pages",
        "fetched",
        "created",
        "updated",
        "unchanged",
        "missing",
        "failed",
        "requests",
        "seconds",
        "log_link",
    ]
    # "Today / past 7 days / this month" in the sidebar rather than a date hierarchy, whose DISTINCT over
    # every run (a 5-minute schedule keeps about 26,000 a quarter per account) cost more than the page.
    list_filter = ["account", "resource", "status", "full", ("started_at", admin.DateFieldListFilter)]
    ordering = ["-started_at", "-id"]
    list_select_related = ["account"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "log_link"]

    @admin.display(description="log")
    def log_link(self, obj: SyncRun) -> SafeString | str:
        if obj is None or obj.pk is None:
            return EMPTY
        return format_html('<a href="{}?run={}">entries</a>', reverse("sync_log"), obj.pk)


@admin.register(SyncLogEntry)
class SyncLogEntryAdmin(MirrorAdmin):
    fields = ["created_at", "account", "run", "resource", "reverb_id", "sku", "status", "message"]
    list_select_related = ["account"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "reverb", "errors", "payload"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.fields, "reverb", "errors", "payload"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        query = request.GET.urlencode()
        return HttpResponseRedirect(reverse("sync_log") + (f"?{query}" if query else ""))

    @admin.display(description="View on Reverb")
    def reverb(self, obj: SyncLogEntry) -> SafeString | str:
        return reverb_link(obj.web_url)

    @admin.display(description="Field errors")
    def errors(self, obj: SyncLogEntry) -> SafeString | str:
        return field_errors_html(obj.field_errors) or EMPTY

    @admin.display(description="Raw payload")
    def payload(self, obj: SyncLogEntry) -> SafeString | str:
        return pretty_json(obj.raw) if obj.raw is not None else EMPTY
