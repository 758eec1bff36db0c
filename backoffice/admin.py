"""Admin site branding, the Reverb account admin, and MirrorAdmin, the base of every mirror's admin."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from backoffice.admin_jobs import AccountBackgroundMixin  # also registers the BulkJob admin
from backoffice.admin_webhooks import WebhookAccountAdminMixin
from backoffice.models import API_URL_HELP, ReverbAccount

admin.site.site_header = "Reverb back office"
admin.site.site_title = "Reverb back office"
admin.site.index_title = "Dashboard"


class BaseAdmin(admin.ModelAdmin):
    """Our ModelAdmin defaults: URL fields assume https (Django 6's default; Reverb is HTTPS)."""

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class MirrorAdmin(BaseAdmin):
    """Mirrors are copies of what Reverb owns: never added or deleted here, read-only unless a subclass
    opts fields in (by overriding get_readonly_fields) for edits that are pushed through services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str] | tuple[str, ...]:
        if self.fields:
            return list(self.fields)
        return [f.name for f in self.model._meta.get_fields() if f.concrete and not f.auto_created]


PUSH_FIELDS = ["push_title", "push_description", "push_price", "push_inventory", "push_condition",
               "push_photos", "push_shipping", "push_make_model", "push_categories"]


class ReverbAccountForm(forms.ModelForm):
    api_url = forms.URLField(
        label="API base URL", max_length=200, assume_scheme="https", help_text=API_URL_HELP
    )
    # Write-only: the token is never rendered back, not even masked.
    new_token = forms.CharField(
        label="New token (leave blank to keep)",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="A personal access token from https://reverb.com/my/api_settings.",
    )

    class Meta:
        model = ReverbAccount
        fields = ["name", "api_url", "currency", "enabled", "auto_sync", "auto_publish", "time_zone",
                  "reconcile_at", *PUSH_FIELDS]

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                f"Unknown time zone {name!r}: use an IANA name such as America/Chicago or Europe/Berlin."
            ) from None
        return name

    def save(self, commit: bool = True) -> ReverbAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("new_token"):
            account.set_token(self.cleaned_data["new_token"])
        if commit:
            account.save()
        return account


@admin.register(ReverbAccount)
class ReverbAccountAdmin(AccountBackgroundMixin, WebhookAccountAdminMixin, BaseAdmin):
    form = ReverbAccountForm
    list_display = ["name", "api_url", "currency", "enabled", "auto_sync", "auto_publish", "token_status",
                    "updated"]
    list_filter = ["enabled", "auto_sync", "currency"]
    search_fields = ["name"]
    readonly_fields = ["token_status", "created", "updated", "webhook_url"]
    actions = ["verify_connection", "rotate_webhook_secret"]
    fieldsets = [
        (None, {"fields": ["name", "api_url", "currency", "enabled", "token_status", "new_token"]}),
        ("Sync", {"fields": ["auto_sync", "auto_publish", "time_zone", "reconcile_at"]}),
        (
            "Push to Reverb",
            {
                "description": "Which local edits are sent to Reverb.",
                "fields": PUSH_FIELDS,
            },
        ),
        ("Webhooks", {"fields": ["webhook_url"]}),
        ("History", {"fields": ["created", "updated"]}),
    ]

    @admin.display(description="Token")
    def token_status(self, obj: ReverbAccount) -> str:
        return "set" if obj.has_token else "not set"

    @admin.action(description="Verify connection")
    def verify_connection(self, request: HttpRequest, queryset: QuerySet[ReverbAccount]) -> None:
        for account in queryset:
            ok, message = account.verify()
            if ok:
                self.message_user(request, f"{account.name}: connected to {message}.", messages.SUCCESS)
            else:
                self.message_user(request, f"{account.name}: {message}", messages.ERROR)


# Admins that subclass MirrorAdmin, so imported after it: SyncRun/SyncLogEntry and reconciliation reports.
from backoffice import admin_reconcile, admin_schedules, admin_sync  # noqa: E402, F401, I001
