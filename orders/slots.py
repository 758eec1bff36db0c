"""Where the apps above orders add to the order's pages, admin and CSV without orders naming them
(backoffice/plugins.py): refunds, messaging and payouts add their timeline events, actions, links and
columns from their AppConfig.ready() (their plugins.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils.safestring import SafeString

from backoffice.plugins import Slot


@dataclass
class Event:
    """One line of the order page's timeline."""

    when: datetime | None
    what: str
    who: str = ""
    url: str = ""
    outcome: str = ""


@dataclass
class TimelinePart:
    """What an app adds to an order's timeline: its events, and the audit rows (ApiCall) of its own
    objects to list with the order's (a Q on target_type/target_key; None: none)."""

    events: list[Event] = field(default_factory=list)
    audit_keys: Q | None = None


@dataclass(frozen=True)
class OrderAction:
    """A button of the order page's workbench; `rank` places it among the others (orders' own: 10 ship,
    20 picked up, 40 feedback, 60 packing slip); `refusal` says why it cannot be done now ('' it can)."""

    rank: int
    permission: str  # '' anyone who sees the order
    label: str
    url_name: str  # reversed with the order's pk
    refusal: Callable[[Any], str]
    shown: Callable[[Any], bool] = lambda order: True


@dataclass(frozen=True)
class OrderLink:
    """A line of the order's "Links" on its change form: an admin display callable (order) -> html; `rank`
    places it among orders' own (10 shop SKU, 20 bundle, 30 payments table, 50 payments, 60 feedback)."""

    rank: int
    field: Callable[[Any], SafeString | str]


@dataclass(frozen=True)
class CsvColumns:
    """Columns an app adds at the end of THE orders CSV: annotations on the orders queryset (one query in
    all), then (annotation, header, cell formatter or None) in order."""

    annotations: Callable[[], dict[str, Any]]
    columns: list[tuple[str, str, Callable[[Any], Any] | None]]


# The order page's timeline: one callable per app, (order) -> TimelinePart, one query or so each.
ORDER_TIMELINE: Slot[Callable[[Any], TimelinePart]] = Slot("order timeline")
# The order page's actions (the workbench's buttons).
ORDER_ACTIONS: Slot[OrderAction] = Slot("order actions")
# The order's change form, "Links".
ORDER_LINKS: Slot[OrderLink] = Slot("order links")
# THE orders CSV's columns after orders' own.
ORDER_CSV_COLUMNS: Slot[CsvColumns] = Slot("orders CSV columns")
