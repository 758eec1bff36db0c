"""Admin of the inventory app: integrations (keys shown once, revocable, recent calls and errors), the
stock queue (how many wait, the oldest, when it will be empty at the account's budget), the stock rows of
the sync log (filterable, with retry), CSV feeds (upload or URL), event endpoints and their deliveries."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html

from backoffice.access import accounts_of, for_user
from backoffice.admin.base import BaseAdmin, ReadOnlyAdmin, ReadOnlyInline
from backoffice.background.queue import enqueue
from listings.models import Listing

from . import events, feeds, services
from .models import (
    AccountStockBuffer,
    EventDelivery,
    EventEndpoint,
    Integration,
    IntegrationCall,
    ListingStockBuffer,
    StockFeed,
    StockIntent,
    StockSyncEntry,
)


class IntegrationCallInline(ReadOnlyInline):
    model = IntegrationCall
    fields = ["created_at", "method", "path", "status_code", "rows", "accepted", "refused", "error"]
    readonly_fields = fields
    verbose_name_plural = "Recent calls (newest first)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[IntegrationCall]:
        return super().get_queryset(request).order_by("-created_at", "-id")


@admin.register(Integration)
class IntegrationAdmin(BaseAdmin):
    list_display = ["name", "account", "key_id", "active", "created_at", "last_used_at", "recent_errors"]
    list_filter = ["account", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=key_id"]
    fields = ["name", "account", "key_id", "created_at", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["key_id", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke", "new_keys"]
    inlines = [IntegrationCallInline]

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    @admin.display(boolean=True)
    def active(self, obj: Integration) -> bool:
        return obj.active

    @admin.display(description="errors (24 h)")
    def recent_errors(self, obj: Integration) -> int:
        since = timezone.now() - timezone.timedelta(hours=24)
        return obj.calls.filter(created_at__gte=since).exclude(error="").count()

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        if not change:
            key = obj.new_key()
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            self._show_key(request, obj, key)
            return
        super().save_model(request, obj, form, change)

    @staticmethod
    def _show_key(request: HttpRequest, obj: Integration, key: str) -> None:
        messages.warning(
            request,
            format_html(
                "API key of {}: <code>{}</code> (shown this once; only its hash is kept). "
                "Send it as <code>Authorization: Bearer &lt;key&gt;</code>.",
                obj.name,
                key,
            ),
        )

    @admin.action(description="Revoke the selected integrations' keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {n} key(s): they are refused from now on.")

    @admin.action(description="Give the selected integrations new keys (the old ones stop working)")
    def new_keys(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for obj in queryset:
            key = obj.new_key()
            obj.revoked_at = None
            obj.save(update_fields=["key_id", "key_hash", "revoked_at"])
            self._show_key(request, obj, key)


@admin.register(StockIntent)
class StockIntentAdmin(ReadOnlyAdmin):
    """The stock queue: every listing's desired quantity, queued ones first (zeros at the front)."""

    list_display = [
        "sku",
        "listing_link",
        "quantity",
        "buffer_held",
        "status",
        "priority",
        "source",
        "source_detail",
        "queued_at",
        "attempts",
        "sent_quantity",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "source", "account"]
    search_fields = ["sku", "=listing__reverb_id"]
    list_select_related = ["listing"]
    ordering = ["status", "priority", "queued_at", "id"]
    show_full_result_count = False
    actions = ["send_now"]
    readonly_fields = [f.name for f in StockIntent._meta.fields]
    change_list_template = "admin/inventory/stockintent/change_list.html"

    @admin.display(description="stock buffer")
    def buffer_held(self, obj: StockIntent) -> str:
        """ "5 reported, 1 held back": why Reverb gets less than the shop said."""
        if obj.reported is None or obj.reported == obj.quantity:
            return "-"
        return f"{obj.reported} reported, {obj.reported - obj.quantity} held back"

    @admin.display(description="listing")
    def listing_link(self, obj: StockIntent) -> str:
        url = obj.listing.web_url
        return (
            format_html('<a href="{}">{}</a>', url, obj.listing.reverb_id) if url else obj.listing.reverb_id
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        accounts = accounts_of(request.user).filter(enabled=True)
        queues = [(account, services.queue_state(account)) for account in accounts]
        extra = {"queues": [(a, q) for a, q in queues if q.waiting] or None, **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.action(description="Send the selected again now (failed ones included)", permissions=["send"])
    def send_now(self, request: HttpRequest, queryset: QuerySet[StockIntent]) -> None:
        n = services.retry(queryset)
        for account_id in set(queryset.values_list("account_id", flat=True)):
            services.request_drain(account_id)
        self.message_user(request, f"{n} change(s) queued; the queue is being sent.")

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("inventory.send_stock")


@admin.register(StockSyncEntry)
class StockSyncEntryAdmin(ReadOnlyAdmin):
    """One row per item sync, in (a quantity received) and out (a quantity sent): newest first."""

    list_display = [
        "created_at",
        "direction",
        "status",
        "sku",
        "item",
        "source",
        "quantities",
        "message",
        "errors",
        "account",
    ]
    list_filter = ["status", "resource", "account", "created_at"]
    search_fields = ["sku", "=reverb_id"]
    search_help_text = "SKU, or the exact Reverb listing id."
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    show_full_result_count = False
    list_select_related = ["account"]
    actions = ["retry_failed"]
    fields = [
        "created_at",
        "account",
        "resource",
        "status",
        "reverb_id",
        "sku",
        "web_url",
        "message",
        "field_errors",
        "raw",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockSyncEntry]:
        return super().get_queryset(request).filter(resource__in=[services.IN, services.OUT])

    @admin.display(description="in/out", ordering="resource")
    def direction(self, obj: StockSyncEntry) -> str:
        return "in" if obj.resource == services.IN else "out"

    @admin.display(description="listing", ordering="reverb_id")
    def item(self, obj: StockSyncEntry) -> str:
        if not obj.reverb_id:
            return "-"
        if obj.web_url:
            return format_html(
                '<a href="{}" target="_blank" rel="noopener">{}</a>', obj.web_url, obj.reverb_id
            )
        return obj.reverb_id

    @admin.display(description="per-field errors")
    def errors(self, obj: StockSyncEntry) -> str:
        return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in (obj.field_errors or {}).items()) or "-"

    @admin.action(description="Retry the selected failed rows", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[StockSyncEntry]) -> None:
        failed = queryset.filter(status="failed").exclude(reverb_id="")
        keys = set(failed.values_list("account_id", "reverb_id"))
        intents = [
            i
            for i in StockIntent.objects.select_related("listing").filter(
                account_id__in={a for a, _ in keys}, listing__reverb_id__in={r for _, r in keys}
            )
            if (i.account_id, i.listing.reverb_id) in keys
        ]
        n = services.retry(intents)
        for account_id in {i.account_id for i in intents}:
            services.request_drain(account_id)
        self.message_user(request, f"{n} listing(s) queued again (rows without a listing cannot be retried).")

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("inventory.send_stock")


class StockFeedForm(forms.ModelForm):
    url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        help_text="http(s) URL fetched on the schedule; empty: uploads only.",
    )
    upload = forms.FileField(required=False, help_text="A CSV of sku,quantity rows, applied when you save.")

    class Meta:
        model = StockFeed
        fields = ["name", "account", "url", "minutes", "enabled"]


