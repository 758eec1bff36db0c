"""Refund requests: payload -> RefundRequest fields (pure), and how the collection is pulled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backoffice.sync.engine import Link, Resource, Walk
from backoffice.sync.mapping import key_of, read_money, text, told, when
from backoffice.sync.pipeline import read_ahead

from .models import STATES, RefundRequest

if TYPE_CHECKING:
    from backoffice.reverb.client import ReverbClient

# The list answers only active requests by default (API-NOTES 8): ask for every documented state so
# approvals, denials, cancellations and Reverb's own approvals reach the mirror too.
ALL_STATES = tuple(STATES)
# The refund queue: requests still waiting on the shop (the list's own default, asked for by name).
OPEN_STATES = ("pending_seller_response", "conditionally_approved")


REFUND_SOURCES = {
    "amount": ("amount", "refund_amount"),
    "currency": ("amount", "refund_amount"),
    "order_number": ("order_number", "order"),
    "remote_created_at": "created_at",
    "remote_updated_at": "updated_at",
}


def map_refund_request(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    key = key_of(payload)
    amount, currency = read_money(payload, "amount")
    if amount is None:  # the request body's name for it, in case a response echoes it
        amount, currency = read_money(payload, "refund_amount")
    order = payload.get("order") if isinstance(payload.get("order"), Mapping) else {}
    fields = {
        "state": text(payload, "state", 40),
        "amount": amount,
        "currency": currency,
        "refund_type": text(payload, "refund_type", 20),
        "reason": text(payload, "reason", 60),
        "initiated_by": text(payload, "initiated_by", 20),
        "note_to_buyer": text(payload, "note_to_buyer"),
        "order_number": text(payload, "order_number", 64) or text(order, "order_number", 64),
        "remote_created_at": when(payload, "created_at"),
        "remote_updated_at": when(payload, "updated_at"),
    }
    return key, told(payload, fields, REFUND_SOURCES)


def fetch_refund_requests(client: ReverbClient, since: datetime | None) -> Iterable[Sequence[dict[str, Any]]]:
    pages = client.refund_requests(state=list(ALL_STATES), updated_start=since)
    return read_ahead(client, (page.items for page in pages))


REFUNDS = Resource(
    name="refunds",
    model=RefundRequest,
    mapper=map_refund_request,
    fetch=fetch_refund_requests,
    incremental=True,
    links=(Link(field="order", key_field="order_number", target="orders.Order"),),
    first_work=(
        Walk("open refund requests", "refund_requests", lambda c: c.refund_requests(state=list(OPEN_STATES))),
    ),
    description="/my/refund_requests/selling, every state, updated_start_date = last success - overlap",
)
RESOURCES = [REFUNDS]
