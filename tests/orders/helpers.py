"""Shared helpers for the order, refund and messaging action tests: an emulator shop synced into the
mirror, fast clients (no rate wait, no sleeps), simulations of the buyer side, and role users."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from backoffice.models import ReverbAccount
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.emulator import core
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.roles import ensure_roles
from backoffice.sync.runner import sync_account
from tests.factories import AccountFactory

_BUILD_CLIENT = ReverbAccount.client  # the real one, even while a test patches it with fast_client


def fast_client(account: ReverbAccount) -> ReverbClient:
    return _BUILD_CLIENT(account, rate_limiter=UnlimitedRateLimiter(), sleep=lambda s: None)


def simulate(emulator: Any, event: str, **params: Any) -> dict[str, Any]:
    with emulator.lock:
        return core.SIMULATIONS[event](emulator, params)


def ship_calls(emulator: Any) -> int:
    return emulator.requests[("POST", "/api/my/orders/selling/{order_number}/ship")]


@pytest.fixture
def shop(emulator: Any, db: None, monkeypatch: pytest.MonkeyPatch) -> ReverbAccount:
    """An account on the emulator, with everything pulled into the mirror."""
    monkeypatch.setattr(ReverbAccount, "client", fast_client)
    account = AccountFactory()
    sync_account(account, client=fast_client(account))
    return account


def resync(account: ReverbAccount, *names: str) -> None:
    sync_account(account, resources=list(names) or None, client=fast_client(account), full=True)


def role_user(name: str, role: str | None) -> User:
    ensure_roles()
    user = User.objects.create_user(name, password="password", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user
