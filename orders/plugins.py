"""What the orders app adds to the core (from OrdersConfig.ready()): its resources (orders, payments,
feedback) and the night's walks, the dashboard's shipping queues and its weekly sales, the clean-up of spent
bulk-ship batches. What orders adds to the
listing's admin (listings/slots.py), from OrdersConfig.ready()."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils.safestring import SafeString

from backoffice.access import for_user
from backoffice.admin.links import EMPTY, changelist_url
from backoffice.admin.mirror import related_changelist_link
from backoffice.background.retention import PURGES, Purge
from backoffice.pages.dashboard import CHARTS, QUEUES, Queue, Series
from backoffice.sync import registry
from backoffice.sync.resource import Stream
from listings.models import Listing
from listings.reference import READERS
from listings.slots import LISTING_LINKS

from . import sync
from .models import Order, ShipBatch, awaiting_shipment

ORDER_PAID_STATUSES = ("paid", "shipped", "picked_up", "received", "refunded", "partially_paid")


NIGHT_WALKS = {
    "orders": (Stream("orders", lambda c, s, e: c.orders("all", created_start=s, created_end=e), True),),
    "payments": (Stream("payments", lambda c, s, e: c.payments(created_start=s, created_end=e), True),),
    "feedback": (
        Stream(
            "feedback",
            lambda c, s, e: c.feedback_received(),
            rows=lambda r: sync.with_direction(r, "received"),
        ),
        Stream("feedback", lambda c, s, e: c.feedback_sent(), rows=lambda r: sync.with_direction(r, "sent")),
    ),
}


def shipping_queues(user: Any, now: datetime) -> list[Queue]:
    """Orders awaiting shipment and local pickups waiting (one query)."""
    if not user.has_perm("orders.view_order"):
        return []
    waiting = for_user(Order.objects.filter(missing=False, status="paid"), user)
    counts = waiting.aggregate(
        # the shipping queue's own rows, so the two agree
        ship=Count("pk", filter=Q(pk__in=awaiting_shipment().values("pk"))),
        pickup=Count("pk", filter=Q(local_pickup=True)),
    )
    return [
        Queue("ship", "Orders awaiting shipment", counts["ship"], reverse("admin:orders_order_queue")),
        Queue(
            "pickup",
            "Local pickups waiting",
            counts["pickup"],
            changelist_url(Order, status__exact="paid", local_pickup__exact=1),
        ),
    ]


@admin.display(description="Orders")
def orders_link(obj: Listing) -> SafeString | str:
    return related_changelist_link(Order, "listing", obj, "orders") if obj else EMPTY


def spent_ship_batches(now: datetime) -> QuerySet[ShipBatch]:
    """A batch only stops its confirmation form from being posted twice, and that form expires within the
    hour (orders/views.py PREVIEW_MAX_AGE): a day is plenty. Its job stays as long as jobs do."""
    return ShipBatch.objects.filter(created_at__lt=now - timedelta(days=1))


def plug_in() -> None:
    from .services import fetch_carriers

    registry.register(*sync.RESOURCES)
    READERS.add(fetch_carriers, key="carriers")  # Reverb's carriers, stored with the form lists
    for name, walks in NIGHT_WALKS.items():
        registry.NIGHT_WALKS.add(walks, key=name)
    QUEUES.add(shipping_queues, key="orders")
    CHARTS.add(
        Series(
            "sales",
            "Sales",
            "chart-sales",
            "orders.view_order",
            lambda: Order.objects.filter(status__in=ORDER_PAID_STATUSES),
            "paid_at",
            "amount_total",
        ),
        key="sales",
    )
    LISTING_LINKS.add(orders_link, key="orders")
    PURGES.add(Purge("bulk-ship batches", spent_ship_batches), key="ship-batches")
