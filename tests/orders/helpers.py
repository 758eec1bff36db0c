"""Shared helpers for the order, refund and messaging action tests (the `shop` and `other_shop` fixtures
are in tests/conftest.py): fast clients (no rate wait, no sleeps), simulations of the buyer side, role
users, and a recorder of what the emulator received."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from backoffice.models import ReverbAccount
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.roles import ensure_roles
from backoffice.sync.runner import sync_account
from emulator import core

_BUILD_CLIENT = ReverbAccount.client  # the real one, even while a test patches it with fast_client


def fast_client(account: ReverbAccount) -> ReverbClient:
    return _BUILD_CLIENT(account, rate_limiter=UnlimitedRateLimiter(), sleep=lambda s: None)


def simulate(emulator: Any, event: str, **params: Any) -> dict[str, Any]:
    with emulator.lock:
        return core.SIMULATIONS[event](emulator, params)


def ship_calls(emulator: Any) -> int:
    return emulator.requests[("POST", "/api/my/orders/selling/{order_number}/ship")]


def resync(account: ReverbAccount, *names: str) -> None:
    sync_account(account, resources=list(names) or None, client=fast_client(account), full=True)


def role_user(name: str, role: str | None) -> User:
    ensure_roles()
    user = User.objects.create_user(name, password="password", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def record_bodies(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    """Keep (method, path, JSON body) of every request the emulator answers from now on."""
    import json

    sent: list[tuple[str, str, dict[str, Any]]] = []
    handle = emulator.handle

    def recording(method: str, path: str, query: str, headers: Any, body: bytes, *args: Any) -> Any:
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {}
        sent.append((method, path, data))
        return handle(method, path, query, headers, body, *args)

    monkeypatch.setattr(emulator, "handle", recording)
    return sent
