"""What the messaging app adds to the core (from MessagingConfig.ready()): its resources (conversations and
their messages, negotiations) and the night's walks, the inbox's offers and conversations, the dashboard's
queues and its offers expiring soonest. What messaging adds to the order's page (orders/slots.py) and the
listing's admin (listings/slots.py), from MessagingConfig.ready()."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin
from django.db.models import F
from django.urls import reverse
from django.utils.safestring import SafeString

from backoffice.access import for_user
from backoffice.admin.links import EMPTY, changelist_url
from backoffice.admin.mirror import related_changelist_link
from backoffice.pages import inbox
from backoffice.pages.dashboard import PANELS, QUEUES, Panel, Queue
from backoffice.sync import registry
from backoffice.sync.resource import Stream
from listings.models import Listing
from listings.slots import LISTING_LINKS
from orders.models import Order
from orders.slots import ORDER_ACTIONS, ORDER_TIMELINE, Event, OrderAction, TimelinePart

from . import sync
from .models import OFFER_SINCE, Conversation, Negotiation, conversations_awaiting_shop, offers_awaiting_shop

OFFERS_SHOWN = 5


def offer_item(n: Negotiation, user: Any, now: datetime) -> inbox.Item:
    return inbox.Item(
        "offer",
        "Offer",
        n.remote_updated_at or n.remote_created_at,
        None,  # its expiry: the inbox's DEADLINES
        n.buyer_name,
        n.listing.title if n.listing else f"listing {n.listing_reverb_id}",
        n.offered_total,
        n.currency,
        reverse("admin:messaging_negotiation_offer", args=[n.pk]),
        "Respond" if user.has_perm("messaging.respond_offer") else "View",
        n.account,
    )


def conversation_item(c: Conversation, user: Any, now: datetime) -> inbox.Item:
    return inbox.Item(
        "conversation",
        "Message",
        c.last_message_at,
        None,
        c.other_party_name,
        str(c),
        None,
        "",
        reverse("admin:messaging_conversation_thread", args=[c.pk]),
        "Reply" if user.has_perm("messaging.reply_message") else "Read",
        c.account,
    )


def messaging_queues(user: Any, now: datetime) -> list[Queue]:
    """Offers awaiting a response and unread conversations (one count each)."""
    queues = []
    if user.has_perm("messaging.view_negotiation"):
        offers = for_user(offers_awaiting_shop(), user).count()
        queues.append(
            Queue(
                "offers", "Offers awaiting a response", offers, reverse("admin:messaging_negotiation_inbox")
            )
        )
    if user.has_perm("messaging.view_conversation"):
        unread = for_user(conversations_awaiting_shop(), user).count()
        queues.append(
            Queue("unread", "Unread conversations", unread, changelist_url(Conversation, unread__exact=1))
        )
    return queues


def offers_expiring(user: Any, now: datetime) -> list[Negotiation]:
    """The offers awaiting the shop that expire soonest (one query)."""
    return list(
        for_user(offers_awaiting_shop(), user)
        .select_related("account", "listing")
        .order_by("expires_at", "pk")
        .only(
            "pk",
            "buyer_name",
            "expires_at",
            "last_offered_total",
            "last_offered_price",
            "currency",
            "account__name",
            "account__time_zone",
            "listing__title",
            "listing__reverb_id",
            "listing__price",
            "listing__state",
            "last_offered_shipping",
            "listing_reverb_id",
        )[:OFFERS_SHOWN]
    )


def order_timeline(order: Order) -> TimelinePart:
    """The buyer's conversations about the order's listing (1 query)."""
    events = []
    if order.listing_id and order.buyer_id:
        with_buyer = Conversation.objects.filter(listing_id=order.listing_id, other_party_id=order.buyer_id)
        for c in with_buyer:
            url = reverse("admin:messaging_conversation_change", args=[c.pk])
            events.append(Event(c.last_message_at, f"Message: {c.subject or 'conversation'}", url=url))
    return TimelinePart(events)


def write_refusal(order: Order) -> str:
    """A delay notice, an address check: the seller writes first, to a buyer Reverb named."""
    return "" if order.buyer_id else "Reverb did not say who the buyer is."


@admin.display(description="Conversations")
def conversations_link(obj: Listing) -> SafeString | str:
    return related_changelist_link(Conversation, "listing", obj, "conversations") if obj else EMPTY


@admin.display(description="Offers")
def negotiations_link(obj: Listing) -> SafeString | str:
    return related_changelist_link(Negotiation, "listing", obj, "negotiations") if obj else EMPTY


def plug_in() -> None:
    registry.register(*sync.RESOURCES)
    registry.NIGHT_WALKS.add(
        (Stream("conversations", lambda c, s, e: c.conversations()),), key="conversations"
    )
    registry.NIGHT_WALKS.add(
        (Stream("listings", lambda c, s, e: c.negotiations(), rows=sync.flatten_negotiations),),
        key="negotiations",
    )
    inbox.SOURCES.add(
        inbox.Source(
            "offer",
            "Offers",
            "messaging.view_negotiation",
            lambda: offers_awaiting_shop().select_related("listing", "account"),
            OFFER_SINCE,
            offer_item,
            ("offers", lambda: reverse("admin:messaging_negotiation_inbox")),
        ),
        key="offer",
    )
    inbox.SOURCES.add(
        inbox.Source(
            "conversation",
            "Messages",
            "messaging.view_conversation",
            lambda: conversations_awaiting_shop().select_related("account"),
            F("last_message_at"),
            conversation_item,
            ("unread conversations", lambda: changelist_url(Conversation, unread__exact=1)),
        ),
        key="conversation",
    )
    QUEUES.add(messaging_queues, key="messaging")
    PANELS.add(
        Panel("messaging/_dashboard_offers.html", "messaging.view_negotiation", offers_expiring, position=10),
        key="offers",
    )
    ORDER_TIMELINE.add(order_timeline, key="messaging")
    ORDER_ACTIONS.add(
        OrderAction(
            50,
            "messaging.reply_message",
            "Write to the buyer",
            "admin:messaging_conversation_write",
            write_refusal,
        ),
        key="messaging.write",
    )
    LISTING_LINKS.add(conversations_link, key="messaging.conversations")
    LISTING_LINKS.add(negotiations_link, key="messaging.negotiations")
