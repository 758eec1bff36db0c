"""The Reverb account admin, whole: the account form (write-only token), "Verify connection", the webhook
URL and "Rotate webhook secret", the "Mass sync (full)" action, and API requests / 429s in the last hour."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from backoffice import confirm
from backoffice.admin.base import BaseAdmin
from backoffice.admin.links import changelist_url
from backoffice.background import ratebudget, webhooks
from backoffice.background.jobs import JobAlreadyRunning, job_url
from backoffice.background.mass_sync import KIND as MASS_SYNC
from backoffice.background.mass_sync import start_mass_sync
from backoffice.background.queue import enqueue
from backoffice.models import API_URL_HELP, BulkJob, ReverbAccount, WebhookDelivery
from backoffice.sync.doctor import start_doctor
from backoffice.sync.runner import AccountDisabled

SCOPES_TASK = "backoffice.background.tasks.check_scopes_task"

PUSH_FIELDS = [
    "push_title",
    "push_description",
    "push_price",
    "push_inventory",
    "push_condition",
    "push_photos",
    "push_shipping",
    "push_make_model",
    "push_categories",
]


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
        fields = [
            "name",
            "api_url",
            "currency",
            "enabled",
            "auto_sync",
            "auto_publish",
            "time_zone",
            "reconcile_at",
            *PUSH_FIELDS,
        ]

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
class ReverbAccountAdmin(BaseAdmin):
    form = ReverbAccountForm
    list_display = [
        "name",
        "api_url",
        "currency",
        "enabled",
        "auto_sync",
        "auto_publish",
        "token_status",
        "updated",
        "api_last_hour",
    ]
    list_filter = ["enabled", "auto_sync", "currency"]
    filter_horizontal = ["members"]
    search_fields = ["name"]
    readonly_fields = [
        "token_status",
        "token_scopes",
        "created",
        "updated",
        "webhook_url",
        "api_last_hour",
        "mass_sync_job",
    ]
    actions = ["verify_connection", "rotate_webhook_secret", "mass_sync", "run_doctor"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "api_url",
                    "currency",
                    "enabled",
                    "token_status",
                    "token_scopes",
                    "new_token",
                ]
            },
        ),
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

    @admin.display(description="Token scopes")
    def token_scopes(self, obj: ReverbAccount) -> SafeString | str:
        found = obj.scopes_found or {}
        if not found:
            return "not checked yet (Verify connection checks them)"
        lines = format_html_join("", "<li>{}</li>", ((line,) for line in found.get("lines", [])))
        return format_html(
            "<p>{} <span class='help'>(checked {})</span></p><ul class='token-scopes'>{}</ul>",
            found.get("summary", ""),
            found.get("checked_at", "")[:16].replace("T", " "),
            lines,
        )

    def _check_scopes_soon(self, request: HttpRequest, account: ReverbAccount) -> None:
        """The scope check costs a dozen requests at Reverb's pace: a worker does it, the page shows it."""
        enqueue(SCOPES_TASK, account.pk, task_name=f"check scopes of {account.name}")
        self.message_user(
            request,
            f"{account.name}: checking the token's scopes in the background; the account page shows which "
            "features the token allows in a minute.",
            messages.INFO,
        )

    def save_model(self, request: HttpRequest, obj: ReverbAccount, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change and obj.enabled and obj.has_token:  # a new account: read its currency from the shop
            ok, message = obj.verify()
            level = messages.SUCCESS if ok else messages.WARNING
            self.message_user(request, f"{obj.name}: {'connected to ' if ok else ''}{message}", level)
            if ok:
                self._check_scopes_soon(request, obj)

    # Verifying sends the stored token to the account's URL: account management, as the README says.
    @admin.action(description="Verify connection", permissions=["change"])
    def verify_connection(self, request: HttpRequest, queryset: QuerySet[ReverbAccount]) -> None:
        for account in queryset:
            ok, message = account.verify()
            if ok:
                self.message_user(request, f"{account.name}: connected to {message}.", messages.SUCCESS)
                self._check_scopes_soon(request, account)
            else:
                self.message_user(request, f"{account.name}: {message}", messages.ERROR)

    # ---- webhooks: the account's URL and rotating its secret ----

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
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
    ) -> HttpResponse | None:
        if confirm.given(request):
            for account in queryset:
                webhooks.rotate_secret(account)
                self.message_user(
                    request,
                    f"{account.name}: new webhook secret; the old URL now answers 404. Register the new "
                    f"URL with Reverb (reverb_account webhooks {account.name} --register --base-url ...).",
                    messages.WARNING,
                )
            return None
        accounts = list(queryset)
        return confirm.page(
            request,
            "Rotate webhook secret?",
            [
                ("New secret and webhook URL for", ", ".join(a.name for a in accounts)),
                (
                    "Meanwhile",
                    "The current URL stops working at once (it answers 404), so Reverb's deliveries are "
                    "refused until the new URL is registered: run manage.py reverb_account webhooks NAME "
                    "--register --base-url https://your.public.host afterwards. Polling keeps the mirror "
                    "up to date.",
                ),
            ],
            button="Yes, rotate",
            cancel=request.get_full_path(),
            hidden=[
                ("action", "rotate_webhook_secret"),
                *((helpers.ACTION_CHECKBOX_NAME, a.pk) for a in accounts),
            ],
            opts=ReverbAccount._meta,
        )

    # ---- background: API usage in the last hour and the mass sync ----

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return ratebudget.with_usage_last_hour(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if not self.has_change_permission(request, obj):
            # The webhook URL is its only secret: Managers (who may change the account) see it, no one else.
            fieldsets = [fs for fs in fieldsets if "webhook_url" not in fs[1]["fields"]]
        if obj is not None:
            fieldsets.append(("Background", {"fields": ["api_last_hour", "mass_sync_job"]}))
        if request.user.is_superuser:  # who works for which shop is the superusers' to say
            fieldsets.append(("Staff", {"fields": ["members"]}))
        return fieldsets

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser:
            form.instance.members.add(request.user)  # whoever adds a shop works for it

    @admin.display(description="API requests / 429s (last hour), current pause")
    def api_last_hour(self, account: ReverbAccount) -> str:
        requests = getattr(account, "requests_last_hour", None)
        throttled = getattr(account, "throttled_last_hour", None)
        if requests is None or throttled is None:
            requests, throttled = ratebudget.usage_last_hour(account)
        return f"{requests} / {throttled}{ratebudget.pause_note(account)}"

    @admin.display(description="Mass sync")
    def mass_sync_job(self, account: ReverbAccount) -> str:
        job = BulkJob.objects.filter(kind=MASS_SYNC, account=account).order_by("-created_at").first()
        if job is None:
            return "never run"
        return format_html('<a href="{}">{}</a> ({}%)', job_url(job), job, job.percent)

    def has_mass_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backoffice.add_bulkjob")

    @admin.action(description="Mass sync (full)", permissions=["mass_sync"])
    def mass_sync(self, request: HttpRequest, queryset: QuerySet[ReverbAccount]) -> HttpResponse | None:
        started: list[BulkJob] = []
        for account in queryset:
            try:
                job = start_mass_sync(account, user=request.user)
            except JobAlreadyRunning as exc:
                self.message_user(
                    request,
                    format_html(
                        '{}: a mass sync is already running; <a href="{}">see the running job</a>.',
                        account.name,
                        job_url(exc.job),
                    ),
                    messages.ERROR,
                )
                continue
            except AccountDisabled as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            started.append(job)
            self.message_user(
                request,
                format_html('{}: <a href="{}">mass sync started</a>.', account.name, job_url(job)),
                messages.SUCCESS,
            )
        return _open_the_one(started)

    @admin.action(description="Compare with Reverb (doctor, read-only)", permissions=["change"])
    def run_doctor(self, request: HttpRequest, queryset: QuerySet[ReverbAccount]) -> HttpResponse | None:
        started: list[BulkJob] = []
        for account in queryset:
            try:
                job = start_doctor(account, user=request.user)
            except JobAlreadyRunning as exc:
                job = exc.job
            started.append(job)
            self.message_user(
                request,
                format_html('{}: <a href="{}">doctor started</a>.', account.name, job_url(job)),
                messages.SUCCESS,
            )
        return _open_the_one(started)


def _open_the_one(started: list[BulkJob]) -> HttpResponse | None:
    """After starting jobs from an action: one job opens its live page; several stay on the changelist."""
    return HttpResponseRedirect(job_url(started[0])) if len(started) == 1 else None
