"""Small helpers for the action pages of orders, refunds and messaging (admin look, permission checks).
Their confirmation step is backoffice/confirm.py."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def require(request: HttpRequest, perm: str) -> None:
    """403 unless the user has the permission (a forged POST by a role without it gets 403 too)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied


def page(request: HttpRequest, template: str, title: str, opts: Any = None, **context: Any) -> HttpResponse:
    ctx = {**admin.site.each_context(request), "title": title, "opts": opts, **context}
    return render(request, template, ctx)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: the admin's frame, what happened, and a way back (the page before, else the dashboard)."""
    back = request.META.get("HTTP_REFERER", "")
    if (
        not back
        or back == request.build_absolute_uri()
        or not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        back = reverse("admin:index")
    ctx = {**admin.site.each_context(request), "title": "Not allowed", "back": back}
    return render(request, "403.html", ctx, status=403)
