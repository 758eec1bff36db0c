"""The one clock's queries, for any queue with a deadline column: overdue, due today in each row's shop,
at risk; and the state of one deadline. Pure over backoffice/deadlines.py, so every app (and the core)
asks here; automation/queues.py names the queues (their rows and columns)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from backoffice import deadlines
from backoffice.models import ReverbAccount


def state_of(deadline: datetime | None, account: ReverbAccount, now: datetime | None = None) -> str | None:
    """deadlines.OVERDUE, TODAY or LATER for a deadline of `account` (None without one)."""
    return deadlines.due_state(deadline, now or timezone.now(), deadlines.zone(account.time_zone))


def overdue_q(column: str, now: datetime) -> Q:
    return Q(**{f"{column}__lt": now})


def due_today_q(column: str, now: datetime, accounts: Iterable[ReverbAccount]) -> Q:
    """Not overdue and due before midnight in each row's shop (nothing without accounts)."""
    today = Q(pk=None)
    for account in accounts:
        end = deadlines.end_of_today(now, deadlines.zone(account.time_zone))
        today |= Q(account_id=account.pk, **{f"{column}__lt": end})
    return Q(**{f"{column}__gte": now}) & today


def due_by_tonight_q(column: str, now: datetime, accounts: Iterable[ReverbAccount]) -> Q:
    """Overdue or due today: what the digest lists."""
    return overdue_q(column, now) | due_today_q(column, now, accounts)


def at_risk_q(column: str, now: datetime, window: timedelta, recent: timedelta) -> Q:
    """Passes within `window` from now (and did not pass more than `recent` ago): what an alert tells."""
    return Q(**{f"{column}__lte": now + window, f"{column}__gte": now - recent})
