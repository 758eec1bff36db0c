"""Fixtures for the payout tests: the emulator's seeded shop, pulled whole (payouts and line items too)."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.models import ReverbAccount
from backoffice.sync.runner import sync_account
from payouts.models import PayoutLineItem
from tests.factories import AccountFactory


@pytest.fixture
def shop(emulator: Any) -> ReverbAccount:
    """Named "shop", pulled with the account's own client (this overrides the root `shop`)."""
    account = AccountFactory(name="shop")
    runs = sync_account(account)
    assert all(r.ok for r in runs), [(r.resource, r.error) for r in runs]
    assert PayoutLineItem.objects.filter(order__isnull=False).count() >= 2
    return account
