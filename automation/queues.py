"""What is overdue and what falls due today, per queue (the dashboard and the digest share it).

"Today" ends at midnight in each account's time zone; a fixed number of queries whatever the number of
rows or accounts: the accounts once, then one aggregate per queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, DateTimeField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from backoffice.access import accounts_of
from backoffice.models import ReverbAccount

from . import deadlines


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


def offers_with_expiry(qs: QuerySet) -> QuerySet:
    fallback = ExpressionWrapper(
        F("remote_created_at") + deadlines.OFFER_FALLBACK_WINDOW, output_field=DateTimeField()
    )
    return qs.annotate(expiry=Coalesce("expires_at", fallback, output_field=DateTimeField()))


def _counts(qs: QuerySet, column: str, now: datetime, accounts: list[ReverbAccount]) -> tuple[int, int]:
    today = Q()
    for account in accounts:
        end = deadlines.end_of_today(now, deadlines.zone(account.time_zone))
        today |= Q(account_id=account.pk, **{f"{column}__lt": end})
    result = qs.aggregate(
        overdue=Count("pk", filter=Q(**{f"{column}__lt": now})),
        today=Count("pk", filter=Q(**{f"{column}__gte": now}) & today)
        if accounts
        else Count("pk", filter=Q(pk=None)),
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
    result = []
    may = lambda perm: user is None or user.has_perm(perm)  # noqa: E731
    if may("orders.view_order"):
        qs = Order.objects.filter(account_id__in=ids, missing=False, status="paid", local_pickup=False)
        overdue, today = _counts(qs, "ship_by", now, accounts)
        base = {"status__exact": "paid", "local_pickup__exact": 0}
        url = changelist_url(Order, **base, ship_by__lt=iso)
        today_url = changelist_url(Order, **base, ship_by__gte=iso, ship_by__lt=end)
        result.append(Due("ship", "Orders to ship", overdue, today, url, today_url))
    if may("refunds.view_refundrequest"):
        qs = RefundRequest.objects.filter(account_id__in=ids, missing=False, state="pending_seller_response")
        overdue, today = _counts(qs, "answer_by", now, accounts)
        base = {"state__exact": "pending_seller_response"}
        url = changelist_url(RefundRequest, **base, answer_by__lt=iso)
        today_url = changelist_url(RefundRequest, **base, answer_by__gte=iso, answer_by__lt=end)
        result.append(Due("refunds", "Refund requests to answer", overdue, today, url, today_url))
    if may("messaging.view_negotiation"):
        qs = offers_with_expiry(
            Negotiation.objects.filter(account_id__in=ids, missing=False, state="active", actionable=True)
        )
        overdue, today = _counts(qs, "expiry", now, accounts)
        base = {"state__exact": "active", "actionable__exact": 1}
        url = changelist_url(Negotiation, **base, expires_at__lt=iso)
        today_url = changelist_url(Negotiation, **base, expires_at__gte=iso, expires_at__lt=end)
        result.append(Due("offers", "Offers to answer", overdue, today, url, today_url))
    return result
