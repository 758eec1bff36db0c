"""The queues with a deadline, on the one clock (backoffice/clock.py, backoffice/deadlines.py): what is
overdue, what falls due today and what is at risk per queue. The dashboard, the inbox, the digest and the
alerts ask here; the shipping queue and the order page ask the core's clock directly (orders is below us).

- A row's state is `deadlines.due_state` (overdue: the deadline has passed; due today: it passes before
  midnight in the shop's time zone; later). `clock.state_of` applies it to a row of any queue.
- A queue's rows are `rows(key)`: the same querysets the pages list (orders awaiting shipment, refund
  requests awaiting an answer, offers awaiting the shop), each with its deadline column.
- Counts are `clock.overdue_q` / `clock.due_today_q` on those rows: a fixed number of queries whatever the
  number of rows or accounts (the accounts once, then one aggregate per queue)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from backoffice import deadlines
from backoffice.access import accounts_of
from backoffice.clock import due_today_q, overdue_q
from backoffice.clock import state_of as state_of  # the inbox and the dashboard read the one clock here too
from backoffice.models import ReverbAccount
from messaging.models import offers_with_expiry as offers_with_expiry  # (the inbox reads it here)


@dataclass(frozen=True)
class Due:
    key: str  # ship, refunds, offers
    label: str
    overdue: int
    today: int
    url: str  # the queue, filtered to what is overdue
    today_url: str  # the queue, filtered to what falls due by the end of today

    @property
    def any(self) -> bool:
        return bool(self.overdue or self.today)


def _ship_rows() -> QuerySet:
    from orders.models import awaiting_shipment

    return awaiting_shipment()


def _refund_rows() -> QuerySet:
    from refunds.models import awaiting_shop

    # The clock runs on the answer: a conditional approval waits for the item, not for the shop's word.
    return awaiting_shop().filter(state="pending_seller_response")


def _offer_rows() -> QuerySet:
    from messaging.models import offers_awaiting_shop

    return offers_with_expiry(offers_awaiting_shop())


@dataclass(frozen=True)
class Clock:
    """One queue with a deadline: its rows, the column that holds the deadline, who may view it."""

    key: str
    label: str
    permission: str
    column: str
    rows: Callable[[], QuerySet]


CLOCKS = {
    c.key: c
    for c in (
        Clock("ship", "Orders to ship", "orders.view_order", "ship_by", _ship_rows),
        Clock(
            "refunds", "Refund requests to answer", "refunds.view_refundrequest", "answer_by", _refund_rows
        ),
        Clock("offers", "Offers to answer", "messaging.view_negotiation", "expiry", _offer_rows),
    )
}


def rows(key: str) -> QuerySet:
    """The rows of queue `key` (every shop: callers scope them), with its deadline column."""
    return CLOCKS[key].rows()


def _counts(qs: QuerySet, column: str, now: datetime, accounts: list[ReverbAccount]) -> tuple[int, int]:
    result = qs.aggregate(
        overdue=Count("pk", filter=overdue_q(column, now)),
        today=Count("pk", filter=due_today_q(column, now, accounts)),
    )
    return result["overdue"], result["today"]


def due_queues(
    user: Any = None, now: datetime | None = None, account_ids: list[int] | None = None
) -> list[Due]:
    """Orders to ship, refund requests to answer and offers to answer: overdue and due today. Limited to
    what `user` may view, in `user`'s shops (None: every queue of every shop, for the digest), and to
    `account_ids` when given."""
    from backoffice.admin.links import changelist_url
    from messaging.models import Negotiation
    from orders.models import Order
    from refunds.models import RefundRequest

    now = now or timezone.now()
    shops = ReverbAccount.objects.all() if user is None else accounts_of(user)
    accounts = list(shops.filter(**({"pk__in": account_ids} if account_ids is not None else {})))
    ids = [a.pk for a in accounts]
    iso = now.isoformat()
    zones = [deadlines.zone(a.time_zone) for a in accounts] or [deadlines.zone("UTC")]
    end = max(deadlines.end_of_today(now, tz) for tz in zones).isoformat()
    # The changelist each count links to, filtered to the same rows (its own filters, then the deadline).
    links = {
        "ship": (Order, {"status__exact": "paid", "local_pickup__exact": 0}, "ship_by"),
        "refunds": (RefundRequest, {"state__exact": "pending_seller_response"}, "answer_by"),
        "offers": (Negotiation, {"state__exact": "active", "actionable__exact": 1}, "expires_at"),
    }
    result = []
    for clock in CLOCKS.values():
        if user is not None and not user.has_perm(clock.permission):
            continue
        overdue, today = _counts(clock.rows().filter(account_id__in=ids), clock.column, now, accounts)
        model, base, field = links[clock.key]
        url = changelist_url(model, **base, **{f"{field}__lt": iso})
        today_url = changelist_url(model, **base, **{f"{field}__gte": iso, f"{field}__lt": end})
        result.append(Due(clock.key, clock.label, overdue, today, url, today_url))
    return result
