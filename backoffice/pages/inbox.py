"""The customer-service inbox: refund requests, offers and conversations that await the shop, oldest first,
each with its deadline and a link to the page where it is answered; 100 a page (?p=), one kind alone with
?kind=. Three queries per kind whatever the rows or the page (a count, the keys, the page's rows)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from backoffice.access import for_user
from backoffice.pages.paging import PAGE_SIZE, pager
from backoffice.pages.render import page
from backoffice.plugins import Slot

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # stands in for a missing date in the merge key (sorted last anyway)


@dataclass(frozen=True)
class Item:
    kind: str  # the source's: refund, offer, conversation
    label: str
    since: datetime | None
    deadline: datetime | None
    who: str
    what: str
    amount: Decimal | None
    currency: str
    url: str
    action: str  # the link's words: Respond, Open
    account: Any = None  # the shop: its time zone reads the dates and says what is due today
    state: str | None = None  # the one clock's word (DEADLINES): overdue, today, later

    @property
    def overdue(self) -> bool:
        return self.state == "overdue"

    @property
    def due_today(self) -> bool:
        return self.state == "today"


@dataclass(frozen=True)
class Source:
    """One kind of item: who may see it, its rows awaiting the shop, when each started waiting."""

    kind: str
    title: str
    perm: str
    rows: Callable[[], QuerySet[Any]]
    since: Any  # an expression over the rows: the inbox's order
    build: Callable[[Any, Any, datetime], Item]  # (row, user, now) -> Item, its deadline from DEADLINES
    queue: tuple[str, Callable[[], str]] | None = None  # the kind's own queue page: (its link's words, url())


@dataclass(frozen=True)
class Deadline:
    """When an item of one kind falls due, and how due it is now (overdue, today, later): added by the app
    that keeps the deadlines (automation's one clock), so a source says what an item is and the clock when
    it is due. `rows` adds what `of` reads to the page's rows."""

    of: Callable[[Any], datetime | None]  # row -> its deadline
    state: Callable[[datetime | None, Any, datetime], str | None]  # (deadline, account, now) -> its state
    rows: Callable[[QuerySet[Any]], QuerySet[Any]] = lambda qs: qs


# The kinds of item, keyed by kind, added by the apps from their AppConfig.ready() (the refunds app its refund
# requests, ...): the sections show in INSTALLED_APPS order.
SOURCES: Slot[Source] = Slot("inbox sources")
# Each kind's deadline, keyed by kind; a kind without one lists its items without a deadline.
DEADLINES: Slot[Deadline] = Slot("inbox deadlines")


def sources() -> list[Source]:
    return list(SOURCES)


def kinds() -> list[str]:
    return [s.kind for s in sources()]


def perms() -> list[str]:
    """The permissions of which a user needs one to open the inbox."""
    return [s.perm for s in sources()]


def _build(source: Source, row: Any, user: Any, now: datetime) -> Item:
    item = source.build(row, user, now)
    clock = DEADLINES.find(source.kind)
    if clock is None:
        return item
    deadline = clock.of(row)
    return replace(item, deadline=deadline, state=clock.state(deadline, item.account, now))


def _page_rows(source: Source) -> QuerySet[Any]:
    clock = DEADLINES.find(source.kind)
    return clock.rows(source.rows()) if clock else source.rows()


def inbox_counts(user: Any) -> dict[str, int]:
    """Items awaiting `user`'s shops per kind the user may see (each on its kind's partial index)."""
    return {s.kind: for_user(s.rows(), user).count() for s in sources() if user.has_perm(s.perm)}


def inbox_page(
    user: Any,
    offset: int = 0,
    size: int = PAGE_SIZE,
    kinds: list[str] | None = None,
    now: datetime | None = None,
) -> list[Item]:
    """The items at [offset, offset + size) of everything awaiting `user`'s shops, oldest first.

    Queries, whatever the page or the shops' size: per kind the first offset + size keys in the inbox's
    order (on the kind's partial index), then the page's rows of each kind on the page. The page is the
    merge of the kinds' keys, so it is the same as sorting everything."""
    now = now or timezone.now()
    shown = [s for s in sources() if user.has_perm(s.perm) and (not kinds or s.kind in kinds)]
    keyed = []
    for s in shown:
        qs = for_user(s.rows(), user).select_related(None).annotate(inbox_since=s.since)
        ordered = qs.order_by(F("inbox_since").asc(nulls_last=True), "pk").values_list("inbox_since", "pk")
        keyed.append([(since is None, since or EPOCH, s.kind, pk) for since, pk in ordered[: offset + size]])
    page_keys = list(heapq.merge(*keyed))[offset : offset + size]
    built: dict[tuple[str, int], Item] = {}
    for s in shown:
        pks = [key[3] for key in page_keys if key[2] == s.kind]
        if pks:
            for row in for_user(_page_rows(s), user).filter(pk__in=pks):
                built[(s.kind, row.pk)] = _build(s, row, user, now)
    return [built[(key[2], key[3])] for key in page_keys if (key[2], key[3]) in built]


def inbox_items(user: Any, now: datetime | None = None) -> list[Item]:
    """Every item awaiting `user`'s shops, oldest first (for small sets; the page is paged). Deadlines as
    the queues have them (automation/queues.py): a refund's answer-by, an offer's expiry (48 h after it was
    made when Reverb sends none), each overdue / due today in its shop's day."""
    return inbox_page(user, 0, sum(inbox_counts(user).values()), now=now)


def inbox(request: HttpRequest) -> HttpResponse:
    if not any(request.user.has_perm(p) for p in perms()):
        raise PermissionDenied
    kind = request.GET.get("kind", "")
    kinds = [kind] if SOURCES.find(kind) else None
    counts = inbox_counts(request.user)
    pages = pager(request, sum(n for k, n in counts.items() if not kinds or k in kinds))
    now = timezone.now()
    items = inbox_page(request.user, pages.offset, pages.size, kinds, now) if pages.total else []
    titles = {s.kind: s.title for s in sources() if s.kind in counts}
    queues = [(s.queue[0], s.queue[1]()) for s in sources() if s.kind in counts and s.queue]
    return page(
        request,
        "backoffice/inbox.html",
        "Customer-service inbox",
        items=items,
        sections=[(k, titles[k], n) for k, n in counts.items()],
        everything=sum(counts.values()),
        kind=kind if kinds else "",
        pager=pages,
        queues=queues,
        now=now,
    )
