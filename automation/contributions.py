"""What automation adds to the pages of the apps below it, from AutomationConfig.ready(): the price edit
action of the listings changelist (listings/slots.py) and the saved replies of the reply box
(messaging/slots.py)."""

from __future__ import annotations

from listings.slots import LISTING_ACTIONS
from messaging.slots import SAVED_REPLIES

from .price_edit import change_prices
from .replies import for_conversation


def add_all() -> None:
    LISTING_ACTIONS.add(change_prices, key="automation.change_prices")
    SAVED_REPLIES.add(for_conversation, key="automation.saved_replies")
