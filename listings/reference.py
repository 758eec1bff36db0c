"""Reverb's reference lists (conditions, categories, shipping profiles, sales) for the forms.

Stored in the database per account (ReferenceList), shared by every web process: a form opens without a
Reverb call whenever a copy is stored. A copy older than REFERENCE_TTL is still what the form shows, and a
worker reads the list again (`refresh`, the task listings.tasks.refresh_reference, sent at most once per
REFERENCE_TTL per list): a person never waits on Reverb, or behind the stock drain, for a list the shop
already has. Only a list never read (a new account) is read while the form opens, as a person's call (the
budget's reserve, a short deadline: background/ratebudget.py); if Reverb cannot be read then (down, or the
shop's budget busy with the sync and stock updates) conditions fall back to the spec's enum (API-NOTES 5.2)
and the other lists are empty, and `note()` says so in words for the form. A failed read is not tried again
for REFERENCE_RETRY_AFTER (Django's cache).
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
from backoffice.plugins import Slot
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
REFRESH_TASK = "listings.tasks.refresh_reference"
Choices = list[tuple[str, str]]
# How each stored list is read from Reverb, by its name: function(client) -> choices. Listings' own are added
# below; other apps add theirs from their plugins.py (orders: "carriers"). The refresh task names a list,
# never a function, so a queued task cannot be made to call anything else.
READERS: Slot[Callable[[ReverbClient], Choices]] = Slot("reference list readers")


def _key(account: ReverbAccount, name: str) -> str:
    return f"listings.reference.{name}.{account.pk}"


def _busy_key(account: ReverbAccount) -> str:
    return f"listings.reference.busy.{account.pk}"


def _refresh_key(account: ReverbAccount, name: str) -> str:
    return f"listings.reference.refreshing.{name}.{account.pk}"


def stored_choices(account: ReverbAccount, name: str) -> Choices | None:
    """The list `name` as stored for `account` (read again by a worker when older than REFERENCE_TTL), else
    read now by its reader (READERS), else None. Other apps' lists of Reverb's (the carriers of
    orders/services.py) are kept here the same way."""
    stored = ReferenceList.objects.filter(account=account, name=name).first()
    if stored is not None:
        if stored.fetched_at <= timezone.now() - timedelta(seconds=REFERENCE_TTL):
            _refresh_later(account, name)
        return [(str(v), str(label)) for v, label in stored.choices]
    if _failure(account, name):  # a read failed a moment ago (this list, or any while the budget is busy)
        return None
    return _read(account, name)


def _cached(account: ReverbAccount, name: str) -> Choices | None:
    return stored_choices(account, name)


def _refresh_later(account: ReverbAccount, name: str) -> None:
    """Send the worker to read `name` again, once per REFERENCE_TTL whatever the number of forms opened
    (the cache's add is the claim; a worker that loses the task leaves the next claim to the TTL)."""
    from backoffice.background.queue import enqueue

    if cache.add(_refresh_key(account, name), 1, REFERENCE_TTL):
        enqueue(REFRESH_TASK, account.pk, name, task_name=f"reference {name} {account.pk}")


def refresh(account: ReverbAccount, name: str) -> str:
    """Read `name` from Reverb and store it (the worker's side of a stale copy); what happened, in words."""
    if READERS.find(name) is None:
        return f"no such list: {name!r}"
    return "read" if _read(account, name) is not None else "not read (the last copy stays)"


def _read(account: ReverbAccount, name: str) -> Choices | None:
    """`name` read from Reverb now by its reader and stored, or None when it cannot be (the failure
    remembered)."""
    try:
        value = READERS.get(name)(account.client())
    except (ReverbError, KeyError, TypeError, ValueError) as exc:
        log.warning("could not read %s from Reverb for %s: %s", name, account, exc)
        cache.set(_key(account, name), str(exc), REFERENCE_RETRY_AFTER)
        if isinstance(exc, BudgetBusyError):  # the form's other lists would wait the same: not asked now
            cache.set(_busy_key(account), str(exc), max(exc.wait, 5.0))
        return None
    ReferenceList.objects.update_or_create(
        account=account,
        name=name,
        defaults={"choices": [list(c) for c in value], "fetched_at": timezone.now()},
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
    return _cached(account, "conditions") or list(CONDITIONS)


def categories(account: ReverbAccount) -> Choices:
    return _cached(account, "categories") or []


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
    return _cached(account, "shipping_profiles") or []


def seller_sales(account: ReverbAccount) -> Choices:
    return _cached(account, "seller_sales") or []


# ---- how each list is read from Reverb ---------------------------------------------------------------------


def _fetch_conditions(client: ReverbClient) -> Choices:
    return [(str(x["uuid"]), str(x.get("display_name") or x["uuid"])) for x in client.conditions()]


def _fetch_categories(client: ReverbClient) -> Choices:
    rows = [
        (str(x["uuid"]), str(x.get("full_name") or x.get("name") or x["uuid"]))
        for x in client.categories_flat()
    ]
    return sorted(rows, key=lambda r: r[1])


def _fetch_shipping_profiles(client: ReverbClient) -> Choices:
    return [(str(x["id"]), str(x.get("name") or x["id"])) for x in client.shipping_profiles()]


def _fetch_seller_sales(client: ReverbClient) -> Choices:
    answer: Any = client.seller_sales() or {}
    sales = answer.get("sales", []) if isinstance(answer, dict) else answer
    return [
        (str(s["id"]), f"{s.get('name') or s['id']} ({s.get('discount_percent', '?')}% off)") for s in sales
    ]


for _name, _reader in (
    ("conditions", _fetch_conditions),
    ("categories", _fetch_categories),
    ("shipping_profiles", _fetch_shipping_profiles),
    ("seller_sales", _fetch_seller_sales),
):
    READERS.add(_reader, key=_name)
