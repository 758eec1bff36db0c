"""Mirror models for orders, payments and feedback; see ../shared/DESIGN.md section 4."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q, QuerySet

from backoffice.models import RemoteModel, amount_field

# Reverb's order statuses (API-NOTES 6.2): the changelist's status filter offers these without a query.
STATUSES = (
    "unpaid",
    "payment_pending",
    "pending_review",
    "blocked",
    "partially_paid",
    "paid",
    "shipped",
    "picked_up",
    "received",
    "refunded",
    "cancelled",
)
SHIPPING_METHODS = ("shipped", "local", "expedited_shipping")  # API-NOTES 6.3
# Paid orders waiting for tracking (the shipping queue; local pickups are not shipped). Two partial indexes
# hold only these rows, so the queue's page, count and overdue count never walk the shop's history.
TO_SHIP = Q(missing=False, status="paid", shipped_at__isnull=True, local_pickup=False) & ~Q(
    shipping_method="local"
)


def awaiting_shipment() -> QuerySet[Order]:
    """Paid orders that wait for tracking (local pickups are not shipped): the shipping queue, the
    dashboard, the deadline counts, the digest and the alerts all start from this (TO_SHIP)."""
    return Order.objects.filter(TO_SHIP)


class Order(RemoteModel):
    """One Reverb order (one listing; orders of one checkout share `order_bundle_id`). Key: order_number."""

    order_number = models.CharField(max_length=64, db_index=True)
    uuid = models.CharField(max_length=64, blank=True, default="")
    # Reverb's status as sent (unpaid, paid, shipped, picked_up, received, refunded, cancelled, ...).
    status = models.CharField(max_length=40, blank=True, default="", db_index=True)
    order_type = models.CharField(max_length=40, blank=True, default="")
    order_bundle_id = models.CharField("bundle", max_length=64, blank=True, default="", db_index=True)
    buyer_name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    buyer_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    shipping_method = models.CharField(max_length=40, blank=True, default="", db_index=True)
    local_pickup = models.BooleanField(default=False)
    sku = models.CharField("SKU", max_length=255, blank=True, default="", db_index=True)
    title = models.CharField(max_length=500, blank=True, default="")
    quantity = models.PositiveIntegerField(default=1)
    product_id = models.CharField("listing id", max_length=64, blank=True, default="", db_index=True)
    listing = models.ForeignKey(
        "listings.Listing", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    amount_product = amount_field("product")
    amount_shipping = amount_field("shipping")
    amount_tax = amount_field("tax")
    amount_total = amount_field("total", db_index=True)
    selling_fee = amount_field()
    direct_checkout_fee = amount_field("processing fee")
    direct_checkout_payout = amount_field("payout")
    # Read by the payouts check in SQL: columns, because `raw` is stored as text (PayloadField).
    bump_fee = amount_field("bump fee")
    tax_responsible_party = models.CharField(max_length=40, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    paid_at = models.DateTimeField(null=True, blank=True, db_index=True)
    shipped_at = models.DateTimeField(null=True, blank=True, db_index=True)
    shipping_provider = models.CharField(max_length=100, blank=True, default="")
    tracking_code = models.CharField(max_length=255, blank=True, default="", db_index=True)
    shipment_status = models.CharField(max_length=40, blank=True, default="")
    needs_feedback_for_buyer = models.BooleanField(default=False)
    needs_feedback_for_seller = models.BooleanField(default=False)
    web_url = models.URLField("View on Reverb", max_length=500, blank=True, default="")
    # Local: 3 business days after payment in the shop's time zone (backoffice/deadlines.py).
    ship_by = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_created_at", "-id"]
        indexes = [
            # a member's shops (account_id IN (...)); ship_by last so the overdue count reads the index alone
            models.Index(
                fields=["account", "paid_at", "id", "ship_by"], condition=TO_SHIP, name="order_to_ship"
            ),
            models.Index(fields=["paid_at", "id"], condition=TO_SHIP, name="order_to_ship_all"),  # every shop
            # the rows whose status or shipping method Reverb does not document: the changelist's filters
            # list them (backoffice/admin/scale.py known_values) without reading every order
            models.Index(
                fields=["account", "status"],
                condition=~Q(status__in=(*STATUSES, "")),
                name="order_status_unusual",
            ),
            models.Index(
                fields=["account", "shipping_method"],
                condition=~Q(shipping_method__in=(*SHIPPING_METHODS, "")),
                name="order_shipping_unusual",
            ),
        ]
        permissions = [
            ("ship_order", "Can ship orders (send tracking to Reverb)"),
            ("mark_picked_up", "Can mark local pickup orders picked up"),
            ("leave_feedback", "Can leave feedback for buyers"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_number}"

    @property
    def is_local_pickup(self) -> bool:
        return self.local_pickup or self.shipping_method == "local"

    @property
    def shipping_address(self) -> dict[str, Any]:
        return self.raw.get("shipping_address") or {}

    @property
    def buyer_email(self) -> str:
        return self.raw.get("buyer_email") or ""

    @property
    def order_notes(self) -> list[Any]:
        return self.raw.get("order_notes") or []


class Payment(RemoteModel):
    """A payment on a seller order (/my/payments/selling). Key: payment id. Shape is emulator-defined."""

    order_number = models.CharField(max_length=64, blank=True, default="", db_index=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    status = models.CharField(max_length=40, blank=True, default="", db_index=True)
    payment_method = models.CharField(max_length=60, blank=True, default="")
    amount = amount_field()
    currency = models.CharField(max_length=3, blank=True, default="")

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_created_at", "-id"]


class Feedback(RemoteModel):
    """Feedback received from buyers and sent to them. Key: feedback id. Shape is emulator-defined."""

    class Direction(models.TextChoices):
        RECEIVED = "received", "Received"
        SENT = "sent", "Sent"

    direction = models.CharField(max_length=10, choices=Direction.choices, db_index=True)
    order_number = models.CharField(max_length=64, blank=True, default="", db_index=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    rating = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    message = models.TextField(blank=True, default="")
    author_name = models.CharField(max_length=255, blank=True, default="")

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_created_at", "-id"]
        verbose_name_plural = "feedback"


class ShippingProviderMapping(models.Model):
    """A shop's own carrier name ("ups ground") -> one of Reverb's shipping providers ("UPS"), per account.
    Used by the bulk-ship page and the CSV upload (compare Avasam's "shipping mapping")."""

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="shipping_provider_mappings"
    )
    local_name = models.CharField(
        "local carrier name",
        max_length=100,
        help_text="As your shipping tool writes it; matched case-insensitively.",
    )
    provider = models.CharField("Reverb provider", max_length=100, help_text='e.g. UPS, USPS, "Other".')

    class Meta:
        ordering = ["account", "local_name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "local_name"], name="orders_provider_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.local_name} -> {self.provider}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.local_name = self.local_name.strip().lower()
        super().save(*args, **kwargs)


class SkuMapping(models.Model):
    """Reverb SKU -> the shop's own SKU, per account; shown on orders and used in exports."""

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="sku_mappings"
    )
    reverb_sku = models.CharField("Reverb SKU", max_length=255)
    shop_sku = models.CharField("shop SKU", max_length=255)

    class Meta:
        ordering = ["account", "reverb_sku"]
        verbose_name = "SKU mapping"
        constraints = [
            models.UniqueConstraint(fields=["account", "reverb_sku"], name="orders_sku_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reverb_sku} -> {self.shop_sku}"


class ShipBatch(models.Model):
    """One confirmed bulk-ship submission, keyed by the one-time token of its confirmation form: posting
    the same form twice finds the batch and creates no second job."""

    token = models.CharField(max_length=64, unique=True)
    job = models.ForeignKey(
        "backoffice.BulkJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"ship batch {self.token}"
