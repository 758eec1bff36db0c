"""Reverb's reference lists (conditions, categories, shipping profiles, sales) for the forms.

Stored in the database per account (ReferenceList), shared by every web process: a form opens without a
Reverb call while its lists are younger than REFERENCE_TTL. An older list is read again through the client,
as a person's call (the budget's reserve, a short deadline: background/ratebudget.py); if Reverb cannot be
read (down, or the shop's budget busy with the sync and stock updates) the form shows the last copy, else
conditions fall back to the spec's enum (API-NOTES 5.2) and the other lists are empty, and `note()` says so
in words for the form. A failed read is not tried again for REFERENCE_RETRY_AFTER (Django's cache).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from backoffice.models import ReverbAccount
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import BudgetBusyError, ReverbError

from .conditions import CONDITIONS
from .models import ReferenceList

log = logging.getLogger(__name__)
REFERENCE_TTL = 600
# After a failed read, the forms use the last copy (or the fallback) for this long before asking Reverb
# again: each read can take seconds, and without it every open of a form waited that long.
REFERENCE_RETRY_AFTER = 60
UNREADABLE = "unreadable"
Choices = list[tuple[str, str]]


def _key(account: ReverbAccount, name: str) -> str:
    return f"listings.reference.{name}.{account.pk}"


def _busy_key(account: ReverbAccount) -> str:
    return f"listings.reference.busy.{account.pk}"


def _cached(account: ReverbAccount, name: str, fetch: Callable[[ReverbClient], Choices]) -> Choices | None:
    stored = ReferenceList.objects.filter(account=account, name=name).first()
    now = timezone.now()
    last = [(str(v), str(label)) for v, label in stored.choices] if stored else None
    if stored and stored.fetched_at > now - timedelta(seconds=REFERENCE_TTL):
        return last
    if _failure(account, name):  # a read failed a moment ago (this list, or any while the budget is busy)
        return last
    try:
        value = fetch(account.client())
    except (ReverbError, KeyError, TypeError, ValueError) as exc:
        log.warning("could not read %s from Reverb for %s: %s", name, account, exc)
        cache.set(_key(account, name), str(exc), REFERENCE_RETRY_AFTER)
        if isinstance(exc, BudgetBusyError):  # the form's other lists would wait the same: not asked now
            cache.set(_busy_key(account), str(exc), max(exc.wait, 5.0))
        return last
    ReferenceList.objects.update_or_create(
        account=account, name=name, defaults={"choices": [list(c) for c in value], "fetched_at": now}
    )
    return value


def _failure(account: ReverbAccount, name: str) -> str:
    return str(cache.get(_key(account, name)) or cache.get(_busy_key(account)) or "")


def note(account: ReverbAccount, name: str) -> str:
    """Why `name`'s list on a form may not be Reverb's current one (a read failed a moment ago), or ""."""
    why = _failure(account, name)
    return (
        f"Reverb could not be read just now ({why}): this is the last list read from Reverb, or the "
        "standard one. Reload the form in a minute for the current list."
        if why
        else ""
    )


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
