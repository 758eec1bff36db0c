"""What automation adds to the pages of the apps below it, from AutomationConfig.ready(): the price edit
action and the margin box of the listings pages (listings/slots.py), the saved replies of the reply box and
the margin of the offer page (messaging/slots.py)."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from listings.slots import LISTING_ACTIONS, LISTING_PAGE_PANELS
from messaging.slots import OFFER_PAGE_PANELS, SAVED_REPLIES

from .price_edit import change_prices
from .replies import for_conversation
from .templatetags import margin


def listing_margin_box(context: Any, listing: Any) -> str:
    return render_to_string("automation/margin_box.html", margin.listing_margin(listing))


def offer_margin_box(context: Any, negotiation: Any) -> str:
    return render_to_string("automation/margin_box.html", margin.offer_margin(negotiation))


def add_all() -> None:
    LISTING_ACTIONS.add(change_prices, key="automation.change_prices")
    LISTING_PAGE_PANELS.add(listing_margin_box, key="automation.margin")
    SAVED_REPLIES.add(for_conversation, key="automation.saved_replies")
    OFFER_PAGE_PANELS.add(offer_margin_box, key="automation.margin")