@admin.register(StockFeed)
class StockFeedAdmin(BaseAdmin):
    form = StockFeedForm
    list_display = [
        "name",
        "account",
        "url",
        "minutes",
        "enabled",
        "last_run_at",
        "last_status",
        "last_error",
    ]
    list_filter = ["account", "enabled", "last_status"]
    readonly_fields = ["last_run_at", "last_status", "last_error", "last_report"]
    actions = ["fetch_now"]

    def save_model(self, request: HttpRequest, obj: StockFeed, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        upload = form.cleaned_data.get("upload")
        if upload is None:
            return
        limit = int(feeds.settings.INVENTORY_FEED_MAX_BYTES)
        if upload.size > limit:
            messages.error(request, f"The file is {upload.size} bytes; the limit is {limit}.")
            return
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            messages.error(request, "The file is not UTF-8 text.")
            return
        report = feeds.run(obj, text, detail=f"{obj.name}: upload {upload.name}")
        self._report(request, obj, report)

    def _report(self, request: HttpRequest, feed: StockFeed, report: feeds.FeedReport | None) -> None:
        if report is None:
            messages.error(request, f"{feed}: {feed.last_error}")
        elif report.bad:
            messages.warning(request, f"{feed}: {report.summary()}")
        else:
            messages.success(request, f"{feed}: {report.summary()}")

    @admin.action(description="Fetch the selected feeds now")
    def fetch_now(self, request: HttpRequest, queryset: QuerySet[StockFeed]) -> None:
        for feed in queryset:
            self._report(request, feed, feeds.run(feed))


class EventDeliveryInline(ReadOnlyInline):
    model = EventDelivery
    fields = ["created_at", "event", "status", "attempts", "last_status_code", "last_error", "delivered_at"]
    readonly_fields = fields
    verbose_name_plural = "Recent deliveries"

    def get_queryset(self, request: HttpRequest) -> QuerySet[EventDelivery]:
        return super().get_queryset(request).order_by("-created_at", "-id")


class EventEndpointForm(forms.ModelForm):
    url = forms.URLField(assume_scheme="https", max_length=500)
    events = forms.MultipleChoiceField(
        choices=EventEndpoint.Event.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )

    class Meta:
        model = EventEndpoint
        fields = ["name", "url", "account", "events", "enabled"]


@admin.register(EventEndpoint)
class EventEndpointAdmin(BaseAdmin):
    form = EventEndpointForm
    list_display = [
        "name",
        "url",
        "account",
        "state",
        "down_since",
        "consecutive_failures",
        "down_reason",
    ]
    list_filter = ["enabled", ("down_since", admin.EmptyFieldListFilter), "account"]
    readonly_fields = [
        "consecutive_failures",
        "down_since",
        "down_reason",
        "disabled_at",
        "disabled_reason",
        "created_at",
    ]
    actions = ["enable", "probe_now", "new_secrets"]
    inlines = [EventDeliveryInline]

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    @admin.display(description="State")
    def state(self, obj: EventEndpoint) -> str:
        if not obj.enabled:
            return "Disabled (by a person)"
        return "Down: probing by itself" if obj.down_since else "Up"

    def save_model(self, request: HttpRequest, obj: EventEndpoint, form: Any, change: bool) -> None:
        secret = obj.new_secret() if not change else None
        if change and "enabled" in form.changed_data:
            # A person's switch, distinct from the back office's own half-open state (down_since).
            obj.disabled_at = None if obj.enabled else timezone.now()
            obj.disabled_reason = "" if obj.enabled else f"Disabled by {request.user}."
        super().save_model(request, obj, form, change)
        if secret:
            self._show_secret(request, obj, secret)

    @staticmethod
    def _show_secret(request: HttpRequest, obj: EventEndpoint, secret: str) -> None:
        messages.warning(
            request,
            format_html(
                "Signing secret of {}: <code>{}</code>. The receiver checks "
                "<code>X-Backoffice-Signature</code> = sha256=HMAC-SHA256(secret, "
                "&quot;&lt;X-Backoffice-Timestamp&gt;.&lt;body&gt;&quot;).",
                obj.name,
                secret,
            ),
        )

    @admin.action(description="Enable the selected endpoints again")
    def enable(self, request: HttpRequest, queryset: QuerySet[EventEndpoint]) -> None:
        n = queryset.update(enabled=True, disabled_at=None, disabled_reason="")
        enqueue("inventory.tasks.deliver_due")
        self.message_user(request, f"Enabled {n} endpoint(s).")

    @admin.action(description="Try the selected endpoints now (their oldest waiting delivery)")
    def probe_now(self, request: HttpRequest, queryset: QuerySet[EventEndpoint]) -> None:
        n = EventDelivery.objects.filter(
            endpoint__in=queryset, status=EventDelivery.Status.PENDING, next_try_at__isnull=False
        ).update(next_try_at=timezone.now())
        enqueue("inventory.tasks.deliver_due")
        self.message_user(request, f"{n} waiting delivery(ies) will be tried within a minute.")

    @admin.action(description="Give the selected endpoints new signing secrets")
    def new_secrets(self, request: HttpRequest, queryset: QuerySet[EventEndpoint]) -> None:
        for obj in queryset:
            secret = obj.new_secret()
            obj.save(update_fields=["secret_encrypted"])
            self._show_secret(request, obj, secret)


@admin.register(EventDelivery)
class EventDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_try_at",
        "delivered_at",
    ]
    list_filter = ["status", "event", "endpoint"]
    search_fields = ["=event_id"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    list_select_related = ["endpoint"]
    readonly_fields = [f.name for f in EventDelivery._meta.fields]
    actions = ["replay"]

    @admin.action(description="Replay the selected deliveries (a new delivery of the same event)")
    def replay(self, request: HttpRequest, queryset: QuerySet[EventDelivery]) -> None:
        made = [events.replay(d) for d in queryset.select_related("endpoint")]
        enqueue("inventory.tasks.deliver_due")
        self.message_user(request, f"{len(made)} delivery(ies) queued again.")


@admin.register(AccountStockBuffer)
class AccountStockBufferAdmin(BaseAdmin):
    """Each account's stock buffer: what of the reported quantities its listings hold back from Reverb."""

    list_display = ["account", "hold_back", "publish_at_most"]
    fields = ["account", "hold_back", "publish_at_most"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["account"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: AccountStockBuffer, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _reapply(request, obj.account)

    def delete_model(self, request: HttpRequest, obj: AccountStockBuffer) -> None:
        account = obj.account  # (its key is the account's: gone from obj once deleted)
        super().delete_model(request, obj)
        _reapply(request, account)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccountStockBuffer]) -> None:
        accounts = [b.account for b in queryset.select_related("account")]
        super().delete_queryset(request, queryset)
        for account in accounts:
            _reapply(request, account)


def _reapply(request: HttpRequest, account: Any, listing_ids: list[int] | None = None) -> None:
    """A buffer changed: the quantities already reported get their Reverb quantity again, now."""
    n = services.apply_buffer(account, listing_ids, detail=f"stock buffer changed by {request.user}"[:200])
    if n:
        services.request_drain(account.pk)
        messages.info(request, f"{n} listing(s) of {account} get a new quantity on Reverb; being sent.")


class ListingStockBufferForm(forms.ModelForm):
    class Meta:
        model = ListingStockBuffer
        fields = ["listing", "hold_back", "publish_at_most"]
        help_texts = {
            "hold_back": "Units kept off Reverb; empty: the account's.",
            "publish_at_most": "Reverb never gets more than this; empty: the account's.",
        }


@admin.register(ListingStockBuffer)
class ListingStockBufferAdmin(BaseAdmin):
    """A listing's own stock buffer: each field set beats the account's (its listing page shows the
    result and links here)."""

    form = ListingStockBufferForm
    list_display = ["listing", "hold_back", "publish_at_most"]
    search_fields = ["listing__sku", "=listing__reverb_id"]
    raw_id_fields = ["listing"]  # (a pick list of every listing would be huge)
    list_select_related = ["listing"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["listing"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: ListingStockBuffer, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _reapply(request, obj.listing.account, [obj.listing_id])

    def delete_model(self, request: HttpRequest, obj: ListingStockBuffer) -> None:
        listing = obj.listing  # (its key is the listing's: gone from obj once deleted)
        super().delete_model(request, obj)
        _reapply(request, listing.account, [listing.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ListingStockBuffer]) -> None:
        listings = [b.listing for b in queryset.select_related("listing__account")]
        super().delete_queryset(request, queryset)
        for listing in listings:
            _reapply(request, listing.account, [listing.pk])

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "listing":  # only the user's shops' listings can be chosen (a forged id too)
            kwargs["queryset"] = for_user(Listing.objects.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
