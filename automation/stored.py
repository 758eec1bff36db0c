"""The stored deadline columns (Order.ship_by, RefundRequest.answer_by): filled when the mirror writes
those rows (hooks.py) and refilled when an account's holidays or time zone change. Stored and indexed so
queues sort and filter on them with a constant number of queries."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db.models import F

from backoffice import deadlines
from backoffice.models import ReverbAccount

from .models import Holiday


def holidays_of(account_id: int) -> set[date]:
    return set(Holiday.objects.filter(account_id=account_id).values_list("date", flat=True))


# A pull writes a page of orders every second or so; their ship-by reads the holidays once a minute per
# process, not once a page. A holiday saved here is seen at once (hooks.py forgets it); one saved in
# another process within the minute is put right by the 15-minute refill (tasks.deadlines_and_digests
# -> refresh_ship_by, which reads them afresh).
HOLIDAYS_FRESH_SECONDS = 60.0
_holidays_read: dict[int, tuple[float, frozenset[date]]] = {}


def recent_holidays(account_id: int) -> frozenset[date]:
    now = time.monotonic()
    read = _holidays_read.get(account_id)
    if read is None or now - read[0] >= HOLIDAYS_FRESH_SECONDS:
        read = _holidays_read[account_id] = (now, frozenset(holidays_of(account_id)))
    return read[1]


def forget_holidays(account_id: int | None = None) -> None:
    """The next page reads the holidays again (one account's, or every account's)."""
    if account_id is None:
        _holidays_read.clear()
    else:
        _holidays_read.pop(account_id, None)


def refresh_ship_by(account: ReverbAccount) -> int:
    """Recompute ship-by of the account's orders still to ship (after a holiday or time-zone change;
    a mirror write fills it with `fill_ship_by`). Queries: holidays 1, orders 1, one bulk update."""
    from orders.models import Order

    rows = list(
        Order.objects.filter(account=account, status="paid").only(
            "pk", "paid_at", "shipping_method", "ship_by"
        )
    )
    if not rows:
        return 0
    tz = deadlines.zone(account.time_zone)
    holidays = holidays_of(account.pk)
    changed = []
    for order in rows:
        value = deadlines.ship_by(order.paid_at, tz, holidays, shipping_method=order.shipping_method)
        if value != order.ship_by:
            order.ship_by = value
            changed.append(order)
    Order.objects.bulk_update(changed, ["ship_by"], batch_size=500)
    return len(changed)


def fill_ship_by(account: ReverbAccount, rows: Iterable[dict[str, Any]]) -> None:
    """Set `ship_by` on mapped order rows that tell `paid_at`, so the mirror writes it with the row (one
    write per new order, not a second one per page). An expedited row gets the shorter deadline; a row that
    does not tell its shipping method is taken as standard. Queries: holidays at most 1 a minute
    (`recent_holidays`), when a row tells paid_at."""
    paid = [fields for fields in rows if "paid_at" in fields]
    if not paid:
        return
    tz = deadlines.zone(account.time_zone)
    holidays = recent_holidays(account.pk)
    for fields in paid:
        method = fields.get("shipping_method") or ""
        fields["ship_by"] = deadlines.ship_by(fields["paid_at"], tz, holidays, shipping_method=method)


def refresh_answer_by(account: ReverbAccount, keys: Iterable[str] | None = None) -> int:
    """answer_by = opened + 24 h, in one UPDATE (the given keys, else the rows not filled yet)."""
    from refunds.models import RefundRequest

    rows = RefundRequest.objects.filter(account=account)
    rows = rows.filter(reverb_id__in=list(keys)) if keys is not None else rows.filter(answer_by__isnull=True)
    return rows.exclude(remote_created_at__isnull=True).update(
        answer_by=F("remote_created_at") + deadlines.REFUND_ANSWER_WINDOW
    )
