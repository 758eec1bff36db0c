"""Admin for payouts (with their line items inline) and payout line items."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice.admin.base import BaseAdmin
from backoffice.admin.links import EMPTY, admin_link
from backoffice.admin.mirror import MirrorInline, ReverbMirrorAdmin, link_column, money_column

from . import views
from .models import FeeSchedule, Payout, PayoutLineItem


class PayoutLineItemInline(MirrorInline):
    """The payout's orders, read-only; the linked orders come in the same query (select_related)."""

    model = PayoutLineItem
    fk_name = "payout"
    fields = ["order_number", "order_link", "title", "amount_total_money", "fees_money"]
    readonly_fields = fields

    # staticmethod: the admin calls these with the row only, like list_display callables.
    order_link = staticmethod(link_column("order", "order"))
    amount_total_money = staticmethod(money_column("amount_total", "total"))
    fees_money = staticmethod(money_column("fees", "fees"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[PayoutLineItem]:
        return super().get_queryset(request).select_related("order")


@admin.register(Payout)
class PayoutAdmin(ReverbMirrorAdmin):
    resync_resource = "payouts"
    list_display = [
        "reverb_id",
        "remote_created_at",
        money_column("total", "total"),
        "line_count",
        "account",
        "reconcile_link",
    ]
    link_fields = ("reconcile_link",)
    list_filter = ["account", "currency", "missing"]
    search_fields = ["=reverb_id", "line_items__order_number"]
    date_hierarchy = "remote_created_at"
    ordering = ["-remote_created_at", "-id"]
    list_select_related = ["account"]
    inlines = [PayoutLineItemInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Payout]:
        # A subquery per shown row, not a join grouped over every payout: the filters and the date
        # hierarchy, which reuse this queryset, would otherwise join all the line items too.
        lines = (
            PayoutLineItem.objects.filter(payout=OuterRef("pk"))
            .order_by()
            .values("payout")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(line_count=Coalesce(Subquery(lines), 0))

    @admin.display(description="line items", ordering="line_count")
    def line_count(self, obj: Payout) -> int:
        return obj.line_count

    def reverb_url(self, obj: Payout) -> str:
        return ""  # no public page for a payout that we know of

    @admin.display(description="reconciliation")
    def reconcile_link(self, obj: Payout) -> SafeString | str:
        if obj is None or obj.pk is None:
            return EMPTY
        url = reverse("admin:payouts_payout_reconcile", args=[obj.pk])
        return format_html('<a href="{}">against its orders</a>', url)

    def get_urls(self) -> list[URLPattern]:
        """The payout page, the reconciliation report and the CSV exports, before the model's own URLs."""
        wrap = self.admin_site.admin_view
        ours = [
            path("reconciliation/", wrap(views.reconciliation_report), name="payouts_reconciliation"),
            path("margin/", wrap(views.margin_page), name="payouts_margin"),
            path("export/margin.csv", wrap(views.export_margin), name="payouts_export_margin"),
            path("export/orders.csv", wrap(views.export_orders), name="payouts_export_orders"),
            path("export/line-items.csv", wrap(views.export_line_items), name="payouts_export_line_items"),
            path("<int:pk>/reconcile/", wrap(views.payout_reconcile), name="payouts_payout_reconcile"),
        ]
        return ours + super().get_urls()


@admin.register(PayoutLineItem)
class PayoutLineItemAdmin(ReverbMirrorAdmin):
    resync_resource = "payouts"  # line items are pulled with their payout
    list_display = [
        "reverb_id",
        link_column("payout", "payout"),
        "order_number",
        "order_column",
        "title",
        money_column("amount_total", "total"),
        money_column("fees", "fees"),
        "account",
    ]
    list_filter = ["account", "missing"]
    search_fields = ["=order_number", "=payout_reverb_id", "title"]
    ordering = ["payout_reverb_id", "order_number", "id"]
    list_select_related = ["account", "payout", "order"]

    @admin.display(description="order", ordering="order")
    def order_column(self, obj: PayoutLineItem) -> SafeString | str:
        return admin_link(obj.order)


@admin.register(FeeSchedule)
class FeeScheduleAdmin(BaseAdmin):
    """Per-account fees the reconciliation expects; an account without one uses Reverb's defaults."""

    list_display = [
        "account",
        "selling_percent",
        "processing_percent",
        "processing_fixed",
        "payout_grace_days",
    ]
    list_select_related = ["account"]
    search_fields = ["account__name"]
