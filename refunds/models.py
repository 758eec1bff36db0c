"""Mirror models for refund requests; see ../shared/DESIGN.md section 4."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q, QuerySet

from backoffice.models import RemoteModel, amount_field

ACTIVE_STATES = ("pending_seller_response", "conditionally_approved")
# Every state Reverb documents, in words (API-NOTES 8). The last three come from the compiled summary
# (unverified) and are Reverb's, not the shop's: none awaits the shop. Kept as Reverb sends them.
STATES = {
    "pending_seller_response": "awaiting your answer",
    "conditionally_approved": "approved once returned",
    "approved": "approved",
    "denied": "denied",
    "cancelled": "cancelled",
    "auto_approved": "approved by Reverb",
    "refund_sent": "refund sent",
}
REFUNDED_STATES = ("approved", "auto_approved", "refund_sent")  # the buyer got (or gets) the money
AWAITING_SHOP = Q(state__in=ACTIVE_STATES, missing=False)
RESPONSE_HOURS = 24  # Reverb asks the shop to answer a refund request within a day


def awaiting_shop() -> QuerySet[RefundRequest]:
    """The refund requests that await the shop: the queue, the inbox and the dashboard count all use this."""
    return RefundRequest.objects.filter(AWAITING_SHOP)


class RefundRequest(RemoteModel):
    """A refund request on an order (buyer- or seller-initiated). Key: refund request id."""

    # One of STATES (or any other value Reverb sends), kept as Reverb sends it.
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
    # Local: 24 hours after it was opened (backoffice/deadlines.py).
    answer_by = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    # Not stored: what respond_to_refund did about putting the returned item back in stock, in words.
    restock_note = ""

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_created_at", "-id"]
        indexes = [  # the open requests only: oldest first (the inbox), the first to answer first (the queue)
            models.Index(
                fields=["account", "remote_created_at", "id"],
                condition=AWAITING_SHOP,
                name="refund_awaiting_shop",
            ),
            models.Index(
                fields=["account", "answer_by", "remote_created_at", "id"],
                condition=AWAITING_SHOP,
                name="refund_answer_by",
            ),
        ]
        permissions = [
            ("respond_refund", "Can approve, conditionally approve or deny refund requests"),
            ("request_refund", "Can start a seller-initiated refund"),
        ]

    def __str__(self) -> str:
        return f"refund request {self.reverb_id} (order {self.order_number})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def respond_by(self) -> datetime | None:
        """When the shop's answer is due: 24 hours after the request."""
        if self.remote_created_at is None:
            return None
        return self.remote_created_at + timedelta(hours=RESPONSE_HOURS)
