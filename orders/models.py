"""Mirror models for orders, payments and feedback; see ../shared/DESIGN.md section 4."""

from __future__ import annotations

from typing import Any

from django.db import models

from backoffice.mirror import RemoteModel, amount_field


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
    currency = models.CharField(max_length=3, blank=True, default="")
    paid_at = models.DateTimeField(null=True, blank=True, db_index=True)
    shipped_at = models.DateTimeField(null=True, blank=True, db_index=True)
    shipping_provider = models.CharField(max_length=100, blank=True, default="")
    tracking_code = models.CharField(max_length=255, blank=True, default="", db_index=True)
    shipment_status = models.CharField(max_length=40, blank=True, default="")
    needs_feedback_for_buyer = models.BooleanField(default=False)
    needs_feedback_for_seller = models.BooleanField(default=False)
    web_url = models.URLField("View on Reverb", max_length=500, blank=True, default="")

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_created_at", "-id"]

    def __str__(self) -> str:
        return f"order {self.order_number}"

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
