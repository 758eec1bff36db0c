"""What orders adds to the listing's admin (listings/slots.py), from OrdersConfig.ready()."""

from __future__ import annotations

from django.contrib import admin
from django.utils.safestring import SafeString

from backoffice.admin.links import EMPTY
from backoffice.admin.mirror import related_changelist_link
from listings.models import Listing
from listings.slots import LISTING_LINKS

from .models import Order


@admin.display(description="Orders")
def orders_link(obj: Listing) -> SafeString | str:
    return related_changelist_link(Order, "listing", obj, "orders") if obj else EMPTY


def add_all() -> None:
    LISTING_LINKS.add(orders_link, key="orders")
