"""The staff's pages at a laptop's 1366 px (issue 26, "one vocabulary"): the shipping queue, the order page
and the orders, listings and activity lists fit the window (no sideways scrolling, inside the page or of
it) and no cell of their key columns is clipped."""

from __future__ import annotations

import pytest

from listings.models import Listing
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
  const scrolled = [...document.querySelectorAll('#changelist .results')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.scrollWidth - e.clientWidth);
  return {page: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10), clipped, scrolled};
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
        fits = seen["page"] <= seen["width"] and seen["wide"] == [] and seen["clipped"] == []
        assert fits and seen["scrolled"] == [], (url, seen["scrolled"], seen["wide"], seen["clipped"])


def test_the_orders_listings_and_activity_lists_fit_a_laptop(page, live_server, admin_login, emulator, shop):
    """Their key columns at 1366 px, with rows in them and a long title, for a Manager of the one shop: no
    column hidden behind the list's own sideways scroll (the admin's left app list once pushed four out)."""
    for _ in range(3):
        simulate(emulator, "new_order")
    resync(shop, "listings", "orders")
    long_title = "Gibson Les Paul Standard '60s Figured Top, Iced Tea Burst, with a long listing title indeed"
    Order.objects.filter(account=shop).update(title=long_title)
    Listing.objects.filter(account=shop).update(title=long_title)
    order = Order.objects.filter(account=shop).first()
    assert order is not None and Listing.objects.filter(account=shop).exists()
    page.set_viewport_size(LAPTOP)
    admin_login(page, live_server, role_user("boss", "Manager"))
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    for url in ("/admin/orders/order/", "/admin/listings/listing/", "/admin/backoffice/apicall/"):
        page.goto(live_server.url + url)
        page.wait_for_selector("#changelist")
        assert page.locator("#result_list tbody tr").count() > 0 or url.endswith("apicall/"), url
        seen = page.evaluate(OVERFLOW)
        fits = seen["page"] <= seen["width"] and seen["wide"] == [] and seen["clipped"] == []
        assert fits and seen["scrolled"] == [], (url, seen["scrolled"], seen["wide"], seen["clipped"])
