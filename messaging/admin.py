"""Admin for conversations (with their messages inline), messages and offer negotiations."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice.admin.base import BaseAdmin
from backoffice.admin.mirror import MirrorInline, ReverbMirrorAdmin, link_column, money_column
from backoffice.templatetags.shop_time import shop_time

from . import views
from .models import Conversation, Message, Negotiation, OfferPolicy, offers_with_expiry


class MessageInline(MirrorInline):
    """The conversation's messages, oldest first, read-only (one query whatever their number)."""

    model = Message
    fields = ["sent_at", "sender_name", "body"]
    readonly_fields = fields
    ordering = ["sent_at", "id"]


@admin.register(Conversation)
class ConversationAdmin(ReverbMirrorAdmin):
    resync_resource = "conversations"
    list_display = [
        "subject_link",
        "other_party_name",
        link_column("listing", "listing"),
        "unread",
        "last_message_at",
        "account",
    ]
    list_filter = ["account", "unread", "missing"]
    search_fields = ["subject", "other_party_name", "=listing_reverb_id", "listing__sku", "listing__title"]
    date_hierarchy = "last_message_at"
    ordering = ["-unread", "-last_message_at", "-id"]  # unread first
    list_display_links = None  # the subject opens the thread page, where the reply box is
    list_select_related = ["account", "listing"]
    inlines = [MessageInline]

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:pk>/thread/",
                self.admin_site.admin_view(views.conversation),
                name="messaging_conversation_thread",
            ),
            path(
                "<int:pk>/offer/",
                self.admin_site.admin_view(views.conversation_offer),
                name="messaging_conversation_offer",
            ),
            path(
                "write/<int:order_pk>/",
                self.admin_site.admin_view(views.write_about_order),
                name="messaging_conversation_write",
            ),
        ]
        return own + super().get_urls()

    @admin.display(description="subject", ordering="subject")
    def subject_link(self, obj: Conversation) -> SafeString:
        return format_html(
            '<a href="{}"{}>{}</a>',
            reverse("admin:messaging_conversation_thread", args=[obj.pk]),
            SafeString(' class="unread"') if obj.unread else "",
            str(obj),
        )


@admin.register(Message)
class MessageAdmin(ReverbMirrorAdmin):
    resync_resource = "conversations"  # messages are pulled with their conversation
    list_display = [
        "reverb_id",
        "sent_at",
        "sender_name",
        "body_excerpt",
        link_column("conversation", "conversation"),
        "account",
    ]
    list_filter = ["account", "missing"]
    search_fields = ["body", "sender_name", "=conversation_reverb_id"]
    date_hierarchy = "sent_at"
    ordering = ["-sent_at", "-id"]
    list_select_related = ["account", "conversation"]

    @admin.display(description="message")
    def body_excerpt(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"


@admin.register(Negotiation)
class NegotiationAdmin(ReverbMirrorAdmin):
    resync_resource = "negotiations"
    list_display = [
        "reverb_id",
        link_column("listing", "listing"),
        "buyer_name",
        "state",
        money_column("last_offered_total", "last offer"),
        "offers_count",
        "actionable",
        "expiry",
        "remote_updated_at",
        "account",
    ]
    list_filter = ["account", "state", "actionable", "missing"]
    search_fields = ["buyer_name", "=listing_reverb_id", "listing__sku", "listing__title"]
    date_hierarchy = "remote_updated_at"
    ordering = ["-remote_updated_at", "-id"]
    list_select_related = ["account", "listing"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Negotiation]:
        return offers_with_expiry(super().get_queryset(request))

    @admin.display(description="expires", ordering="expiry")
    def expiry(self, obj: Negotiation) -> Any:
        """Reverb's expires_at; when not sent, 48 h after the offer was made (backoffice/deadlines.py); in
        the shop's time."""
        return shop_time(obj.expiry, obj.account) or "-"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("inbox/", wrap(views.offers_inbox), name="messaging_negotiation_inbox"),
            path("<int:pk>/offer/", wrap(views.offer), name="messaging_negotiation_offer"),
        ]
        return own + super().get_urls()


@admin.register(OfferPolicy)
class OfferPolicyAdmin(BaseAdmin):
    list_display = ["account", "floor_percent"]
