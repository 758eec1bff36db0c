"""Back-office pages outside ModelAdmin, rendered inside the admin's look (admin.site.each_context)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_tables2 import LazyPaginator, RequestConfig

from backoffice.access import accounts_of, for_user
from backoffice.models import ReverbAccount, SyncLogEntry
from backoffice.pages.tables import SyncLogTable

SYNC_LOG_PER_PAGE = 50


def _resource_choices() -> list[tuple[str, str]]:
    from backoffice.sync import registry

    return [("", "all resources")] + [(name, name) for name in registry.resources()]


class SyncLogFilterForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=ReverbAccount.objects.only("pk", "name"), required=False, empty_label="all accounts"
    )
    resource = forms.ChoiceField(choices=_resource_choices, required=False)
    status = forms.ChoiceField(choices=[("", "all statuses"), *SyncLogEntry.Status.choices], required=False)
    run = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts_of(user).only("pk", "name")  # type: ignore[attr-defined]

    def filter(self, entries: QuerySet[SyncLogEntry]) -> QuerySet[SyncLogEntry]:
        if not self.is_valid():
            return entries.none()
        data = self.cleaned_data
        if data["account"]:
            entries = entries.filter(account=data["account"])
        if data["resource"]:
            entries = entries.filter(resource=data["resource"])
        if data["status"]:
            entries = entries.filter(status=data["status"])
        if data["run"]:
            entries = entries.filter(run_id=data["run"])
        return entries


def sync_log(request: HttpRequest) -> HttpResponse:
    """The per-item sync log, newest first; wrapped in admin.site.admin_view in urls.py (staff only)."""
    if not request.user.has_perm("backoffice.view_synclogentry"):
        raise PermissionDenied
    form = SyncLogFilterForm(request.GET or None, user=request.user)
    entries = for_user(SyncLogEntry.objects.all(), request.user).select_related("account").defer("raw")
    if form.is_bound:
        entries = form.filter(entries)
    table = SyncLogTable(entries)
    # LazyPaginator: no COUNT(*) over a log that only grows.
    paginate = {"paginator_class": LazyPaginator, "per_page": SYNC_LOG_PER_PAGE}
    RequestConfig(request, paginate=paginate).configure(table)
    context = {
        **admin.site.each_context(request),
        "title": "Sync log",
        "table": table,
        "form": form,
        "form_invalid": form.is_bound and bool(form.errors),
    }
    return render(request, "backoffice/sync_log.html", context)
