"""Webhook admin: the deliveries (read-only, replayable) and what the Reverb account admin shows of them
(its webhook URL and a "Rotate webhook secret" action with a confirmation page).

Imported at the top of backoffice/admin.py for `WebhookAccountAdminMixin`; importing it also registers
the WebhookDelivery admin. It must not import backoffice.admin (which imports it).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice import webhooks
from backoffice.admin_links import changelist_url, pretty_json
from backoffice.background import WebhookDelivery
from backoffice.models import ReverbAccount


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every delivery as received. Read-only; "Replay" processes the selected ones again."""

    list_display = ["received_at", "account", "topic", "object_type", "object_key", "state", "attempts",
                    "short_error", "processed_at"]
    list_filter = ["state", "topic", "account"]
    list_select_related = ["account"]
    search_fields = ["=object_key"]
    search_help_text = "Exact Reverb key: a listing id, an order number or a payment id."
    ordering = ["-received_at", "-pk"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    list_per_page = 100
    actions = ["replay_deliveries"]
    fields = ["account", "topic", "state", "attempts", "error", "object_type", "object_key", "received_at",
              "processed_at", "headers_display", "body_display"]
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

    @admin.action(description="Replay selected deliveries (re-read from Reverb and upsert)",
                  permissions=["change"])
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        ids = list(queryset.exclude(state=WebhookDelivery.State.IGNORED).values_list("pk", flat=True))
        ignored = queryset.filter(state=WebhookDelivery.State.IGNORED).count()
        counts = webhooks.replay(ids)
        parts = [f"{n} {state}" for state, n in sorted(counts.items())]
        if ignored:
            parts.append(f"{ignored} ignored (not replayed)")
        level = messages.WARNING if counts.get("failed") else messages.SUCCESS
        self.message_user(request, "Replayed: " + (", ".join(parts) or "nothing selected") + ".", level)


class WebhookAccountAdminMixin:
    """For ReverbAccountAdmin: a read-only `webhook_url` field and the `rotate_webhook_secret` action."""

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:  # the readonly field has no request: hand it the origin on the instance
            obj._webhook_origin = request.build_absolute_uri("/").rstrip("/")
        return obj

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: ReverbAccount) -> SafeString | str:
        if not obj.pk:
            return "Shown once the account is saved."
        origin = getattr(obj, "_webhook_origin", "")
        return format_html(
            "<code>{}</code><br><span class='help'>Secret: anyone with it can post to this account. "
            "Register it with <code>manage.py reverb_account webhooks {} --register --base-url "
            "https://your.public.host</code>; Reverb needs a public HTTPS URL. "
            "<a href='{}'>Deliveries received</a></span>",
            webhooks.webhook_url(obj, origin),
            obj.name,
            changelist_url(WebhookDelivery, account__id__exact=obj.pk),
        )

    @admin.action(description="Rotate webhook secret", permissions=["change"])
    def rotate_webhook_secret(
        self, request: HttpRequest, queryset: QuerySet[ReverbAccount]
    ) -> TemplateResponse | None:
        if request.POST.get("confirmed") == "yes":
            for account in queryset:
                webhooks.rotate_secret(account)
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    f"{account.name}: new webhook secret; the old URL now answers 404. Register the new "
                    f"URL with Reverb (reverb_account webhooks {account.name} --register --base-url ...).",
                    messages.WARNING,
                )
            return None
        opts = ReverbAccount._meta
        context = {
            **admin.site.each_context(request),
            "title": "Rotate webhook secret?",
            "accounts": list(queryset),
            "queryset": queryset,
            "opts": opts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,  # type: ignore[attr-defined]
        }
        return TemplateResponse(request, "admin/backoffice/rotate_webhook_secret.html", context)
