"""django-q2's Schedule admin, locked down: a schedule names code for the workers to run, so only
superusers add, change or delete schedules, and only with functions the task guard allows
(backoffice/background/taskguard.py). Everyone who may see schedules (Managers) can run ours now."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q.admin import ScheduleAdmin as QScheduleAdmin
from django_q.models import Schedule

from backoffice.background import schedules, taskguard
from backoffice.background.queue import enqueue


class ScheduleForm(forms.ModelForm):
    """The admin builds the fields (ModelAdmin.get_form); this adds the allow-list to two of them."""

    def clean_func(self) -> str:
        func = self.cleaned_data.get("func") or ""
        taskguard.validate_func(func)
        return func

    def clean_hook(self) -> str | None:
        hook = self.cleaned_data.get("hook")
        taskguard.validate_func(hook)
        return hook


class ScheduleAdmin(QScheduleAdmin):
    form = ScheduleForm
    actions = ["run_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    @admin.action(description="Run selected schedules now (the back office's own)", permissions=["view"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        """Queue a task now for each selected schedule that `setup_schedules` defines, exactly as
        defined there (not as the row says: a row may have been edited)."""
        specs = {spec.full_name: spec for spec in schedules.SCHEDULES}
        ran, skipped = [], []
        for row in queryset:
            spec = specs.get(row.name)
            if spec is None or not taskguard.is_allowed(spec.func):
                skipped.append(row.name or str(row.pk))
                continue
            enqueue(spec.func, **spec.kwargs)
            ran.append(row.name)
        if ran:
            messages.success(request, f"Queued now: {', '.join(ran)}.")
        if skipped:
            messages.warning(
                request,
                f"Not run (not one of the back office's schedules): {', '.join(skipped)}.",
            )


admin.site.unregister(Schedule)
admin.site.register(Schedule, ScheduleAdmin)
