"""Saved replies: fill a template's placeholders for one conversation (the person edits before sending).

Only the four known placeholders are replaced; any other text in braces stays as written, and a value
this conversation does not have becomes an empty string (the person sees it in the box)."""

from __future__ import annotations

import re
from typing import Any

from backoffice.sync.mapping import link

from .models import SavedReply

PLACEHOLDERS = ("buyer_name", "order_number", "tracking_link", "listing_title")
_PATTERN = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def values_for(conversation: Any, order: Any = None) -> dict[str, str]:
    """The placeholders' values for a conversation (None: writing first, about `order`)."""
    tracking = ""
    if order is not None:
        tracking = link(order.raw or {}, "web_tracking") or " ".join(
            x for x in (order.shipping_provider, order.tracking_code) if x
        )
    listing = conversation.listing if conversation is not None else None
    other = conversation.other_party_name if conversation is not None else ""
    return {
        "buyer_name": other or (order.buyer_name if order is not None else ""),
        "order_number": order.order_number if order is not None else "",
        "tracking_link": tracking,
        "listing_title": listing.title if listing is not None else (order.title if order is not None else ""),
    }


def fill(body: str, values: dict[str, str]) -> str:
    return _PATTERN.sub(lambda m: values.get(m.group(1), ""), body)


def for_conversation(conversation: Any, order: Any = None) -> list[tuple[SavedReply, str]]:
    """The account's saved replies, each with its text filled for this conversation (one query); with no
    conversation yet, for a first message about `order`."""
    values = values_for(conversation, order)
    account_id = conversation.account_id if conversation is not None else order.account_id
    return [(r, fill(r.body, values)) for r in SavedReply.objects.filter(account_id=account_id)]
