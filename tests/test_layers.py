"""The apps import each other only downwards (pyproject.toml's import-linter contract); what a higher app
shows on a lower app's page or admin arrives through the lower app's slots (listings/slots.py,
orders/slots.py, messaging/slots.py) and refunds' return_approved signal, in the places it had before."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import User
from django.test import RequestFactory

from listings.models import Listing
from orders.models import Order
from orders.workbench import actions
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_the_listings_changelist_offers_the_price_edit_between_its_own_actions() -> None:
    request = RequestFactory().get("/")
    request.user = User.objects.create_superuser("boss", password="p")
    names = list(site._registry[Listing].get_actions(request))
    assert names[-4:] == ["remove_direct_offer", "change_prices", "edit_fields", "export_csv"]


def test_the_order_page_lists_the_actions_of_every_app_in_their_order() -> None:
    order = OrderFactory(buyer_id="7", local_pickup=False)
    boss = User.objects.create_superuser("boss", password="p")
    labels = [label for label, _, _ in actions(order, boss)]
    assert labels == ["Ship", "Refund", "Leave feedback", "Write to the buyer", "Packing slip"]


def test_the_listing_and_order_links_of_the_apps_above_are_there() -> None:
    listing_links = [f.__name__ for f in site._registry[Listing].link_fields]
    assert listing_links == ["orders_link", "conversations_link", "negotiations_link"]
    order_links = [getattr(f, "__name__", f) for f in site._registry[Order].link_fields]
    assert order_links == [
        "shop_sku",
        "bundle_orders",
        "payments_table",
        "refunds_link",
        "payments_link",
        "feedback_link",
        "payout_lines_link",
    ]
