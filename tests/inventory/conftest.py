"""Fixtures for the inventory tests: an account on the in-process emulator with its listings pulled, and
an integration with its API key."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from backoffice.models import ReverbAccount
from inventory.models import Integration
from listings.models import Listing
from tests.factories import AccountFactory

BRAND_NEW = "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"


@pytest.fixture
def account(emulator: Any, db: Any, settings: Any) -> ReverbAccount:
    settings.REVERB_RATE_PER_SECOND = 1000.0
    settings.REVERB_RATE_BURST = 1000
    settings.WORKER_BACKEND = "none"  # never run by itself: the tests drain when they want
    from backoffice.sync.runner import sync_resource

    account = AccountFactory(name="main-shop")
    sync_resource(account, "listings")
    return account


def integration_for(account: ReverbAccount, name: str = "shop-system") -> tuple[Integration, str]:
    integration = Integration(account=account, name=name)
    key = integration.new_key()
    integration.save()
    return integration, key


@pytest.fixture
def key(account: ReverbAccount) -> str:
    return integration_for(account)[1]


@pytest.fixture
def api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def inventory_listing(account: ReverbAccount) -> Listing:
    """A live Brand New listing (holds a quantity > 1) of the emulator's shop."""
    return (
        Listing.objects.filter(account=account, state="live", condition_uuid=BRAND_NEW).order_by("pk").first()
    )


def used_listing(account: ReverbAccount) -> Listing:
    return (
        Listing.objects.filter(account=account, state="live")
        .exclude(condition_uuid=BRAND_NEW)
        .order_by("pk")
        .first()
    )


def emu_record(emulator: Any, listing: Listing) -> dict[str, Any]:
    return emulator.store.table("listings")[int(listing.reverb_id)]


def puts(emulator: Any) -> int:
    """PUTs of listings the emulator answered (all listings: the emulator counts by route)."""
    return emulator.requests.get(("PUT", "/api/listings/{listing_id}"), 0)
