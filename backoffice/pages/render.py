"""Small helpers for the action pages of orders, refunds and messaging (admin look, permission checks)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def require(request: HttpRequest, perm: str) -> None:
    """403 unless the user has the permission (a forged POST by a role without it gets 403 too)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied


def page(request: HttpRequest, template: str, title: str, opts: Any = None, **context: Any) -> HttpResponse:
    ctx = {**admin.site.each_context(request), "title": title, "opts": opts, **context}
    return render(request, template, ctx)
