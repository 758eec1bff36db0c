"""Bulk-job handlers for orders: "orders.ship" sends one shipment per item (key = order number)."""

from __future__ import annotations

from django.urls import reverse

from backoffice.actions import ActionError
from backoffice.background.jobs import Outcome
from backoffice.models import BulkJob, BulkJobItem
from backoffice.reverb.errors import ReverbError

from .models import Order
from .services import refresh_order, ship_order

SHIP = "orders.ship"


def ship_one(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    order = Order.objects.select_related("account").filter(account=job.account, order_number=item.key).first()
    if order is None:
        return Outcome.failed(f"Order {item.key} is not in the mirror.")
    link = reverse("admin:orders_order_change", args=[order.pk])  # the job page's "open" link
    tracking = str(item.params.get("tracking_number", ""))
    provider = str(item.params.get("provider", ""))
    client = order.account.client()
    if resumed:  # a worker died mid-item: Reverb's copy decides whether the shipment already went out
        try:
            refresh_order(order, client)
        except ReverbError as exc:
            return Outcome.failed(f"Could not re-read the order before resending: {exc}")
    try:
        order = ship_order(
            order,
            actor=job.started_by,
            provider=provider,
            tracking_number=tracking,
            send_notification=bool(item.params.get("send_notification", True)),
            client=client,
            job=job,
        )
    except ActionError as exc:
        if exc.already_done:
            if resumed:
                return Outcome.ok(
                    f"Shipped with {tracking} (confirmed after a restart).", tracking=tracking, url=link
                )
            return Outcome.skipped(exc.message, tracking=tracking, url=link)
        return Outcome.failed(exc.message)
    return Outcome.ok(
        f"Shipped: {order.shipping_provider} {order.tracking_code}", tracking=order.tracking_code, url=link
    )


# Registered by the app's AppConfig.ready() (backoffice/background/jobs.py register_job_handlers).
JOB_HANDLERS = {
    SHIP: ship_one,
}
