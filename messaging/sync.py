"""Conversations (+ their messages) and offer negotiations: payload -> fields (pure), and how each is pulled.

Conversation and message JSON is not documented (API-NOTES 9); the shapes read here are the emulator's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backoffice.sync.engine import Link, Resource, Walk
from backoffice.sync.mapping import boolean, integer, key_of, link, read_money, text, told, when
from backoffice.sync.pipeline import newest_first, until_unchanged

from .models import Conversation, Message, Negotiation

if TYPE_CHECKING:
    from backoffice.reverb.client import ReverbClient

_LISTING_ID = re.compile(r"/listings/(\d+)")
LISTING_LINK = Link(field="listing", key_field="listing_reverb_id", target="listings.Listing")


def _listing_id(payload: Mapping[str, Any]) -> str:
    listing = payload.get("listing")
    if isinstance(listing, Mapping) and listing.get("id") not in (None, ""):
        return str(listing["id"])
    if payload.get("listing_id") not in (None, ""):
        return str(payload["listing_id"])
    match = _LISTING_ID.search(link(payload, "listing"))
    return match.group(1) if match else ""


def _party(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, Mapping) else {}


# Fields read from a payload key of another name (`told`: an absent key leaves the column as it was).
_TIMES = {"remote_created_at": "created_at", "remote_updated_at": "updated_at"}
_LISTING_KEYS = ("listing", "listing_id", "_links")
CONVERSATION_SOURCES = {
    "subject": ("subject", "listing"),
    "other_party_name": ("other_party", "other_party_name"),
    "other_party_id": "other_party",
    "listing_reverb_id": _LISTING_KEYS,
    **_TIMES,
}
NEGOTIATION_SOURCES = {
    "buyer_name": ("buyer_name", "other_party_name"),
    "offers_count": ("offers_count", "offers"),
    "currency": ("last_offered_price", "last_offered_total"),
    "listing_reverb_id": _LISTING_KEYS,
    **_TIMES,
}


def map_conversation(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    key = key_of(payload)
    other = _party(payload, "other_party")
    listing = _party(payload, "listing")
    fields = {
        "subject": text(payload, "subject", 500) or text(listing, "title", 500),
        "unread": boolean(payload, "unread"),
        "last_message_at": when(payload, "last_message_at"),
        "other_party_name": text(other, "name", 255) or text(payload, "other_party_name", 255),
        "other_party_id": text(other, "id", 64),
        "listing_reverb_id": _listing_id(payload),
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }
    return key, told(payload, fields, CONVERSATION_SOURCES)


def map_message(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A message row carries `conversation_id` (added by our fetcher when the detail omits it)."""
    key = key_of(payload)
    sender = _party(payload, "sender")
    return key, {
        "conversation_reverb_id": key_of(payload, "conversation_id"),
        "body": text(payload, "body") or text(payload, "message"),  # the shape is a guess (API-NOTES 16.6)
        "sender_name": text(sender, "name", 255) or text(payload, "sender_name", 255),
        "sender_id": text(sender, "id", 64),
        "sent_at": when(payload, "created_at") or when(payload, "sent_at"),
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }


def map_negotiation(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    key = key_of(payload)
    price, currency = read_money(payload, "last_offered_price")
    shipping, _ = read_money(payload, "last_offered_shipping")
    total, total_currency = read_money(payload, "last_offered_total")
    offers = payload.get("offers")
    count = integer(payload, "offers_count")
    fields = {
        "state": text(payload, "state", 40),
        "buyer_name": text(payload, "buyer_name", 255) or text(payload, "other_party_name", 255),
        "buyer_id": text(payload, "buyer_id", 64),
        "offers_count": count if count is not None else len(offers) if isinstance(offers, list) else 0,
        "last_offered_price": price,
        "last_offered_shipping": shipping,
        "last_offered_total": total,
        "currency": currency or total_currency,
        "expires_at": when(payload, "expires_at"),
        "actionable": boolean(payload, "actionable"),
        "listing_reverb_id": _listing_id(payload),
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }
    return key, told(payload, fields, NEGOTIATION_SOURCES)


def fetch_conversations(client: ReverbClient, since: datetime | None) -> Iterator[Sequence[dict[str, Any]]]:
    """Newest activity first: an incremental run stops at the first page that changed nothing."""
    return until_unchanged(page.items for page in client.conversations())


def fetch_messages(client: ReverbClient, conversations: list[dict[str, Any]]) -> Iterator[Sequence[dict]]:
    """Messages of new/changed conversations: from the list row when it carries them, else one detail
    request per such conversation (never for unchanged ones)."""
    for conversation in conversations:
        messages = conversation.get("messages")
        if messages is None:
            messages = client.get_conversation(conversation["id"]).get("messages") or []
        cid = conversation["id"]
        yield [m if "conversation_id" in m else {**m, "conversation_id": cid} for m in messages]


def fetch_negotiations(client: ReverbClient, since: datetime | None) -> Iterable[Sequence[dict[str, Any]]]:
    """Listings with the newest negotiation activity first (the emulator's order; Reverb's is not
    documented): an incremental run stops at the first page that changed nothing."""
    return newest_first(client, _negotiation_pages(client), since)


def _negotiation_pages(client: ReverbClient) -> Iterator[Sequence[dict[str, Any]]]:
    """Rows are listings with nested `negotiations` (API-NOTES 10.1); flatten them, noting the listing id
    on each negotiation that does not say it (`listing_id`, ours)."""
    for page in client.negotiations():
        yield flatten_negotiations(page.items)


def flatten_negotiations(listings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The negotiations of one page of listings, each with the listing id it belongs to."""
    rows = []
    for listing in listings:
        for negotiation in listing.get("negotiations") or []:
            if _listing_id(negotiation) or listing.get("id") is None:
                rows.append(negotiation)
            else:
                rows.append({**negotiation, "listing_id": listing["id"]})
    return rows


MESSAGES = Resource(
    name="messages",
    model=Message,
    mapper=map_message,
    fetch=None,
    mark_missing=False,
    links=(Link(field="conversation", key_field="conversation_reverb_id", target="messaging.Conversation"),),
)
CONVERSATIONS = Resource(
    name="conversations",
    model=Conversation,
    mapper=map_conversation,
    fetch=fetch_conversations,
    incremental=True,
    newest_first=True,
    links=(LISTING_LINK,),
    children=(("messages", fetch_messages),),
    first_work=(Walk("unread conversations", "conversations", lambda c: c.conversations(unread_only=True)),),
    description="/my/conversations, newest first until an unchanged page; messages of new/changed ones",
)
# The list holds active negotiations only, so `missing` on a negotiation means "no longer active": only a
# complete scan (the first pull, the nightly reconciliation, --full) marks that; an incremental pull reads
# newest first until a page with nothing new, so a new offer or a counter shows within one pull.
NEGOTIATIONS = Resource(
    name="negotiations",
    model=Negotiation,
    mapper=map_negotiation,
    fetch=fetch_negotiations,
    incremental=True,
    newest_first=True,
    links=(LISTING_LINK,),
    first_work=(
        Walk("active offers", "listings", lambda c: c.negotiations(), rows=flatten_negotiations, whole=True),
    ),
    description="/my/listings/negotiations (active offers), newest first until an unchanged page; "
    "complete (marks ended offers) on the first pull and the nightly pass",
)
RESOURCES = [CONVERSATIONS, MESSAGES, NEGOTIATIONS]
