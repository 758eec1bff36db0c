"""Small helpers for the action pages of orders, refunds and messaging (admin look, permission checks)."""

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


def posted(request: HttpRequest, initial: dict[str, Any] | None = None) -> dict[str, Any]:
    """Form arguments for a page with a confirmation step: the POST, or, when the person went back from the
    confirmation ("back"), the values they typed as the form's initial values (nothing is sent)."""
    if request.method == "POST" and request.POST.get("back"):
        return {"data": None, "initial": {**(initial or {}), **request.POST.dict()}}
    return {"data": request.POST or None, "initial": initial or {}}


def awaits_confirmation(request: HttpRequest, form: Any) -> bool:
    """A valid POST of a money-moving form that has not been confirmed yet: show the confirmation page."""
    return request.method == "POST" and request.POST.get("confirmed") != "yes" and form.is_valid()


def confirmation(
    request: HttpRequest,
    title: str,
    form: Any,
    lines: list[tuple[str, Any]],
    *,
    cancel: str,
    button: str,
    hidden: dict[str, str] | None = None,
    opts: Any = None,
) -> HttpResponse:
    """The page between a money-moving form and Reverb: `lines` (label, value) say exactly what will be sent;
    the form's values travel as hidden fields and come back with confirmed=yes."""
    return page(
        request,
        "backoffice/confirm.html",
        title,
        opts,
        form=form,
        lines=lines,
        cancel=cancel,
        button=button,
        hidden=(hidden or {}).items(),
    )


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
