"""ReverbMirrorAdmin: what every mirror's admin shares on top of MirrorAdmin (read-only, no add/delete):
grouped read-only fieldsets, the raw payload pretty-printed, a "View on Reverb" link, and the
"Re-sync from Reverb" action, a thin caller of the sync runner."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice.admin.audit import activity_table, target_of
from backoffice.admin.base import MirrorAdmin, ReadOnlyInline
from backoffice.admin.links import EMPTY, admin_link, changelist_url, format_money, pretty_json, reverb_link
from backoffice.admin.scale import EstimatedCountPaginator, ExactSearchMixin
from backoffice.models import RemoteModel, ReverbAccount

# Bookkeeping columns every mirror has; shown in their own fieldset, below the mirrored data.
SYNC_FIELDS = [
    "account",
    "reverb_id",
    "remote_created_at",
    "remote_updated_at",
    "first_synced_at",
    "last_synced_at",
    "missing",
    "missing_since",
    "payload_hash",
]


class MirrorInline(ReadOnlyInline):
    """A mirror's child rows inside its parent's page: read-only, like every mirror, each linked."""

    show_change_link = True


class ReverbMirrorAdmin(ExactSearchMixin, MirrorAdmin):
    """Subclasses set `resync_resource` (the sync registry name that pulls the model, the parent's for
    children) and may list computed cross-link methods in `link_fields` for the change view."""

    resync_resource: str = ""
    link_fields: tuple[str, ...] = ()
    actions = ["resync_from_reverb"]
    show_full_result_count = False  # mirrors can be large: skip the unfiltered COUNT(*)
    paginator = EstimatedCountPaginator  # ...and estimate the unfiltered one on PostgreSQL
    list_per_page = 50

    # -- change view -------------------------------------------------------------------------------
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        computed = ["view_on_reverb", *self.link_fields, "raw_payload", "activity"]
        return [*super().get_readonly_fields(request, obj), *computed]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[str | None, dict[str, Any]]]:
        sets = self._fieldsets(request, obj)
        if obj is not None and target_of(obj) is not None:
            # Its own activity: what staff sent to Reverb about this object, newest first, with who.
            sets.insert(
                -1 if sets and "raw_payload" in sets[-1][1]["fields"] else len(sets),
                ("Activity (changes sent to Reverb)", {"fields": ["activity"]}),
            )
        return sets

    @admin.display(description="Activity")
    def activity(self, obj: RemoteModel) -> SafeString | str:
        return activity_table(obj)

    def _fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[str | None, dict[str, Any]]]:
        if self.fieldsets:
            return list(self.fieldsets)
        data = [
            f.name
            for f in self.model._meta.get_fields()
            if f.concrete and not f.auto_created and f.name not in SYNC_FIELDS and f.name != "raw"
        ]
        return [
            (None, {"fields": data}),
            ("Links", {"fields": ["view_on_reverb", *self.link_fields]}),
            ("Sync", {"fields": SYNC_FIELDS}),
            ("Raw payload (last pulled from Reverb)", {"fields": ["raw_payload"], "classes": ["collapse"]}),
        ]

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        # Nothing editable (the usual case): no Save buttons that would only rewrite the same row.
        if not context["adminform"].form.fields:
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="Raw payload")
    def raw_payload(self, obj: RemoteModel) -> SafeString:
        return pretty_json(obj.raw)

    def reverb_url(self, obj: RemoteModel) -> str:
        """The object's page on reverb.com: a promoted `web_url`, else the payload's `_links.web`."""
        return getattr(obj, "web_url", "") or obj.link("web")

    @admin.display(description="Reverb")
    def view_on_reverb(self, obj: RemoteModel) -> SafeString | str:
        return reverb_link(self.reverb_url(obj)) if obj else EMPTY

    # -- re-sync action ----------------------------------------------------------------------------
    def has_resync_permission(self, request: HttpRequest) -> bool:
        # A pull only refreshes the local copy, so whoever may change the mirror may refresh it. A
        # dedicated "resync" permission can replace this later without touching the action.
        return self.has_change_permission(request)

    @admin.action(description="Re-sync from Reverb", permissions=["resync"])
    def resync_from_reverb(self, request: HttpRequest, queryset: QuerySet[RemoteModel]) -> None:
        # The runner has no single-object re-read yet, so this runs the resource's normal (incremental
        # where supported) sync once per account of the selection and reports each SyncRun.
        from backoffice.sync.runner import sync_resource

        account_ids = queryset.order_by().values_list("account_id", flat=True).distinct()
        for account in ReverbAccount.objects.filter(pk__in=list(account_ids)):
            try:
                run = sync_resource(account, self.resync_resource)
            except Exception as exc:  # disabled account, unknown resource, bad token...: say so, go on
                self.message_user(
                    request, f"{account.name}: {self.resync_resource} not synced: {exc}", messages.ERROR
                )
                continue
            level = (
                messages.SUCCESS
                if run.status == run.Status.SUCCESS
                else (messages.WARNING if run.ok else messages.ERROR)
            )
            scope = (
                "full scan" if run.full or run.since is None else f"changes since {run.since:%Y-%m-%d %H:%M}"
            )
            text = f"Re-synced the whole resource ({scope}; single items are not re-read on their own yet): "
            self.message_user(request, text + run.summary() + (f" {run.error}" if run.error else ""), level)


def money_column(amount_field: str, description: str, currency_field: str = "currency") -> Any:
    """A list_display/readonly callable showing an amount with its currency, sortable by the amount."""

    @admin.display(description=description, ordering=amount_field)
    def column(obj: Any) -> str:
        return format_money(getattr(obj, amount_field), getattr(obj, currency_field))

    column.__name__ = f"{amount_field}_money"
    return column


def deadline_column(field: str, description: str) -> Any:
    """A column showing a moment in the row's shop time ("Mon 14 Dec, 17:00 (shop time)"), sortable by
    it; list "account" in list_select_related."""
    from backoffice.templatetags.shop_time import shop_time

    @admin.display(description=description, ordering=field)
    def column(obj: Any) -> str:
        return shop_time(getattr(obj, field), obj.account) or EMPTY

    column.__name__ = f"{field}_shop_time"
    return column


def link_column(fk_field: str, description: str) -> Any:
    """A column linking to the related mirror's change page; list `fk_field` in list_select_related."""

    @admin.display(description=description, ordering=fk_field)
    def column(obj: Any) -> SafeString | str:
        return admin_link(getattr(obj, fk_field))

    column.__name__ = f"{fk_field}_link"
    return column


def related_changelist_link(model: type[Any], fk: str, obj: Any, label: str) -> SafeString | str:
    """'3 orders' linking to `model`'s changelist filtered to rows whose `fk` is `obj` (one COUNT query)."""
    if obj is None or obj.pk is None:
        return EMPTY
    count = model._default_manager.filter(**{fk: obj.pk}).count()
    url = changelist_url(model, **{f"{fk}__id__exact": obj.pk})
    return format_html('<a href="{}">{} {}</a>', url, count, label)
