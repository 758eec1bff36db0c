"""Admin for the refund-request mirror."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.urls import URLPattern, path

from backoffice.admin.links import order_web_url
from backoffice.admin.mirror import ReverbMirrorAdmin, deadline_column, link_column, money_column

from . import views
from .models import STATES, RefundRequest


class StateFilter(admin.AllValuesFieldListFilter):
    """Every state Reverb documents, in words, whether or not a row has it yet; then any other value the
    mirror holds (Reverb may send one we do not know)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        held = [v for v in self.lookup_choices if v not in STATES and v is not None]
        self.lookup_choices = [*STATES, *held]

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        yield {
            "selected": self.lookup_val is None,
            "query_string": changelist.get_query_string(remove=[self.lookup_kwarg, self.lookup_kwarg_isnull]),
            "display": "All",
        }
        for value in self.lookup_choices:
            yield {
                "selected": self.lookup_val is not None and value in self.lookup_val,
                "query_string": changelist.get_query_string(
                    {self.lookup_kwarg: value}, [self.lookup_kwarg_isnull]
                ),
                "display": STATES.get(value, value or "(none)"),
            }


@admin.register(RefundRequest)
class RefundRequestAdmin(ReverbMirrorAdmin):
    resync_resource = "refunds"
    list_display = [
        "reverb_id",
        "remote_created_at",
        deadline_column("answer_by", "answer by"),
        "order_number",
        link_column("order", "order"),
        "state",
        money_column("amount", "amount"),
        "refund_type",
        "reason",
        "initiated_by",
        "remote_updated_at",
        "account",
    ]
    list_filter = ["account", ("state", StateFilter), "reason", "initiated_by", "refund_type", "missing"]
    search_fields = ["=reverb_id", "=order_number", "order__buyer_name", "order__sku"]
    date_hierarchy = "remote_created_at"
    ordering = ["-remote_created_at", "-id"]
    list_select_related = ["account", "order"]

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("queue/", wrap(views.queue), name="refunds_refundrequest_queue"),
            path("<int:pk>/respond/", wrap(views.respond), name="refunds_refundrequest_respond"),
            path(
                "new-for-order/<int:order_pk>/",
                wrap(views.new_for_order),
                name="refunds_refundrequest_new_for_order",
            ),
        ]
        return own + super().get_urls()

    def reverb_url(self, obj: RefundRequest) -> str:
        # A refund request has no page of its own that we know of: its order's page shows it.
        own = obj.link("web")
        if own:
            return own
        order_url = obj.order.web_url if obj.order_id and obj.order else ""
        return order_web_url(obj.order_number, order_url)
