"""Labels on the order page: a link to Reverb's own label purchase when the order's `_links` offers one, and
the shipment's tracking as the mirror has it once a pull brings it (issue 26)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from orders.workbench import label_url
from tests.factories import OrderFactory
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db

LABEL = "https://reverb.com/my/selling/orders/700/shipping_label"


def shipment_box(role: str, order: Order) -> str:
    client = Client()
    user = User.objects.filter(username=f"user-{role}").first() or role_user(f"user-{role}", role)
    client.force_login(user)
    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    return re.search(r'id="wb-shipment">(.*?)</div>', html, re.S).group(1)


def test_label_link_shown_only_when_the_order_offers_one():
    offered = OrderFactory(raw={"_links": {"purchase_shipping_label": {"href": LABEL}}})
    other_name = OrderFactory(raw={"_links": {"shipping_label": {"web": {"href": LABEL + "?b"}}}})
    none = OrderFactory(raw={"_links": {"web": {"href": "https://reverb.com/my/selling/orders/2"}}})
    unsafe = OrderFactory(raw={"_links": {"purchase_shipping_label": {"href": "javascript:alert(1)"}}})
    assert label_url(offered) == LABEL and label_url(other_name) == LABEL + "?b"
    assert label_url(none) == label_url(unsafe) == label_url(OrderFactory(raw={})) == ""
    box = shipment_box("Shipping", offered)
    assert f'href="{LABEL}"' in box and "Buy a shipping label on Reverb" in box and "No tracking yet" in box
    assert "Buy a shipping label" not in shipment_box("Shipping", none)
    assert "Buy a shipping label" not in shipment_box("Viewer", offered)  # buying is the shipper's


def test_tracking_of_a_label_bought_on_reverb_shows_after_the_next_pull(emulator, shop):
    number = simulate(emulator, "new_order")["order_number"]
    resync(shop, "orders")
    order = Order.objects.get(account=shop, order_number=number)
    assert "No tracking yet" in shipment_box("Viewer", order)
    remote = emulator.store.table("orders")[number]  # the label was bought on reverb.com
    remote.update(
        status="shipped", shipped_at=timezone.now(), shipping_provider="USPS", shipping_code="9400LABEL1"
    )
    emulator.store.touch(remote)
    resync(shop, "orders")
    order.refresh_from_db()
    box = shipment_box("Viewer", order)
    assert "USPS" in box and "9400LABEL1" in box and "No tracking yet" not in box
    assert re.search(r'<a href="https://reverb.com/tracking/USPS/9400LABEL1"[^>]*>9400LABEL1</a>', box)
    assert "correct it on Reverb" not in box  # a viewer does not ship
    shipper = shipment_box("Shipping", order)
    assert "correct it on Reverb" in shipper and f'href="{order.web_url}"' in shipper  # no API for it
