"""What keeps a changelist fast on a big table (200,000 orders on PostgreSQL):

- `EstimatedCountPaginator`: an unfiltered changelist on PostgreSQL shows the planner's row estimate
  (pg_class.reltuples, kept by autovacuum; for a member, limited to their shops, EXPLAIN's estimate) instead
  of counting the whole table on every view; small tables,
  filtered lists and SQLite keep the exact count; a deep page is fetched keys first, then its rows with
  their joins;
- `ExactSearchMixin`: a search term that looks like an order number or a SKU is first looked up with `=`
  on its indexed column; only when nothing matches does the admin's usual search (a LIKE over every
  search field) run. The pg_trgm indexes behind that usual search on PostgreSQL are in the orders and
  listings migrations.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import HttpRequest

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
    whole search term matches the field's pattern."""

    exact_search: dict[str, str] = {}

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        lookup = Q()
        for field, pattern in self.exact_search.items():
            if term and re.fullmatch(pattern, term):
                lookup |= Q(**{field: term})
        if lookup:
            hits = queryset.filter(lookup)
            if hits.exists():
                return hits, False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
