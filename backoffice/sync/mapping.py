"""Small, pure helpers the per-app mappers share: money, times, links, required keys.

Everything here raises MappingError (naming the field) on a payload it cannot read, never a bare
KeyError/ValueError, so the runner can log the record with a useful reason and carry on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from .engine import MappingError

_LINE_ITEMS_ID = re.compile(r"/payouts/([^/?#]+)/line_items")


Source = str | tuple[str, ...] | None


def told(
    payload: Mapping[str, Any], fields: Mapping[str, Any], sources: Mapping[str, Source] | None = None
) -> dict[str, Any]:
    """`fields` without those whose payload key is absent: a missing key means "not told", never
    "empty" (API-NOTES 16.1: GET /listings/{id} leaves the seller fields out; live orders leave fees,
    totals and buyer_email out), and the engine then leaves those columns as they were.

    `sources` names the payload key(s) a field is read from when that is not the field's own name
    (a tuple: any of them present keeps the field); None keeps the field always (derived values).
    A key present with a null value is told: the field keeps its mapped (empty) value."""
    sources = sources or {}
    kept: dict[str, Any] = {}
    for name, value in fields.items():
        source = sources.get(name, name)
        if isinstance(source, str):  # the common case, without a tuple and a generator per field
            if source in payload:
                kept[name] = value
        elif source is None or any(k in payload for k in source):
            kept[name] = value
    return kept


def need(payload: Any, key: str) -> Any:
    """payload[key], which must be present and not null/empty."""
    if not isinstance(payload, Mapping):
        raise MappingError(f"expected an object, got {type(payload).__name__}")
    value = payload.get(key)
    if value is None or value == "":
        raise MappingError(f"{key} is missing")
    return value


def key_of(payload: Any, key: str = "id") -> str:
    value = need(payload, key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MappingError(f"{key} must be a string or a number, got {value!r}")
    return str(value)


def text(payload: Mapping[str, Any], key: str, max_length: int | None = None) -> str:
    """A string field; absent/null -> ''. Numbers are kept as text (ids, years)."""
    value = payload.get(key)
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        raise MappingError(f"{key} must be text, got {type(value).__name__}")
    value = str(value)
    return value[:max_length] if max_length else value


def integer(payload: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
    value = payload.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MappingError(f"{key} must be an integer, got {value!r}") from None


def boolean(payload: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = payload.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    raise MappingError(f"{key} must be a boolean, got {value!r}")


def read_money(payload: Mapping[str, Any], key: str) -> tuple[Decimal | None, str]:
    """Reverb's Money object -> (Decimal amount, currency). Absent -> (None, '').

    Offers wrap money as {"original": money, "display": money}; the original is the seller's currency.
    """
    value = payload.get(key)
    if value is None:
        return None, ""
    if isinstance(value, Mapping) and "original" in value and "amount" not in value:
        value = value["original"]
    if not isinstance(value, Mapping):
        raise MappingError(f"{key} must be a money object, got {value!r}")
    amount = value.get("amount")
    try:
        if amount not in (None, ""):
            decimal = Decimal(str(amount))
        elif value.get("amount_cents") is not None:
            decimal = Decimal(int(value["amount_cents"])) / 100
        else:
            raise MappingError(f"{key}.amount is missing")
    except (InvalidOperation, TypeError, ValueError):
        raise MappingError(f"{key}.amount is not a number: {amount!r}") from None
    if not decimal.is_finite():
        raise MappingError(f"{key}.amount is not a number: {amount!r}")
    return decimal, str(value.get("currency") or "")


def when(payload: Mapping[str, Any], key: str) -> datetime | None:
    """ISO 8601 -> aware datetime (Reverb always sends an offset). A bare date is midnight UTC."""
    value = payload.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MappingError(f"{key} must be a timestamp, got {value!r}")
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)) is not None:
            parsed = datetime(day.year, day.month, day.day)
    except ValueError:
        parsed = None
    if parsed is None:
        raise MappingError(f"{key} is not a timestamp: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def link(payload: Mapping[str, Any], name: str) -> str:
    links = payload.get("_links")
    entry = links.get(name) if isinstance(links, Mapping) else None
    href = entry.get("href") if isinstance(entry, Mapping) else None
    return str(href) if href else ""


def slug_or_text(payload: Mapping[str, Any], key: str, slug: str = "slug") -> str:
    """Listing state is {"slug", "description"}; elsewhere states are plain strings. Unknown values kept."""
    value = payload.get(key)
    if isinstance(value, Mapping):
        return str(value.get(slug) or "")
    return "" if value is None else str(value)


def payout_id(payload: Mapping[str, Any]) -> str:
    """Payouts in Reverb's documented example carry no id: take it from the line_items link."""
    if payload.get("id") not in (None, ""):
        return key_of(payload)
    match = _LINE_ITEMS_ID.search(link(payload, "line_items"))
    if not match:
        raise MappingError("payout has no id and no _links.line_items href to take it from")
    return match.group(1)
