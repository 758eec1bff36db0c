"""Admin for the listing mirror: find a listing by SKU/title/make/model, see its state, price and stock."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice.admin_links import EMPTY, reverb_link
from backoffice.admin_mirror import ReverbMirrorAdmin, money_column, related_changelist_link

from .models import Listing


@admin.register(Listing)
class ListingAdmin(ReverbMirrorAdmin):
    resync_resource = "listings"
    list_display = [
        "photo",
        "title",
        "sku",
        "make",
        "model",
        "state",
        money_column("price", "price"),
        "inventory",
        "published_at",
        "remote_updated_at",
        "missing",
        "account",
        "reverb_column",
    ]
    list_display_links = ["title", "sku"]
    list_filter = ["account", "state", "missing", "condition_name", "offers_enabled", "has_inventory"]
    search_fields = ["sku", "title", "make", "model", "=reverb_id"]
    date_hierarchy = "remote_created_at"
    ordering = ["-remote_created_at", "-id"]
    list_select_related = ["account"]
    link_fields = ("orders_link", "conversations_link", "negotiations_link")

    @admin.display(description="")
    def photo(self, obj: Listing) -> SafeString | str:
        url = obj.thumbnail_url
        if not url.startswith(("https://", "http://")):
            return ""
        return format_html(
            '<img src="{}" alt="" loading="lazy" width="48" height="48" style="object-fit:cover">', url
        )

    @admin.display(description="Reverb")
    def reverb_column(self, obj: Listing) -> SafeString | str:
        return reverb_link(self.reverb_url(obj), "view")

    @admin.display(description="Orders")
    def orders_link(self, obj: Listing) -> SafeString | str:
        from orders.models import Order

        return related_changelist_link(Order, "listing", obj, "orders") if obj else EMPTY

    @admin.display(description="Conversations")
    def conversations_link(self, obj: Listing) -> SafeString | str:
        from messaging.models import Conversation

        return related_changelist_link(Conversation, "listing", obj, "conversations") if obj else EMPTY

    @admin.display(description="Offers")
    def negotiations_link(self, obj: Listing) -> SafeString | str:
        from messaging.models import Negotiation

        return related_changelist_link(Negotiation, "listing", obj, "negotiations") if obj else EMPTY
