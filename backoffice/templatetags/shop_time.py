"""People read dates: `{{ order.ship_by|shop_time:order.account }}` shows "Mon 14 Dec, 17:00 (shop time)",
the moment in the shop's own time zone, never an ISO timestamp. The same words in Python (the digest, the
alerts) come from `shop_time()`. The year shows only when it is not the current one (in the shop's zone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone

from backoffice.models.account import zone_named

register = template.Library()


def _zone(where: Any) -> ZoneInfo:
    """An account (its time_zone), a zone, or a zone's name; UTC when none."""
    if isinstance(where, ZoneInfo):
        return where
    return zone_named(getattr(where, "time_zone", where) if where is not None else "UTC")


def shop_time(value: datetime | None, where: Any = None, now: datetime | None = None) -> str:
    """'Mon 14 Dec, 17:00 (shop time)' ('Mon 14 Dec 2027, ...' in another year); '' without a moment."""
    if value is None or not isinstance(value, datetime):
        return ""
    tz = _zone(where)
    local = value.astimezone(tz)
    year = f" {local.year}" if local.year != (now or timezone.now()).astimezone(tz).year else ""
    return f"{local:%a} {local.day} {local:%b}{year}, {local:%H:%M} (shop time)"


@register.filter(name="shop_time")
def shop_time_filter(value: datetime | None, where: Any = None) -> str:
    return shop_time(value, where)
