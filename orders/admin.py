"""Admin for orders, payments and feedback mirrors."""

from __future__ import annotations

from django.contrib import admin
from django.utils.safestring import SafeString

from backoffice.admin_links import EMPTY, order_web_url, reverb_link
from backoffice.admin_mirror import ReverbMirrorAdmin, link_column, money_column, related_changelist_link

from .models import Feedback, Order, Payment


@admin.register(Order)
class OrderAdmin(ReverbMirrorAdmin):
    resync_resource = "orders"
    list_display = [
        "order_number",
        "remote_created_at",
        "title",
        "sku",
        "buyer_name",
        "status",
        "shipping_method",
        money_column("amount_total", "total"),
        "paid_at",
        "shipped_at",
        link_column("listing", "listing"),
        "account",
        "reverb_column",
    ]
    list_filter = [
        "account",
        "status",
        "shipping_method",
        "local_pickup",
        "needs_feedback_for_buyer",
        "missing",
    ]
    search_fields = ["=order_number", "sku", "buyer_name", "title", "=order_bundle_id", "tracking_code"]
    date_hierarchy = "remote_created_at"
    ordering = ["-remote_created_at", "-id"]
    list_select_related = ["account", "listing"]
    link_fields = ("refunds_link", "payments_link", "feedback_link", "payout_lines_link")

    def reverb_url(self, obj: Order) -> str:
        return order_web_url(obj.order_number, obj.web_url or obj.link("web"))

    @admin.display(description="Reverb")
    def reverb_column(self, obj: Order) -> SafeString | str:
        return reverb_link(self.reverb_url(obj), "view")

    @admin.display(description="Refund requests")
    def refunds_link(self, obj: Order) -> SafeString | str:
        from refunds.models import RefundRequest

        return related_changelist_link(RefundRequest, "order", obj, "refund requests") if obj else EMPTY

    @admin.display(description="Payments")
    def payments_link(self, obj: Order) -> SafeString | str:
        return related_changelist_link(Payment, "order", obj, "payments") if obj else EMPTY

    @admin.display(description="Feedback")
    def feedback_link(self, obj: Order) -> SafeString | str:
        return related_changelist_link(Feedback, "order", obj, "feedback") if obj else EMPTY

    @admin.display(description="Payouts")
    def payout_lines_link(self, obj: Order) -> SafeString | str:
        from payouts.models import PayoutLineItem

        return related_changelist_link(PayoutLineItem, "order", obj, "payout line items") if obj else EMPTY


@admin.register(Payment)
class PaymentAdmin(ReverbMirrorAdmin):
    resync_resource = "payments"
    list_display = [
        "reverb_id",
        "remote_created_at",
        "order_number",
        link_column("order", "order"),
        "status",
        "payment_method",
        money_column("amount", "amount"),
        "account",
    ]
    list_filter = ["account", "status", "payment_method", "missing"]
    search_fields = ["=reverb_id", "=order_number", "order__buyer_name", "order__sku"]
    date_hierarchy = "remote_created_at"
    ordering = ["-remote_created_at", "-id"]
    list_select_related = ["account", "order"]


@admin.register(Feedback)
class FeedbackAdmin(ReverbMirrorAdmin):
    resync_resource = "feedback"
    list_display = [
        "reverb_id",
        "remote_created_at",
        "direction",
        "rating",
        "author_name",
        "message_excerpt",
        "order_number",
        link_column("order", "order"),
        "account",
    ]
    list_filter = ["account", "direction", "rating", "missing"]
    search_fields = ["=order_number", "author_name", "message"]
    date_hierarchy = "remote_created_at"
    ordering = ["-remote_created_at", "-id"]
    list_select_related = ["account", "order"]

    @admin.display(description="message")
    def message_excerpt(self, obj: Feedback) -> str:
        return obj.message if len(obj.message) <= 80 else obj.message[:79] + "…"
