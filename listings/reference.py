"""Reverb's reference lists (conditions, categories, shipping profiles) for the forms, cached briefly.

Fetched through the client and kept in Django's cache for REFERENCE_TTL seconds per account; if Reverb
cannot be read, conditions fall back to the spec's enum (API-NOTES 5.2) and the other lists are empty.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from backoffice.models import ReverbAccount
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import ReverbError

from .editing import CONDITIONS

log = logging.getLogger(__name__)
REFERENCE_TTL = 600
# After a failed read, the forms use the fallback for this long before asking Reverb again: each read
# retries for seconds, and without it every open of a form waited that long while Reverb was down.
REFERENCE_RETRY_AFTER = 60
UNREADABLE = "unreadable"
Choices = list[tuple[str, str]]


def _cached(account: ReverbAccount, name: str, fetch: Callable[[ReverbClient], Choices]) -> Choices | None:
    key = f"listings.reference.{name}.{account.pk}"
    found = cache.get(key)
    if found == UNREADABLE:
        return None
    if found is not None:
        return list(found)
    try:
        value = fetch(account.client())
    except (ReverbError, KeyError, TypeError, ValueError) as exc:
        log.warning("could not read %s from Reverb for %s: %s", name, account, exc)
        cache.set(key, UNREADABLE, REFERENCE_RETRY_AFTER)
        return None
    cache.set(key, value, REFERENCE_TTL)
    return value


def conditions(account: ReverbAccount) -> Choices:
    found = _cached(
        account,
        "conditions",
        lambda c: [(str(x["uuid"]), str(x.get("display_name") or x["uuid"])) for x in c.conditions()],
    )
    return found or list(CONDITIONS)


def categories(account: ReverbAccount) -> Choices:
    def fetch(client: ReverbClient) -> Choices:
        rows = [
            (str(x["uuid"]), str(x.get("full_name") or x.get("name") or x["uuid"]))
            for x in client.categories_flat()
        ]
        return sorted(rows, key=lambda r: r[1])

    return _cached(account, "categories", fetch) or []


def _spelling(name: str) -> str:
    """A category name as compared: any case, spacing, and "/" or ">" between its levels."""
    return " / ".join(" ".join(part.split()) for part in re.split(r"[/>]", name.lower()))


def match_category(choices: Choices, text: str) -> tuple[str | None, str]:
    """(uuid, "") for the category `text` names in `choices` (its full name, or its own name when only one
    category has it), else (None, why): unknown, or which categories share that name."""
    wanted = _spelling(text)
    full = [uuid for uuid, name in choices if _spelling(name) == wanted]
    if len(full) == 1:
        return full[0], ""
    named = full or [uuid for uuid, name in choices if _spelling(name).rsplit(" / ", 1)[-1] == wanted]
    if len(named) == 1:
        return named[0], ""
    if named:
        names = dict(choices)
        which = "; ".join(sorted(names[u] for u in named))
        return None, f"category {text!r} could be any of: {which}. Write its full name or its UUID"
    return (
        None,
        f"unknown category {text!r}: write its full name as Reverb's category list has it, or its UUID",
    )


def shipping_profiles(account: ReverbAccount) -> Choices:
    def fetch(client: ReverbClient) -> Choices:
        return [(str(x["id"]), str(x.get("name") or x["id"])) for x in client.shipping_profiles()]

    return _cached(account, "shipping_profiles", fetch) or []


def seller_sales(account: ReverbAccount) -> Choices:
    def fetch(client: ReverbClient) -> Choices:
        answer: Any = client.seller_sales() or {}
        sales = answer.get("sales", []) if isinstance(answer, dict) else answer
        return [
            (str(s["id"]), f"{s.get('name') or s['id']} ({s.get('discount_percent', '?')}% off)")
            for s in sales
        ]

    return _cached(account, "seller_sales", fetch) or []
