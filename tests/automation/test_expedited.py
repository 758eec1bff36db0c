"""Expedited orders ship by the end of the next business day (ours: Reverb leaves the length to the shop);
the rule reaches the stored column on a pull and on a refill, and the emulated shop has some."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from automation import stored
from backoffice import deadlines

CHICAGO = ZoneInfo("America/Chicago")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def test_expedited_ships_by_the_end_of_the_next_business_day():
    friday = local(2026, 6, 5, 10)
    assert deadlines.ship_by(friday, CHICAGO, shipping_method="expedited_shipping") == local(
        2026, 6, 8, 23, 59, 59
    )
    assert deadlines.ship_by(friday, CHICAGO, shipping_method="shipped") == local(2026, 6, 10, 23, 59, 59)
    assert deadlines.ship_by(friday, CHICAGO, shipping_method="") == local(2026, 6, 10, 23, 59, 59)
    assert deadlines.is_expedited("Expedited") and not deadlines.is_expedited("local")


@pytest.mark.django_db
def test_fill_and_refresh_give_expedited_orders_the_shorter_deadline():
    from tests.factories import AccountFactory, OrderFactory

    account = AccountFactory(time_zone="America/Chicago")
    paid = local(2026, 6, 5, 10)
    rows = [
        {"paid_at": paid, "shipping_method": "expedited_shipping"},
        {"paid_at": paid, "shipping_method": "shipped"},
        {"paid_at": paid},  # not told: standard
    ]
    stored.fill_ship_by(account, rows)
    assert [r["ship_by"].astimezone(CHICAGO).day for r in rows] == [8, 10, 10]

    order = OrderFactory(account=account, status="paid", paid_at=paid, shipping_method="expedited_shipping")
    order.ship_by = None
    order.save(update_fields=["ship_by"])
    stored.refresh_ship_by(account)
    order.refresh_from_db()
    assert order.ship_by == local(2026, 6, 8, 23, 59, 59)


@pytest.mark.django_db
def test_the_emulated_shop_sells_expedited_orders_and_the_pull_stores_their_deadline(emulator, shop):
    from orders.models import Order

    expedited = Order.objects.filter(
        account=shop, shipping_method="expedited_shipping", paid_at__isnull=False
    )
    assert expedited.exists()
    tz = deadlines.zone(shop.time_zone)
    for order in expedited:
        assert order.ship_by == deadlines.ship_by(order.paid_at, tz, days=1)
    shipped = [
        o for o in emulator.store.table("orders").values() if o["shipping_method"] == "expedited_shipping"
    ]
    assert any(o["shipped_at"] for o in shipped)  # shipped like any other shipped order
