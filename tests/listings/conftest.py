"""Fixtures for the listings tests: an account on the in-process emulator, and its listings pulled."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.models import ReverbAccount
from backoffice.reverb.client import money
from tests.factories import AccountFactory

EXCELLENT = "df268ad1-c462-4ba6-b6db-e007e23922ea"
BRAND_NEW = "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"


def new_listing(sku: str, **extra: Any) -> dict[str, Any]:
    return {
        "make": "Fender",
        "model": "Stratocaster",
        "sku": sku,
        "condition": {"uuid": EXCELLENT},
        "price": money("1299.00", "USD"),
        **extra,
    }


@pytest.fixture
def account(emulator: Any, db: Any) -> ReverbAccount:
    return AccountFactory(name="main-shop")


@pytest.fixture
def synced(account: ReverbAccount) -> ReverbAccount:
    from backoffice.sync.runner import sync_resource

    sync_resource(account, "listings")
    return account


def emu_record(emulator: Any, reverb_id: str | int) -> dict[str, Any]:
    return emulator.store.table("listings")[int(reverb_id)]


@pytest.fixture(autouse=True)
def _inline_jobs(settings: Any) -> None:
    settings.WORKER_BACKEND = "inline"
