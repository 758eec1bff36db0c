"""Login throttling with django-axes (settings: AXES_*): failed logins are counted per user name and address
together, and after AXES_FAILURE_LIMIT failures that user name is locked out from that address for
AXES_COOLOFF_TIME hours; the same person elsewhere, and everyone else at that address (a shop's one office
line, its superuser included), still signs in. The lockout page (`lockout_response`) says how long is left.
Managers and superusers see and clear lockouts in the admin (Axes › Access attempts); in the shell:
`manage.py axes_reset`, `axes_reset_username NAME`, `axes_reset_ip_username IP NAME`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.contrib import admin
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timeuntil

LOCKOUT_TEMPLATE = "backoffice/locked_out.html"


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' backend, for web logins only. Every login form (the admin's included) passes the request;
    a call without one (`Client.login` in tests, a management command) is not a web login, has no address
    to count, and is left to the next backend instead of failing."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_ip_behind_proxy(request: HttpRequest) -> str | None:
    """Behind our reverse proxy (BEHIND_PROXY): the address the proxy saw, i.e. the last entry it
    appended to X-Forwarded-For (earlier entries are the client's to forge)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-1] if hops else request.META.get("REMOTE_ADDR")


def lockout_ends(request: HttpRequest, credentials: dict[str, Any] | None) -> datetime | None:
    """When this user name's lockout at this address ends: its latest counted failure plus the cool-off
    (None without a cool-off: a lockout only an admin clears)."""
    cool_off = get_cool_off(request)
    if not cool_off:
        return None
    attempts = AxesDatabaseHandler().get_user_attempts(request, credentials)
    latest = max(
        (t for qs in attempts if (t := qs.aggregate(t=Max("attempt_time"))["t"]) is not None),
        default=None,
    )
    return (latest or timezone.now()) + cool_off


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the admin's frame, whose sign-in is paused, how long is left, and who can clear
    it; status 429 (Too Many Requests), as axes' own answer."""
    ends = lockout_ends(request, credentials)
    now = timezone.now()
    left = max(ends - now, timedelta(0)) if ends else None
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in paused",
        "username": get_client_username(request, credentials) or "",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "ends": ends,
        "left": left,
        "left_text": timeuntil(ends, now) if ends and left else "",
        "login_url": reverse("admin:login"),
    }
    return render(request, LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE)
