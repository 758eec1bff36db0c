"""What keeps a changelist fast on a big table (200,000 orders on PostgreSQL):

- `EstimatedCountPaginator`: an unfiltered changelist on PostgreSQL shows the planner's row estimate
  (pg_class.reltuples, kept by autovacuum; for a member, limited to their shops, EXPLAIN's estimate) instead
  of counting the whole table on every view; small tables,
  filtered lists and SQLite keep the exact count; a deep page is fetched keys first, then its rows with
  their joins;
- `known_values(field, values)`: a list filter whose choices are the values Reverb documents, then the
  others the rows hold from a partial index of the rows outside them, not Django's SELECT DISTINCT over the
  shop's rows, which reads the whole table on every view;
- `RangeDates`: the date hierarchy's years, months and days are the periods between the first and the last
  row's date (the MIN and MAX on the date's index), not a DISTINCT over every row's truncated date; a
  period without rows inside that span is offered too and shows an empty list;
- `ExactSearchMixin`: a search term that looks like an order number or a SKU is first looked up with `=`
  on its indexed column, a term of several words as one phrase in the titles; only when nothing matches
  does the admin's usual search (a LIKE over every search field) run. The pg_trgm indexes behind both on
  PostgreSQL are in the orders and listings migrations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date, datetime
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Max, Min, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from backoffice.access import only_scoped

# Below this many rows an exact COUNT(*) is cheap and the estimate's roughness is not worth it.
ESTIMATE_ABOVE = 10_000

ORDER_NUMBER_RE = r"\d{4,}"
# A SKU: one word with at least one digit (so a plain word such as "Fender" still searches titles).
SKU_RE = r"(?=[^\s]*\d)[A-Za-z0-9][\w./-]*"


def estimated_rows(qs: QuerySet[Any]) -> int | None:
    """The planner's row estimate for the queryset's table on PostgreSQL, or None (SQLite, never
    analysed)."""
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table]
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


def planned_rows(qs: QuerySet[Any]) -> int | None:
    """The planner's row estimate for `qs` (EXPLAIN, not run) on PostgreSQL, or None."""
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = qs.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (a user of no shop: `account_id IN ()`)
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Estimates the unfiltered count on PostgreSQL, and fetches a deep page in two steps: the page's keys
    first, from the ordered rows alone, then those rows with their joins. A deep OFFSET would otherwise
    join every row it skips (orders: 100,000 listing and account look-ups to show page 1,000)."""

    def page(self, number: Any) -> Page:
        qs = self.object_list
        if not isinstance(qs, QuerySet) or qs.query.combinator or qs.query.distinct:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom < DEEP_PAGE_FROM:
            return super().page(number)
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = list(qs.select_related(None).values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in qs.order_by().filter(pk__in=keys)}
        return self._get_page([rows[key] for key in keys if key in rows], number, self)

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and not qs.query.combinator:
            estimate = None
            if not qs.query.where:
                estimate = estimated_rows(qs)
            elif only_scoped(qs):  # a member's whole list: the planner knows each shop's share
                estimate = planned_rows(qs)
            if estimate is not None and estimate >= ESTIMATE_ABOVE:
                return estimate
        return super().count


# Below this many skipped rows one query is cheaper than two.
DEEP_PAGE_FROM = 1000


class ExactSearchMixin:
    """`exact_search = {"order_number": ORDER_NUMBER_RE, ...}`: fields looked up with `=` first when the
    whole search term matches the field's pattern; `phrase_search = ("title",)`: a term of several words
    is first looked for as one phrase in those fields (a trigram index finds it in a few rows), and only
    when nothing has it are the words searched for one by one in every search field (a scan when a word
    is in most rows, as "guitar" is)."""

    exact_search: dict[str, str] = {}
    phrase_search: tuple[str, ...] = ()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        lookup = Q()
        for field, pattern in self.exact_search.items():
            if term and re.fullmatch(pattern, term):
                lookup |= Q(**{field: term})
        if len(term.split()) > 1:  # several words: first as one phrase in the titles (their trigram index)
            for field in self.phrase_search:
                lookup |= Q(**{f"{field}__icontains": term})
        if lookup:
            hits = queryset.filter(lookup)
            if hits.exists():
                return hits, False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]


def unusual_except(values: Iterable[str]) -> tuple[str, ...]:
    """The values a `known_values` filter does not read from the rows (the documented ones, and "")."""
    return (*values, "")


def known_values(field: str, values: Iterable[str]) -> tuple[str, type[admin.AllValuesFieldListFilter]]:
    """A list_filter entry for `field` offering `values` (what Reverb documents), any other value the shop's
    rows hold (Reverb may send one we do not know: shown as it came), and the value chosen in the URL.
    Django's own filter for a plain field lists SELECT DISTINCT over the shop's rows, a read of the whole
    table on every view; here only the rows outside `values` are read, which a partial index on
    `~Q(field__in=unusual_except(values))` holds (none or few; the model declares it). An empty value (not
    told) is not offered."""
    known = list(values)

    class KnownValuesFilter(admin.AllValuesFieldListFilter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            others = list(self.lookup_choices.exclude(**{f"{self.lookup_kwarg}__in": unusual_except(known)}))
            chosen = [v for v in self.lookup_val or [] if v not in known and v not in others]
            self.lookup_choices = [*known, *others, *chosen]

    return field, KnownValuesFilter


class RangeDates:
    """Mixed into a changelist's queryset class (backoffice/admin/base.py KeyedChangeList): the date
    hierarchy's periods from the MIN and MAX of the field (its index), not a DISTINCT over every row."""

    def datetimes(self, field_name: str, kind: str, order: str = "ASC", tzinfo: Any = None) -> list[Any]:
        return _periods(self, field_name, kind, aware=True)  # type: ignore[arg-type]

    def dates(self, field_name: str, kind: str, order: str = "ASC") -> list[Any]:
        return _periods(self, field_name, kind, aware=False)  # type: ignore[arg-type]


def _periods(qs: QuerySet[Any], field_name: str, kind: str, *, aware: bool) -> list[Any]:
    """Every year, month or day from the first row's to the last row's, in the current time zone."""
    span = qs.order_by().aggregate(first=Min(field_name), last=Max(field_name))
    first, last = span["first"], span["last"]
    if first is None or last is None:
        return []
    if isinstance(first, datetime):
        first, last = (
            timezone.localtime(v).date() if timezone.is_aware(v) else v.date() for v in (first, last)
        )
    day = date(first.year, 1 if kind == "year" else first.month, 1 if kind != "day" else first.day)
    periods = []
    while day <= last:
        periods.append(day)
        if kind == "year":
            day = date(day.year + 1, 1, 1)
        elif kind == "month":
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        else:
            day = date.fromordinal(day.toordinal() + 1)
    if not aware:
        return periods
    return [timezone.make_aware(datetime(d.year, d.month, d.day)) for d in periods]


_range_classes: dict[type, type] = {}


def with_range_dates(qs: QuerySet[Any]) -> QuerySet[Any]:
    """`qs` with RangeDates mixed into its class (one subclass per queryset class)."""
    cls = type(qs)
    if not issubclass(cls, RangeDates):
        if cls not in _range_classes:
            _range_classes[cls] = type(f"RangeDates{cls.__name__}", (RangeDates, cls), {})
        qs.__class__ = _range_classes[cls]
    return qs
