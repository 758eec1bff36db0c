"""Login throttling with django-axes (settings: AXES_*): failed logins are counted per user name and per
address, and after AXES_FAILURE_LIMIT failures that user name or address is locked out for
AXES_COOLOFF_TIME hours. Superusers see and clear lockouts in the admin ("Axes" section)."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


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
