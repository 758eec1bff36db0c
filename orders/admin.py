"""Admin for orders, payments and feedback mirrors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from backoffice.access import accounts_of
from backoffice.admin.base import BaseAdmin
from backoffice.admin.links import EMPTY, admin_link, order_web_url, reverb_link
from backoffice.admin.mirror import (
    ReverbMirrorAdmin,
    deadline_column,
    link_column,
    money_column,
    related_changelist_link,
)
from backoffice.admin.scale import ORDER_NUMBER_RE, SKU_RE, known_values
from backoffice.csvfiles import csv_response

from . import carriers, views
from .exports import order_rows
from .models import SHIPPING_METHODS, STATUSES, Feedback, Order, Payment, ShippingProviderMapping, SkuMapping
from .slots import ORDER_LINKS
from .workbench import workbench_context


@admin.register(Order)
class OrderAdmin(ReverbMirrorAdmin):
    resync_resource = "orders"
    list_display = [
        "order_number",
        "remote_created_at",
        "title_link",
        "sku",
        "buyer_name",
        "status",
        money_column("amount_total", "total"),
        deadline_column("ship_by", "ship by"),
        "account",
        "reverb_column",
    ]
    list_filter = [
        "account",
        known_values("status", STATUSES),
        known_values("shipping_method", SHIPPING_METHODS),
        "local_pickup",
        "needs_feedback_for_buyer",
        "missing",
    ]
    search_fields = ["=order_number", "sku", "buyer_name", "title", "=order_bundle_id", "tracking_code"]
    exact_search = {"order_number": ORDER_NUMBER_RE, "sku": SKU_RE}
    phrase_search = ("title",)
    date_hierarchy = "remote_created_at"
    ordering = ["-remote_created_at", "-id"]
    list_select_related = ["account", "listing"]
    own_link_fields = (
        (10, "shop_sku"),
        (20, "bundle_orders"),
        (30, "payments_table"),
        (50, "payments_link"),
        (60, "feedback_link"),
    )
    actions = ["resync_from_reverb", "ship_selected", "export_csv"]

    @property
    def link_fields(self) -> tuple[Any, ...]:  # type: ignore[override]
        """Orders' own links and those the apps above add (refunds, payout lines: ORDER_LINKS), by rank."""
        ranked = [*self.own_link_fields, *((link.rank, link.field) for link in ORDER_LINKS)]
        return tuple(field for _, field in sorted(ranked, key=lambda r: r[0]))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("bulk-ship/", wrap(views.bulk_ship), name="orders_order_bulk_ship"),
            path("queue/", wrap(views.shipping_queue), name="orders_order_queue"),
            path("packing-slips/", wrap(views.packing_slips), name="orders_order_packing_slips"),
            path("<int:pk>/ship/", wrap(views.ship), name="orders_order_ship"),
            path("<int:pk>/picked-up/", wrap(views.picked_up), name="orders_order_picked_up"),
            path("<int:pk>/feedback/", wrap(views.feedback), name="orders_order_feedback"),
            path("<int:pk>/packing-slip/", wrap(views.packing_slip), name="orders_order_packing_slip"),
        ]
        return own + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        order = (
            Order.objects.select_related("account").filter(pk=object_id).first()
            if str(object_id).isdigit()
            else None
        )
        if order is not None:
            extra_context = {**(extra_context or {}), "wb": workbench_context(order, request.user)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        mapped = SkuMapping.objects.filter(account=OuterRef("account"), reverb_sku=OuterRef("sku"))
        return super().get_queryset(request).annotate(mapped_sku=Subquery(mapped.values("shop_sku")[:1]))

    @admin.display(description="title", ordering="title")
    def title_link(self, obj: Order) -> SafeString | str:
        """The title, linking to the order's listing here when the sync linked one (one column, not two)."""
        return admin_link(obj.listing, obj.title) if obj.listing_id else obj.title

    @admin.display(description="shop SKU", ordering="mapped_sku")
    def shop_sku(self, obj: Order) -> str:
        return getattr(obj, "mapped_sku", None) or EMPTY

    @admin.display(description="Bundle")
    def bundle_orders(self, obj: Order) -> SafeString | str:
        if not obj or not obj.order_bundle_id:
            return EMPTY
        others = Order.objects.filter(account_id=obj.account_id, order_bundle_id=obj.order_bundle_id).exclude(
            pk=obj.pk
        )
        rows = [
            (reverse("admin:orders_order_change", args=[o.pk]), o.order_number, o.title, o.status)
            for o in others
        ]
        if not rows:
            return format_html("{} (no other order)", obj.order_bundle_id)
        return format_html_join(", ", '<a href="{}">{}</a> {} ({})', rows)

    @admin.display(description="Payments on this order")
    def payments_table(self, obj: Order) -> SafeString | str:
        if not obj or not obj.pk:
            return EMPTY
        rows = [
            (
                p.remote_created_at.strftime("%Y-%m-%d %H:%M") if p.remote_created_at else "",
                p.status,
                p.payment_method,
                p.amount if p.amount is not None else "",
                p.currency,
            )
            for p in obj.payments.all()
        ]
        if not rows:
            return "none pulled yet"
        return format_html(
            "<table><tr><th>When</th><th>Status</th><th>Method</th><th>Amount</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>", rows),
        )

    @admin.action(description="Ship selected orders…", permissions=["ship"])
    def ship_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return views.ship_selected_redirect(list(queryset.values_list("pk", flat=True)))

    def has_ship_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.ship_order")

    @admin.action(description="Export selected orders as CSV (with shop SKUs)")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponseBase:
        """The same CSV as the payouts report's orders export (orders/exports.py)."""
        header, rows = order_rows(queryset.order_by("paid_at", "order_number"))
        return csv_response("orders.csv", header, rows, stream=False)

    def reverb_url(self, obj: Order) -> str:
        return order_web_url(obj.order_number, obj.web_url or obj.link("web"))

    @admin.display(description="Reverb")
    def reverb_column(self, obj: Order) -> SafeString | str:
        return reverb_link(self.reverb_url(obj), "view")

    @admin.display(description="Payments")
    def payments_link(self, obj: Order) -> SafeString | str:
        return related_changelist_link(Payment, "order", obj, "payments") if obj else EMPTY

    @admin.display(description="Feedback")
    def feedback_link(self, obj: Order) -> SafeString | str:
        return related_changelist_link(Feedback, "order", obj, "feedback") if obj else EMPTY


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


@admin.register(ShippingProviderMapping)
class ShippingProviderMappingAdmin(BaseAdmin):
    list_display = ["local_name", "provider", "account"]
    list_filter = ["account", "provider"]
    search_fields = ["local_name", "provider"]
    list_editable = ["provider"]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "provider":  # THE carrier list (orders/carriers.py) of the user's shops
            names = carriers.reverb_names(accounts_of(request.user))
            return forms.ChoiceField(choices=[(p, p) for p in names], label="Reverb provider")
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(SkuMapping)
class SkuMappingAdmin(BaseAdmin):
    list_display = ["reverb_sku", "shop_sku", "account"]
    list_filter = ["account"]
    search_fields = ["=reverb_sku", "=shop_sku"]
