"""The customer-service inbox: refund requests, offers and conversations that await the shop, oldest first,
each with its deadline and a link to the page where it is answered. Three queries whatever the rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from backoffice.access import for_user
from backoffice.pages.render import page

PERMS = ("refunds.view_refundrequest", "messaging.view_negotiation", "messaging.view_conversation")


@dataclass(frozen=True)
class Item:
    kind: str  # refund, offer, conversation
    label: str
    since: datetime | None
    deadline: datetime | None
    who: str
    what: str
    amount: Decimal | None
    currency: str
    url: str
    action: str  # the link's words: Respond, Open
    account: Any = None  # the shop: its time zone reads the dates and says what is due today
    state: str | None = None  # the one clock's word (automation/queues.py): overdue, today, later

    @property
    def overdue(self) -> bool:
        return self.state == "overdue"

    @property
    def due_today(self) -> bool:
        return self.state == "today"


def inbox_items(user, now: datetime | None = None) -> list[Item]:  # type: ignore[no-untyped-def]
    """Deadlines as the queues have them (automation/queues.py): a refund's answer-by, an offer's expiry
    (48 h after it was made when Reverb sends none), each overdue / due today in its shop's day."""
    from automation.queues import offers_with_expiry, state_of
    from messaging.models import conversations_awaiting_shop, offers_awaiting_shop
    from refunds.models import awaiting_shop

    now = now or timezone.now()
    items: list[Item] = []
    if user.has_perm("refunds.view_refundrequest"):
        can = user.has_perm("refunds.respond_refund")
        for r in for_user(awaiting_shop(), user).select_related("order", "account"):
            answer_by = r.answer_by or r.respond_by
            items.append(
                Item(
                    "refund",
                    "Refund request",
                    r.remote_created_at,
                    answer_by,
                    r.order.buyer_name if r.order else "",
                    f"order {r.order_number}: {r.reason.replace('_', ' ') or 'no reason given'}",
                    r.amount,
                    r.currency,
                    reverse(
                        "admin:refunds_refundrequest_respond" if can else "admin:refunds_refundrequest_queue",
                        args=[r.pk] if can else [],
                    ),
                    "Respond" if can else "View",
                    r.account,
                    state_of(answer_by, r.account, now),
                )
            )
    if user.has_perm("messaging.view_negotiation"):
        can = user.has_perm("messaging.respond_offer")
        offers = offers_with_expiry(for_user(offers_awaiting_shop(), user))
        for n in offers.select_related("listing", "account"):
            items.append(
                Item(
                    "offer",
                    "Offer",
                    n.remote_updated_at or n.remote_created_at,
                    n.expiry,
                    n.buyer_name,
                    n.listing.title if n.listing else f"listing {n.listing_reverb_id}",
                    n.offered_total,
                    n.currency,
                    reverse("admin:messaging_negotiation_offer", args=[n.pk]),
                    "Respond" if can else "View",
                    n.account,
                    state_of(n.expiry, n.account, now),
                )
            )
    if user.has_perm("messaging.view_conversation"):
        can = user.has_perm("messaging.reply_message")
        for c in for_user(conversations_awaiting_shop(), user).select_related("account"):
            items.append(
                Item(
                    "conversation",
                    "Message",
                    c.last_message_at,
                    None,
                    c.other_party_name,
                    str(c),
                    None,
                    "",
                    reverse("admin:messaging_conversation_thread", args=[c.pk]),
                    "Reply" if can else "Read",
                    c.account,
                )
            )
    far = datetime.max.replace(tzinfo=timezone.get_current_timezone())
    items.sort(key=lambda i: (i.since or far, i.kind))
    return items


def inbox(request: HttpRequest) -> HttpResponse:
    if not any(request.user.has_perm(p) for p in PERMS):
        raise PermissionDenied
    now = timezone.now()
    items = inbox_items(request.user, now)
    return page(request, "backoffice/inbox.html", "Customer-service inbox", items=items, now=now)
