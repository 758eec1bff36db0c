"""The shipping clerk's pages at a laptop's 1366 px (issue 26, "one vocabulary"): the shipping queue and the
order page fit the window (no sideways scrolling) and no cell of the queue's key columns is clipped."""

from __future__ import annotations

import pytest

from orders.models import Order
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db(transaction=True)
LAPTOP = {"width": 1366, "height": 768}
# Elements wider than the window, and cells whose content is cut (wider than the cell, overflow hidden).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('#content *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''));
  const clipped = [...document.querySelectorAll('#content td, #content th')]
    .filter(c => c.scrollWidth > c.clientWidth + 1 && getComputedStyle(c).overflowX !== 'visible')
    .map(c => c.textContent.trim().slice(0, 40));
  return {page: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10), clipped};
}"""


def test_queue_and_order_page_fit_a_laptop(page, live_server, admin_login, emulator, shop):
    numbers = [simulate(emulator, "new_order")["order_number"] for _ in range(3)]
    resync(shop, "orders")
    order = Order.objects.get(account=shop, order_number=numbers[0])
    Order.objects.filter(pk=order.pk).update(
        title="Fender American Professional II Stratocaster HSS, "
        "Rosewood Fingerboard, Mercury with a very long listing title"
    )
    page.set_viewport_size(LAPTOP)
    admin_login(page, live_server, role_user("clerk", "Shipping"))
    for url, ready in (
        ("/admin/orders/order/queue/", "#ship-queue"),
        (f"/admin/orders/order/{order.pk}/change/", "#order-workbench"),
    ):
        page.goto(live_server.url + url)
        page.wait_for_selector(ready)
        seen = page.evaluate(OVERFLOW)
        assert seen["page"] <= seen["width"] and seen["wide"] == [] and seen["clipped"] == [], (url, seen)
