"""What messaging adds to the order's page (orders/slots.py) and the listing's admin (listings/slots.py),
from MessagingConfig.ready()."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.safestring import SafeString

from backoffice.admin.links import EMPTY
from backoffice.admin.mirror import related_changelist_link
from listings.models import Listing
from listings.slots import LISTING_LINKS
from orders.models import Order
from orders.slots import ORDER_ACTIONS, ORDER_TIMELINE, Event, OrderAction, TimelinePart

from .models import Conversation, Negotiation


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


def add_all() -> None:
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
