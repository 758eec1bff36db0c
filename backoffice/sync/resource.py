"""What a pulled resource is: how one Reverb collection is fetched, mapped and linked into one mirror model,
what a first pull reads ahead (`Walk`) and how the nightly reconciliation walks it in chunks (`Stream`).

Plain declarations, below the engine that writes the rows and the registry that lists the resources, so the
two do not import each other. Each app declares its resources in <app>/sync.py and registers them from its
AppConfig.ready() (backoffice/sync/registry.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backoffice.models import RemoteModel
    from backoffice.reverb.client import Page, ReverbClient

Row = tuple[str, dict[str, Any], dict[str, Any]]  # (reverb key, model fields, raw payload)
Mapper = Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]
# fetch(client, since) -> pages of payloads. since=None means a complete scan.
Fetcher = Callable[["ReverbClient", datetime | None], Iterable[Sequence[dict[str, Any]]]]
ChildFetcher = Callable[["ReverbClient", list[dict[str, Any]]], Iterator[Sequence[dict[str, Any]]]]

# The backfill's phases (backoffice/sync/backfill.py), in the order a first pull reads them.
TODAY = 1  # work with a deadline a person meets today: ship, answer a refund, an offer, a buyer
WAITING = 2  # work waiting on the buyer, with a looser deadline (unpaid orders)
LIVE = 3  # what is on sale now
HISTORY = 4  # everything else, newest first


@dataclass(frozen=True)
class Walk:
    """One paged list a first pull reads ahead of the resource's whole collection: `open(client)` gives its
    pages (continued at a kept next href with `key`, the page's list key), `rows` turns a page's items into
    the resource's payloads. `whole`: the list is the resource's whole collection (active offers), so the
    history phase does not read it again."""

    label: str
    key: str
    open: Callable[[ReverbClient], Iterable[Any]]
    phase: int = TODAY
    rows: Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]] = list
    whole: bool = False


@dataclass(frozen=True)
class Link:
    """Fill FK `field` from the column `key_field` holding the related object's Reverb key."""

    field: str
    key_field: str
    target: str  # "app_label.Model"


UNCHANGED_PAGE = "unchanged page"  # sent into a newest_first fetcher: the page it gave changed nothing


@dataclass(frozen=True)
class Resource:
    """How one Reverb collection is pulled into one mirror model."""

    name: str
    model: type[RemoteModel]
    mapper: Mapper
    fetch: Fetcher | None  # None: fed by a parent resource (messages, payout line items)
    incremental: bool = False  # accepts updated_start_date; otherwise every run is a complete scan
    # Newest first, without a date filter (feedback, conversations): an incremental run stops a stream at
    # its first page that changed nothing; the runner sends UNCHANGED_PAGE into the fetch generator,
    # which ends that stream (and may go on with another).
    newest_first: bool = False
    mark_missing: bool = True
    links: tuple[Link, ...] = ()
    # Child collections pulled for the parent payloads a page created or changed (all of them on an
    # explicit full run when children_on_full): (child resource name, fetch(client, parents) -> pages).
    children: tuple[tuple[str, ChildFetcher], ...] = ()
    children_on_full: bool = False
    # Like `children`, but only on incremental runs, for the rows the run created or changed: re-reads a
    # changed row implies (the listings an order sold or returned); a complete scan of the parent runs
    # beside a complete scan of those collections, so it does not re-read them one by one.
    incremental_children: tuple[tuple[str, ChildFetcher], ...] = ()
    # What a first pull (or the pull after a long outage) reads before the rest: the lists with a deadline
    # (phase TODAY or WAITING) and what is live (LIVE); backoffice/sync/backfill.py orders them by phase.
    first_work: tuple[Walk, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Stream:
    """How the night walks one collection of a resource: `open(client, created_start, created_end)` (the
    dates only when `dated`: the endpoint takes created_start_date/created_end_date), continued at a kept
    next href; `rows` turns a page's items into the resource's payloads; `key` is the page's list key."""

    key: str
    open: Callable[[ReverbClient, datetime | None, datetime | None], Iterable[Page]]
    dated: bool = False
    rows: Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]] = list
