"""The demo shop's listings come with costs (the emulator's `--seller-costs`, Reverb's `seller_cost`): after
the first pull the margin report and the margin columns show real numbers, not "cost unknown"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backoffice.models import ReverbAccount
from backoffice.sync.runner import sync_account
from listings.models import Listing
from orders.models import Order
from payouts.margin_report import margin_report, orders_paid
from payouts.matching import Period
from tests.conftest import EMULATOR_ORIGIN, EMULATOR_TEST_PACE, EMULATOR_TOKEN
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_shop() -> Iterator[ReverbAccount]:
    from backoffice.reverb.transport import register_transport, unregister_transport
    from emulator import Emulator
    from emulator.adapter import EmulatorAdapter

    emu = Emulator(token=EMULATOR_TOKEN, seed=1, size="demo", seller_costs=True, **EMULATOR_TEST_PACE)
    register_transport(f"{EMULATOR_ORIGIN}/", EmulatorAdapter(emu))
    yield AccountFactory(name="demo")
    unregister_transport(f"{EMULATOR_ORIGIN}/")


def test_the_demo_shop_pulls_its_costs_and_its_margins_show(demo_shop: ReverbAccount, settings: Any) -> None:
    settings.WORKER_BACKEND = "inline"
    sync_account(demo_shop, full=True)
    listings = Listing.objects.filter(account=demo_shop)
    assert listings.count() >= 100 and not listings.filter(cost__isnull=True).exists()
    assert all(0 < x.cost < x.price for x in listings if x.price)
    orders = Order.objects.filter(account=demo_shop, paid_at__isnull=False, listing__isnull=False)
    first, last = orders.earliest("paid_at").paid_at.date(), orders.latest("paid_at").paid_at.date()
    report = margin_report(Period(first, last), orders_paid(Period(first, last), Order.objects.all(), None))
    (totals,) = report.totals
    assert totals.orders >= 50 and totals.cost > 0 and totals.margin > 0
    assert report.unknown_count < totals.orders  # most sales have a known cost
