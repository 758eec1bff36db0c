"""Bulk jobs in the admin: the changelist, the job page (progress bar polled from progress.json, counts,
per-item results, Cancel). The account's "Mass sync" action and its API usage are in
backoffice/admin/account.py.

Who may do what, with Django's default permissions (no model change needed):
- view_bulkjob: sees every job and its items;
- change_bulkjob (Managers): cancels any job; anyone who sees jobs may cancel the jobs they started;
- add_bulkjob: starts a mass sync from the account admin.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from backoffice import confirm
from backoffice.admin.base import BaseAdmin
from backoffice.background.jobs import job_url, request_cancel
from backoffice.models import BulkJob, BulkJobItem

ITEMS_PER_PAGE = 100


def can_cancel(user: Any, job: BulkJob) -> bool:
    if not job.is_active or job.cancel_requested:
        return False
    if user.has_perm("backoffice.change_bulkjob"):
        return True
    return (
        job.started_by_id is not None
        and job.started_by_id == user.pk
        and user.has_perm("backoffice.view_bulkjob")
    )


def item_row(item: BulkJobItem) -> dict[str, Any]:
    url = item.result.get("url") if isinstance(item.result, dict) else None
    return {
        "position": item.position + 1,
        "key": item.key,
        "label": item.label,
        "state": item.state,
        "state_label": item.get_state_display(),
        "message": item.message,
        "attempts": item.attempts,
        # Only our own pages: a handler's result could hold anything.
        "url": url if isinstance(url, str) and url.startswith("/") and not url.startswith("//") else "",
    }


def job_status(job: BulkJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "title": job.title,
        "state": job.state,
        "state_label": job.get_state_display(),
        "is_active": job.is_active,
        "cancel_requested": job.cancel_requested,
        "percent": job.percent,
        "total": job.total,
        "processed": job.processed,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "skipped": job.skipped,
        "error": job.error,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


@admin.register(BulkJob)
class BulkJobAdmin(BaseAdmin):
    list_display = [
        "title",
        "kind",
        "account",
        "state",
        "progress",
        "counts",
        "started_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", "kind", "account"]
    list_select_related = ["account", "started_by"]
    search_fields = ["title", "kind", "started_by__username"]
    ordering = ["-created_at"]
    list_per_page = 50

    # Jobs are started by actions (mass sync, bulk ship, ...), never typed in; their page is read-only.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BulkJob | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_active)

    @admin.display(description="Progress")
    def progress(self, job: BulkJob) -> str:
        return format_html(
            '<progress max="100" value="{}" title="{}%"></progress> {}%',
            job.percent,
            job.percent,
            job.percent,
        )

    @admin.display(description="Succeeded / failed / skipped of total")
    def counts(self, job: BulkJob) -> str:
        return f"{job.succeeded} / {job.failed} / {job.skipped} of {job.total}"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/progress.json", view(self.progress_view), name="backoffice_bulkjob_progress"
            ),
            path("<int:object_id>/cancel/", view(self.cancel_view), name="backoffice_bulkjob_cancel"),
            *super().get_urls(),
        ]

    def _job(self, request: HttpRequest, object_id: Any) -> BulkJob:
        job = get_object_or_404(
            self.get_queryset(request).select_related("account", "started_by"), pk=object_id
        )
        if not self.has_view_or_change_permission(request, job):
            raise PermissionDenied
        return job

    def _items(self, request: HttpRequest, job: BulkJob) -> Any:
        items = BulkJobItem.objects.filter(job=job).order_by("position")
        return Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("p"))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """The job page (replaces the model form: a job is a record, not something to edit)."""
        job = self._job(request, object_id)
        page = self._items(request, job)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": job.title,
            "subtitle": None,
            "job": job,
            "status": job_status(job),
            "items_page": page,
            "rows": [item_row(item) for item in page.object_list],
            "can_cancel": can_cancel(request.user, job),
            "progress_url": reverse("admin:backoffice_bulkjob_progress", args=[job.pk]),
            "cancel_url": reverse("admin:backoffice_bulkjob_cancel", args=[job.pk]),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "backoffice/job_detail.html", context)

    def progress_view(self, request: HttpRequest, object_id: int) -> JsonResponse:
        """Counts, state and the current page of items, for the job page's poller (3 queries)."""
        job = self._job(request, object_id)
        page = self._items(request, job)
        data = job_status(job)
        data["can_cancel"] = can_cancel(request.user, job)
        data["items"] = [item_row(item) for item in page.object_list]
        return JsonResponse(data, headers={"Cache-Control": "no-store"})

    @staticmethod
    def _cancel_response(request: HttpRequest, job: BulkJob) -> HttpResponse:
        return HttpResponseRedirect(job_url(job))

    def cancel_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return require_POST(self._cancel)(request, object_id)

    def _cancel(self, request: HttpRequest, object_id: int) -> HttpResponse:
        job = self._job(request, object_id)
        if not job.is_active:
            self.message_user(request, "This job has already finished.", messages.WARNING)
        elif not can_cancel(request.user, job):
            raise PermissionDenied
        elif not confirm.given(request):
            return confirm.page(
                request,
                "Cancel this job?",
                [
                    ("Job", str(job.title or job)),
                    ("Then", "The item in progress finishes; the items not sent yet are cancelled."),
                ],
                button="Yes, cancel the job",
                cancel=job_url(job),
                opts=BulkJob._meta,
            )
        elif request_cancel(job):
            self.log_change(request, job, "Cancel requested.")
            self.message_user(
                request,
                "Cancel requested: the item being worked on finishes, the rest are not sent.",
                messages.SUCCESS,
            )
        return self._cancel_response(request, job)
