"""The admin site's branding and our ModelAdmin bases: BaseAdmin, and MirrorAdmin for every mirror."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

admin.site.site_header = "Reverb back office"
admin.site.site_title = "Reverb back office"
admin.site.index_title = "Dashboard"
admin.site.site_url = None  # no public site: hide "View site" (it opened a 404)


class BaseAdmin(admin.ModelAdmin):
    """Our ModelAdmin defaults: URL fields assume https (Django 6's default; Reverb is HTTPS)."""

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ReadOnlyAdmin(BaseAdmin):
    """Rows only the code writes (audit trail, reports): viewed, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
