"""Webhook deliveries in the admin: read-only, replayable. The account's webhook URL and its "Rotate
webhook secret" action are in backoffice/admin/account.py."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice.admin.base import BaseAdmin
from backoffice.admin.links import pretty_json
from backoffice.background import webhooks
from backoffice.models import WebhookDelivery


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(BaseAdmin):
    """Every delivery as received. Read-only; "Replay" processes the selected ones again."""

    list_display = [
        "received_at",
        "account",
        "topic",
        "object_type",
        "object_key",
        "state",
        "attempts",
        "short_error",
        "processed_at",
    ]
    list_filter = ["state", "topic", "account"]
    list_select_related = ["account"]
    search_fields = ["=object_key"]
    search_help_text = "Exact Reverb key: a listing id, an order number or a payment id."
    ordering = ["-received_at", "-pk"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    list_per_page = 100
    actions = ["replay_deliveries"]
    fields = [
        "account",
        "topic",
        "state",
        "attempts",
        "error",
        "object_type",
        "object_key",
        "received_at",
        "claimed_at",
        "processed_at",
        "covered_by",
        "headers_display",
        "body_display",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing received is lost

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="Error or note")
    def short_error(self, obj: WebhookDelivery) -> str:
        return obj.error if len(obj.error) <= 80 else obj.error[:79] + "…"

    @admin.display(description="Headers")
    def headers_display(self, obj: WebhookDelivery) -> SafeString:
        return pretty_json(obj.headers)

    @admin.display(description="Body (as received)")
    def body_display(self, obj: WebhookDelivery) -> SafeString:
        try:
            return pretty_json(json.loads(obj.body))
        except ValueError:  # shown as it came, escaped
            return format_html('<pre class="raw-payload">{}</pre>', obj.body)

    @admin.action(
        description="Replay selected deliveries (re-read from Reverb and upsert)", permissions=["change"]
    )
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        ids = list(queryset.exclude(state=WebhookDelivery.State.IGNORED).values_list("pk", flat=True))
        ignored = queryset.filter(state=WebhookDelivery.State.IGNORED).count()
        counts = webhooks.replay(ids)
        parts = [f"{n} {state}" for state, n in sorted(counts.items())]
        if ignored:
            parts.append(f"{ignored} ignored (not replayed)")
        level = messages.WARNING if counts.get("failed") else messages.SUCCESS
        self.message_user(request, "Replayed: " + (", ".join(parts) or "nothing selected") + ".", level)
