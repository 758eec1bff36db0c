"""Mirror models for refund requests; see ../shared/DESIGN.md section 4."""

from __future__ import annotations

from django.db import models

from backoffice.models import RemoteModel, amount_field


class RefundRequest(RemoteModel):
    """A refund request on an order (buyer- or seller-initiated). Key: refund request id."""

    # pending_seller_response, conditionally_approved, approved, denied, ... kept as Reverb sends them.
    state = models.CharField(max_length=40, blank=True, default="", db_index=True)
    amount = amount_field()
    currency = models.CharField(max_length=3, blank=True, default="")
    refund_type = models.CharField(max_length=20, blank=True, default="")
    reason = models.CharField(max_length=60, blank=True, default="", db_index=True)
    initiated_by = models.CharField(max_length=20, blank=True, default="", db_index=True)
    note_to_buyer = models.TextField(blank=True, default="")
    order_number = models.CharField(max_length=64, blank=True, default="", db_index=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="refund_requests"
    )

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_created_at", "-id"]
        permissions = [
            ("respond_refund", "Can approve, conditionally approve or deny refund requests"),
            ("request_refund", "Can start a seller-initiated refund"),
        ]

    def __str__(self) -> str:
        return f"refund request {self.reverb_id} (order {self.order_number})"

    @property
    def is_active(self) -> bool:
        return self.state in ("pending_seller_response", "conditionally_approved")
