"""The admin site's branding and our ModelAdmin bases: BaseAdmin, and MirrorAdmin for every mirror."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from backoffice.access import account_ids_of, account_path, accounts_of, for_user, sees_every_account
from backoffice.admin.scale import with_range_dates
from backoffice.models import ReverbAccount

admin.site.site_header = "Reverb back office"
admin.site.site_title = "Reverb back office"
admin.site.index_title = "Dashboard"
admin.site.site_url = None  # no public site: hide "View site" (it opened a 404)
# The admin's left app list took 300 px of a 1366 px laptop from every list; the dashboard lists the apps.
admin.site.enable_nav_sidebar = False


def _shop_relation(model: Any, name: str) -> Any:
    """The relation `name` of `model` when what it points to belongs to a shop (an account, a rule, an
    endpoint), else None."""
    try:
        field = model._meta.get_field(name)
    except Exception:  # a lookup path or a method name: left as it is
        return None
    related = getattr(field, "related_model", None)
    return field if related is not None and account_path(related) is not None else None


class ShopFilter(admin.RelatedFieldListFilter):
    """The shops the user works for (one small query), not the distinct shops of the listed rows (Django's
    RelatedOnlyFieldListFilter: a walk of the whole table on every view of a big list)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(shop.pk, str(shop)) for shop in accounts_of(request.user).order_by("name")]


class AccountScoped:
    """Staff see only their shops: every changelist, object page and admin action (Django runs actions on
    get_queryset) holds the rows of the user's accounts only, and an account can only be chosen among
    them. Mixed into every admin of ours (inlines too)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return for_user(super().get_queryset(request), request.user)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        # A filter on an account lists the user's shops; on a rule, an endpoint... those of the rows the user
        # sees: never every shop's names.
        scoped = []
        for entry in super().get_list_filter(request):  # type: ignore[misc]
            field = _shop_relation(self.model, entry) if isinstance(entry, str) else None  # type: ignore[attr-defined]
            if field is None:
                scoped.append(entry)
            else:
                shop = issubclass(field.related_model, ReverbAccount)
                scoped.append((entry, ShopFilter if shop else admin.RelatedOnlyFieldListFilter))
        return scoped

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # A forged POST of an action the user is not offered is refused outright, not silently ignored.
        action = request.POST.get("action") if request.method == "POST" else None
        if action and action not in self.get_actions(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if issubclass(db_field.related_model, ReverbAccount):
            kwargs["queryset"] = accounts_of(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class KeyedChangeList(ChangeList):
    """The date hierarchy's periods from the date's MIN and MAX (scale.RangeDates), not a DISTINCT over
    every row. Django removes the duplicates that a search or filter across a to-many relation makes (a payout
    found by its line items' order numbers) with DISTINCT over every column: PostgreSQL cannot compare
    a `json` column (a mirror's PayloadField), and it is slow on wide rows anyway. Here the rows are
    the ones whose key the filtered query returned, in its order."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Any]:
        qs = super().get_queryset(request, exclude_parameters)
        if not qs.query.distinct or qs.query.distinct_fields:
            return with_range_dates(qs)
        rows = self.root_queryset.filter(pk__in=qs.order_by().values("pk"))
        if not rows.query.select_related:
            rows = self.apply_select_related(rows)
        return with_range_dates(rows.order_by(*qs.query.order_by))


class BaseAdmin(AccountScoped, admin.ModelAdmin):
    """Our ModelAdmin defaults: scoped to the user's accounts; URL fields assume https (Django 6's
    default; Reverb is HTTPS); duplicates removed by key, not DISTINCT (KeyedChangeList)."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return KeyedChangeList

    def get_list_display(self, request: HttpRequest) -> Any:
        """Without the account column for someone who sees one shop: it would say the same on every row and
        take a column a laptop needs (staff's shop ids are read once per request by the scope anyway)."""
        shown = super().get_list_display(request)
        if "account" in shown and _sees_one_shop(request):
            return [column for column in shown if column != "account"]
        return shown

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)


def _sees_one_shop(request: HttpRequest) -> bool:
    user = request.user
    if not sees_every_account(user):
        return len(account_ids_of(user)) <= 1
    if not hasattr(request, "_one_shop"):  # a superuser: the install's count, once per request
        request._one_shop = accounts_of(user)[:2].count() <= 1  # type: ignore[attr-defined]
    return request._one_shop  # type: ignore[attr-defined]


class NeverByHand:
    """Rows only the code writes: viewed, never added, changed or deleted in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NeverByHand, BaseAdmin):
    """Rows only the code writes (audit trail, reports), on their own pages."""


class ReadOnlyInline(NeverByHand, AccountScoped, admin.TabularInline):
    """Child rows only the code writes, shown inside their parent's page."""

    extra = 0
    can_delete = False
    show_change_link = False


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
