"""Mirror models for payouts and their line items; see ../shared/DESIGN.md section 4."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from backoffice.models import RemoteModel, amount_field


class Payout(RemoteModel):
    """A payout to the shop's bank. Key: payout id (taken from the line_items link when absent)."""

    total = amount_field()
    currency = models.CharField(max_length=3, blank=True, default="")
    line_items_url = models.URLField(max_length=500, blank=True, default="")

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_created_at", "-id"]

    def __str__(self) -> str:
        return f"payout {self.reverb_id}"


class PayoutLineItem(RemoteModel):
    """One order within a payout. Key: line item id, else "<payout id>:<order number>" (shape inferred)."""

    payout_reverb_id = models.CharField("payout id", max_length=64, db_index=True)
    payout = models.ForeignKey(
        Payout, null=True, blank=True, on_delete=models.CASCADE, related_name="line_items"
    )
    order_number = models.CharField(max_length=64, blank=True, default="", db_index=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="payout_line_items"
    )
    title = models.CharField(max_length=500, blank=True, default="")
    amount_product = amount_field("sale price")
    amount_shipping = amount_field("shipping")
    amount_tax = amount_field("tax")
    fees = amount_field()
    amount_total = amount_field("total")
    currency = models.CharField(max_length=3, blank=True, default="")

    class Meta(RemoteModel.Meta):
        ordering = ["payout_reverb_id", "order_number", "id"]


class FeeSchedule(models.Model):
    """What Reverb should charge one account (API-NOTES 11.1): a selling fee on product + shipping, payment
    processing on the order total (tax included) plus a fixed amount in the shop currency. The payouts
    reconciliation compares every line item's fees with these. An account without a row uses the defaults."""

    account = models.OneToOneField(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="fee_schedule"
    )
    selling_percent = models.DecimalField(
        "selling fee %",
        max_digits=5,
        decimal_places=2,
        default=Decimal("5.00"),
        help_text="Charged on the product subtotal plus shipping.",
    )
    processing_percent = models.DecimalField(
        "payment processing %",
        max_digits=5,
        decimal_places=2,
        default=Decimal("3.19"),
        help_text="Charged on the order total, shipping and tax included (2.99 for Preferred Sellers).",
    )
    processing_fixed = models.DecimalField(
        "payment processing fixed",
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.49"),
        help_text="Per order, in the shop currency.",
    )
    payout_grace_days = models.PositiveSmallIntegerField(
        default=7, help_text="A paid order not in any payout after this many days is reported."
    )

    def __str__(self) -> str:
        return f"fee schedule of {self.account}"
