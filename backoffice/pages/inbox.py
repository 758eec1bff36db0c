"""The customer-service inbox: refund requests, offers and conversations that await the shop, oldest first,
each with its deadline and a link to the page where it is answered; 100 a page (?p=), one kind alone with
?kind=. Three queries per kind whatever the rows or the page (a count, the keys, the page's rows)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from backoffice.access import for_user
from backoffice.pages.paging import PAGE_SIZE, pager
from backoffice.pages.render import page

PERMS = ("refunds.view_refundrequest", "messaging.view_negotiation", "messaging.view_conversation")
KINDS = ("refund", "offer", "conversation")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # stands in for a missing date in the merge key (sorted last anyway)


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


@dataclass(frozen=True)
class Source:
    """One kind of item: who may see it, its rows awaiting the shop, when each started waiting."""

    kind: str
    title: str
    perm: str
    rows: Callable[[], QuerySet[Any]]
    since: Any  # an expression over the rows: the inbox's order
    build: Callable[[Any, Any, datetime], Item]  # (row, user, now) -> Item


def _state(deadline: datetime | None, account: Any, now: datetime) -> str | None:
    from automation.queues import state_of

    return state_of(deadline, account, now)


def _refund(r: Any, user: Any, now: datetime) -> Item:
    can = user.has_perm("refunds.respond_refund")
    answer_by = r.answer_by or r.respond_by
    return Item(
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
        _state(answer_by, r.account, now),
    )


def _offer(n: Any, user: Any, now: datetime) -> Item:
    expiry = getattr(n, "expiry", None) or n.expires_at  # 48 h after it was made when Reverb sends none
    return Item(
        "offer",
        "Offer",
        n.remote_updated_at or n.remote_created_at,
        expiry,
        n.buyer_name,
        n.listing.title if n.listing else f"listing {n.listing_reverb_id}",
        n.offered_total,
        n.currency,
        reverse("admin:messaging_negotiation_offer", args=[n.pk]),
        "Respond" if user.has_perm("messaging.respond_offer") else "View",
        n.account,
        _state(expiry, n.account, now),
    )


def _conversation(c: Any, user: Any, now: datetime) -> Item:
    return Item(
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


def sources() -> list[Source]:
    from automation.queues import offers_with_expiry
    from messaging.models import OFFER_SINCE, conversations_awaiting_shop, offers_awaiting_shop
    from refunds.models import awaiting_shop

    return [
        Source(
            "refund",
            "Refund requests",
            "refunds.view_refundrequest",
            lambda: awaiting_shop().select_related("order", "account"),
            F("remote_created_at"),
            _refund,
        ),
        Source(
            "offer",
            "Offers",
            "messaging.view_negotiation",
            lambda: offers_with_expiry(offers_awaiting_shop()).select_related("listing", "account"),
            OFFER_SINCE,
            _offer,
        ),
        Source(
            "conversation",
            "Messages",
            "messaging.view_conversation",
            lambda: conversations_awaiting_shop().select_related("account"),
            F("last_message_at"),
            _conversation,
        ),
    ]


def inbox_counts(user: Any) -> dict[str, int]:
    """Items awaiting `user`'s shops per kind the user may see (each on its kind's partial index)."""
    return {s.kind: for_user(s.rows(), user).count() for s in sources() if user.has_perm(s.perm)}


def inbox_page(
    user: Any,
    offset: int = 0,
    size: int = PAGE_SIZE,
    kinds: list[str] | None = None,
    now: datetime | None = None,
) -> list[Item]:
    """The items at [offset, offset + size) of everything awaiting `user`'s shops, oldest first.

    Queries, whatever the page or the shops' size: per kind the first offset + size keys in the inbox's
    order (on the kind's partial index), then the page's rows of each kind on the page. The page is the
    merge of the kinds' keys, so it is the same as sorting everything."""
    now = now or timezone.now()
    shown = [s for s in sources() if user.has_perm(s.perm) and (not kinds or s.kind in kinds)]
    keyed = []
    for s in shown:
        qs = for_user(s.rows(), user).select_related(None).annotate(inbox_since=s.since)
        ordered = qs.order_by(F("inbox_since").asc(nulls_last=True), "pk").values_list("inbox_since", "pk")
        keyed.append([(since is None, since or EPOCH, s.kind, pk) for since, pk in ordered[: offset + size]])
    page_keys = list(heapq.merge(*keyed))[offset : offset + size]
    built: dict[tuple[str, int], Item] = {}
    for s in shown:
        pks = [key[3] for key in page_keys if key[2] == s.kind]
        if pks:
            for row in for_user(s.rows(), user).filter(pk__in=pks):
                built[(s.kind, row.pk)] = s.build(row, user, now)
    return [built[(key[2], key[3])] for key in page_keys if (key[2], key[3]) in built]


def inbox_items(user: Any, now: datetime | None = None) -> list[Item]:
    """Every item awaiting `user`'s shops, oldest first (for small sets; the page is paged). Deadlines as
    the queues have them (automation/queues.py): a refund's answer-by, an offer's expiry (48 h after it was
    made when Reverb sends none), each overdue / due today in its shop's day."""
    return inbox_page(user, 0, sum(inbox_counts(user).values()), now=now)


def inbox(request: HttpRequest) -> HttpResponse:
    if not any(request.user.has_perm(p) for p in PERMS):
        raise PermissionDenied
    kind = request.GET.get("kind", "")
    kinds = [kind] if kind in KINDS else None
    counts = inbox_counts(request.user)
    pages = pager(request, sum(n for k, n in counts.items() if not kinds or k in kinds))
    now = timezone.now()
    items = inbox_page(request.user, pages.offset, pages.size, kinds, now) if pages.total else []
    titles = {s.kind: s.title for s in sources() if s.kind in counts}
    return page(
        request,
        "backoffice/inbox.html",
        "Customer-service inbox",
        items=items,
        sections=[(k, titles[k], n) for k, n in counts.items()],
        everything=sum(counts.values()),
        kind=kind if kinds else "",
        pager=pages,
        now=now,
    )
