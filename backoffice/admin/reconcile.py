"""Read-only admin for reconciliation reports: a changelist (newest first, filters by account, state and
date) and a report page with the per-resource counts and a paginated django-tables2 table of findings.
Registered by the import at the end of backoffice/admin/account.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django_tables2 import RequestConfig

from backoffice.admin.base import ReadOnlyAdmin
from backoffice.models import ReconciliationFinding, ReconciliationReport
from backoffice.pages.tables import ReconciliationFindingTable
from backoffice.sync.reconcile import COUNT_NAMES

FINDINGS_PER_PAGE = 50


class FindingFilterForm(forms.Form):
    resource = forms.CharField(required=False, max_length=32)
    action = forms.ChoiceField(
        choices=[("", "all actions"), *ReconciliationFinding.Action.choices], required=False
    )


def totals(report: ReconciliationReport) -> dict[str, int]:
    return {name: sum(c.get(name, 0) for c in report.counts.values()) for name in COUNT_NAMES}


def position(report: ReconciliationReport) -> str:
    """Where a running night stands: its segment and whether it is part-way through its pages."""
    index = (report.cursor or {}).get("segment")
    if report.state != ReconciliationReport.State.RUNNING or index is None or index >= len(report.plan):
        return ""
    seg = report.plan[index]
    part = "" if seg.get("kind") in ("all", "whole") else f" ({seg['kind']})"
    where = ", part-way" if report.cursor.get("href") else ""
    return f"segment {index + 1} of {len(report.plan)}: {seg['resource']}{part}{where}"


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "account",
        "state",
        "checked",
        "repaired",
        "missing",
        "for_a_person",
        "older_checked",
        "finished_at",
        "emailed",
    ]
    list_filter = ["account", "state", "emailed"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    list_select_related = ["account"]
    show_full_result_count = False

    @admin.display(description="checked")
    def checked(self, obj: ReconciliationReport) -> int:
        return totals(obj)["checked"]

    @admin.display(description="created/updated")
    def repaired(self, obj: ReconciliationReport) -> str:
        t = totals(obj)
        return f"{t['created']} / {t['updated']}"

    @admin.display(description="marked missing")
    def missing(self, obj: ReconciliationReport) -> int:
        return totals(obj)["missing"]

    @admin.display(description="conflicts/failures")
    def for_a_person(self, obj: ReconciliationReport) -> str:
        t = totals(obj)
        return f"{t['conflicts']} / {t['failures']}"

    @admin.display(description="older history checked")
    def older_checked(self, obj: ReconciliationReport) -> str:
        return "" if obj.older_share is None else f"{100 * obj.older_share:.0f}%"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        report = self.get_queryset(request).select_related("account").filter(pk=object_id).first()
        if report is None:
            raise Http404("No such reconciliation report.")
        if not self.has_view_permission(request, report):
            raise PermissionDenied
        form = FindingFilterForm(request.GET or None)
        findings = report.findings.all()
        if form.is_valid():
            if form.cleaned_data["resource"]:
                findings = findings.filter(resource=form.cleaned_data["resource"])
            if form.cleaned_data["action"]:
                findings = findings.filter(action=form.cleaned_data["action"])
        table = ReconciliationFindingTable(findings)
        RequestConfig(request, paginate={"per_page": FINDINGS_PER_PAGE}).configure(table)
        rows = [
            (resource, [counts.get(n, 0) for n in COUNT_NAMES], counts.get("unlisted", 0))
            for resource, counts in report.counts.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": str(report),
            "opts": self.model._meta,
            "report": report,
            "count_names": COUNT_NAMES,
            "count_rows": rows,
            "totals": [totals(report)[n] for n in COUNT_NAMES],
            "table": table,
            "form": form,
            "position": position(report),
        }
        return TemplateResponse(request, "backoffice/reconciliation_report.html", context)
