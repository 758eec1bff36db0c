"""Fixtures for the listings tests: an account on the in-process emulator, and its listings pulled."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.models import ReverbAccount
from tests.factories import AccountFactory


@pytest.fixture
def account(emulator: Any, db: Any) -> ReverbAccount:
    return AccountFactory(name="main-shop")


@pytest.fixture
def synced(account: ReverbAccount) -> ReverbAccount:
    from backoffice.sync.runner import sync_resource

    sync_resource(account, "listings")
    return account


def emu_record(emulator: Any, reverb_id: str | int) -> dict[str, Any]:
    """The emulator's record once the work Reverb finishes after answering (publishing) has landed."""
    emulator.settle()
    return emulator.store.table("listings")[int(reverb_id)]


@pytest.fixture(autouse=True)
def _inline_jobs(inline_jobs: None) -> None:
    """Every listings test runs its bulk jobs inline."""
