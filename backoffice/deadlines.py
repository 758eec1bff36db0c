"""Deadlines as pure functions (issue 15): ship-by for paid orders, answer-by for refund requests, an
offer's expiry, and whether a deadline is overdue, due today or later in the shop's time zone.

- Ship-by: Reverb gives a seller 3 business days to ship. The deadline is the end (23:59:59, shop time)
  of the third business day after the day of payment in the shop's time zone; Saturdays, Sundays and
  the account's holidays are not business days. Computed on local dates, then converted, so a
  daylight-saving change in between moves the UTC moment, not the local one.
- Expedited orders (`shipping_method` "expedited_shipping", the compiled summary's value in API-NOTES 6.3;
  any value starting "expedited" counts) get one business day instead: the end of the first business day
  after payment. The one day is ours: Reverb documents only that a shop's "personal expedited shipping
  timelines" replace the 3 business days (help.reverb.com 360044321934), not their length.
- Answer-by: 24 hours after the refund request was opened (an absolute duration, DST-proof).
- Offer expiry: the negotiation's own `expires_at`; when Reverb did not send one, 48 hours after it was
  created (API-NOTES 10.1: the live fixture's offers expire about 48 h after creation).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SHIP_BUSINESS_DAYS = 3
EXPEDITED_SHIP_BUSINESS_DAYS = 1  # ours (see above)
REFUND_ANSWER_WINDOW = timedelta(hours=24)
OFFER_FALLBACK_WINDOW = timedelta(hours=48)
END_OF_DAY = time(23, 59, 59)

OVERDUE = "overdue"
TODAY = "today"
LATER = "later"


def zone(name: str | None) -> ZoneInfo:
    """The shop's time zone; UTC when unset or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The `days`-th business day after `start` (start itself never counts)."""
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            left -= 1
    return day


def is_expedited(shipping_method: str | None) -> bool:
    return (shipping_method or "").strip().lower().startswith("expedited")


def ship_days(shipping_method: str | None) -> int:
    """Business days to ship an order sent by `shipping_method`."""
    return EXPEDITED_SHIP_BUSINESS_DAYS if is_expedited(shipping_method) else SHIP_BUSINESS_DAYS


def ship_by(
    paid_at: datetime | None,
    tz: ZoneInfo,
    holidays: Collection[date] = (),
    days: int = SHIP_BUSINESS_DAYS,
    shipping_method: str | None = None,
) -> datetime | None:
    """The end of the last business day to ship; `shipping_method`, when given, picks the days."""
    if paid_at is None:
        return None
    if shipping_method is not None:
        days = ship_days(shipping_method)
    local_day = paid_at.astimezone(tz).date()
    last_day = add_business_days(local_day, days, holidays)
    return datetime.combine(last_day, END_OF_DAY, tzinfo=tz).astimezone(ZoneInfo("UTC"))


def answer_by(opened_at: datetime | None) -> datetime | None:
    return opened_at + REFUND_ANSWER_WINDOW if opened_at is not None else None


def offer_expiry(expires_at: datetime | None, created_at: datetime | None) -> datetime | None:
    if expires_at is not None:
        return expires_at
    return created_at + OFFER_FALLBACK_WINDOW if created_at is not None else None


def end_of_today(now: datetime, tz: ZoneInfo) -> datetime:
    """The first moment of tomorrow in the shop's time zone (the bound of "due today")."""
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=tz)


def due_state(deadline: datetime | None, now: datetime, tz: ZoneInfo) -> str | None:
    """OVERDUE (passed), TODAY (passes before the shop's midnight) or LATER; None without a deadline."""
    if deadline is None:
        return None
    if deadline < now:
        return OVERDUE
    return TODAY if deadline < end_of_today(now, tz) else LATER
