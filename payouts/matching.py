"""Payout-to-order matching over the mirror: pure-ish functions over querysets.

Every function costs a constant number of queries (prefetch/aggregate, never a query per row):
- `check_payout(payout)`: one payout's line items against their orders (the payout page);
- `match_period(period, ...)`: a period's findings and totals (the reconciliation report).

"Paid out" means: the order has a mirrored payout line item. An order is expected in a payout when its
status is one of PAYOUT_STATUSES, it has been paid, and no approved refund touches it (Reverb then keeps the
money back; the emulator never pays those out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any, overload

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Expression,
    F,
    Model,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from backoffice.admin.links import change_url
from backoffice.models.account import account_zones, zone_named
from orders.models import Order
from refunds.models import RefundRequest

from .fees import ZERO, OrderAmounts, Rates, cents, differs, rates, rates_by_account
from .models import Payout, PayoutLineItem
from .sql import (
    LINE_FORMULAS,
    ORDER_FORMULAS,
    amount_of_cents,
    bad,
    cents_of,
    count_of_lines,
    has_approved_refund,
    has_lines,
    line_columns,
    order_columns,
    sum_of_lines,
    whole,
)

PAYOUT_STATUSES = ("paid", "shipped", "picked_up", "received")
REPORTED_ORDER_STATUSES = (*PAYOUT_STATUSES, "refunded")
APPROVED = "approved"
OPEN_REFUND_STATES = ("pending_seller_response", "conditionally_approved")


def payout_url(payout: Payout) -> str:
    return reverse("admin:payouts_payout_reconcile", args=[payout.pk])


# -- one line item against its order ------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    key: str  # product, shipping, tax, fees_order, fees_schedule, total, refunds
    label: str
    order_value: Decimal | None
    line_value: Decimal | None
    ok: bool
    reason: str = ""


@dataclass
class LineCheck:
    line_item: PayoutLineItem
    order: Order | None
    rows: list[Comparison] = field(default_factory=list)
    refunded: Decimal = ZERO
    expected_fees: Decimal = ZERO

    @property
    def differences(self) -> list[Comparison]:
        return [row for row in self.rows if not row.ok]

    @property
    def ok(self) -> bool:
        return self.order is not None and not self.differences


def approved_refunds(order: Order) -> Decimal:
    """Sum of approved refund requests; needs `refund_requests` prefetched (see REFUNDS_PREFETCH)."""
    refunds = getattr(order, "refund_list", None)
    if refunds is None:
        refunds = order.refund_requests.all()
    return sum((cents(r.amount) for r in refunds if r.state == APPROVED), ZERO)


# Prefetched into plain lists (`to_attr`): a related manager's .all() clones a queryset per row, which
# dominated the month's report at a few thousand orders.
REFUND_FIELDS = RefundRequest.objects.only("pk", "order_id", "state", "amount", "currency")
REFUNDS_PREFETCH = Prefetch("refund_requests", queryset=REFUND_FIELDS, to_attr="refund_list")


def check_line_item(line: PayoutLineItem, rates_: Rates) -> LineCheck:
    """The line item's amounts against its order's (order and order.refund_requests prefetched)."""
    order = line.order
    if order is None:
        return LineCheck(line, None)
    amounts = OrderAmounts.of(order)
    selling, processing = amounts.expected_fees(rates_)
    expected_fees = selling + processing + amounts.bump_fee
    fees = cents(line.fees)
    refunded = approved_refunds(order)
    expected_total = amounts.total - fees - amounts.tax_withheld
    bump = f" + bump {amounts.bump_fee}" if amounts.bump_fee else ""

    def row(key: str, label: str, ours: Decimal, theirs: Decimal | None, reason: str) -> Comparison:
        bad = differs(ours, theirs)
        return Comparison(key, label, ours, theirs, not bad, reason if bad else "")

    rows = [
        row(
            "product",
            "sale price",
            amounts.product,
            line.amount_product,
            "the line item's sale price differs from the order's product subtotal",
        ),
        row(
            "shipping",
            "shipping",
            amounts.shipping,
            line.amount_shipping,
            "the line item's shipping differs from the order's",
        ),
        row("tax", "tax", amounts.tax, line.amount_tax, "the line item's tax differs from the order's"),
        row(
            "fees_order",
            "Reverb's fees (as on the order)",
            amounts.order_fees,
            fees,
            "the line item's fees differ from the fees stated on the order",
        ),
        row(
            "fees_schedule",
            "Reverb's fees (by the fee schedule)",
            expected_fees,
            fees,
            f"fees differ from the fee schedule: expected selling {selling} + processing {processing}{bump}"
            f" = {expected_fees}, charged {fees} ({rates_.describe()})",
        ),
        row(
            "total",
            "paid out",
            expected_total,
            line.amount_total,
            "the line item's total is not the order total minus its fees"
            + (f" and the tax Reverb keeps ({amounts.tax_withheld})" if amounts.tax_withheld else ""),
        ),
    ]
    if refunded:
        rows.append(
            Comparison(
                "refunds",
                "refunds (approved)",
                refunded,
                ZERO,
                False,
                f"{refunded} refunded on this order after it was paid out: "
                "expect a deduction from a later payout",
            )
        )
    return LineCheck(line, order, rows, refunded, expected_fees)


# -- one payout -----------------------------------------------------------------------------------------
@dataclass
class PayoutCheck:
    payout: Payout
    lines: list[LineCheck]
    line_sum: Decimal

    @property
    def difference(self) -> Decimal:
        return cents(self.payout.total) - self.line_sum

    @property
    def adds_up(self) -> bool:
        return bool(self.lines) and not differs(self.payout.total, self.line_sum)

    @property
    def problems(self) -> int:
        return sum(1 for line in self.lines if not line.ok) + (0 if self.adds_up else 1)


def line_items_with_orders(lines: QuerySet[PayoutLineItem]) -> QuerySet[PayoutLineItem]:
    """Line items with their order, payout and the order's refunds: three queries whatever the count."""
    # The raw payloads of the line item and its payout are never read here: not loading them halves the rows'
    # weight (the order's is read, for the tax Reverb keeps and the bump fee).
    return (
        lines.select_related("order", "payout", "account")
        .defer("raw", "payout__raw")
        .prefetch_related(Prefetch("order__refund_requests", queryset=REFUND_FIELDS, to_attr="refund_list"))
    )


def check_payout(payout: Payout) -> PayoutCheck:
    """Four queries: line items (+ orders, payout), refunds, fee schedule."""
    table = rates_by_account([payout.account_id])
    lines = list(line_items_with_orders(payout.line_items.all()).order_by("order_number", "pk"))
    checks = [check_line_item(line, rates(table, payout.account_id)) for line in lines]
    return PayoutCheck(payout, checks, sum((cents(line.amount_total) for line in lines), ZERO))


# -- a period -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def bounds(self, tz: tzinfo | None = None) -> tuple[datetime, datetime]:
        tz = tz or timezone.get_current_timezone()
        start = datetime.combine(self.start, time.min, tzinfo=tz)
        return start, datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz)

    def within(self, field: str, zones: dict[str, list[int]]) -> Q:
        """Rows whose `field` falls in the period as each account's shop counts days (its time zone,
        `zones` from `account_zones`): a sale at 03:00 UTC on the 1st is the last day of the previous
        month in Chicago. The condition is part of the caller's query."""
        condition = Q(pk__in=[])
        for name, ids in zones.items():
            start, end = self.bounds(zone_named(name))
            condition |= Q(**{"account_id__in": ids, f"{field}__gte": start, f"{field}__lt": end})
        return condition

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        next_first = date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, next_first - timedelta(days=1))

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"


class Kind:
    NOT_PAID_OUT = "not paid out"
    UNKNOWN_ORDER = "unknown order"
    PAYOUT_SUM = "payout does not add up"
    FEE = "fee differs"
    AMOUNT = "amount differs"
    REFUND = "refund"

    ALL = (NOT_PAID_OUT, UNKNOWN_ORDER, PAYOUT_SUM, FEE, AMOUNT, REFUND)


@dataclass(frozen=True)
class PageLink:
    """A link in a finding; its URL is reversed only when read, so only for the findings on the page shown."""

    label: str
    target: Model | None = None  # its admin change page; a Payout's is its reconciliation page

    @property
    def url(self) -> str:
        if self.target is None:
            return ""
        return payout_url(self.target) if isinstance(self.target, Payout) else change_url(self.target)


@dataclass(frozen=True)
class Mismatch:
    kind: str
    account: str
    reason: str
    amount: Decimal | None = None
    currency: str = ""
    when: datetime | None = None
    links: tuple[PageLink, ...] = ()
    order_number: str = ""
    payout_id: str = ""

    @property
    def slug(self) -> str:
        return self.kind.replace(" ", "-")

    @property
    def amount_text(self) -> str:
        return "" if self.amount is None else f"{self.amount:,.2f} {self.currency}".strip()


@dataclass
class Totals:
    """Per currency: the numbers a bookkeeper checks first."""

    currency: str
    orders_paid: int = 0
    orders_paid_amount: Decimal = ZERO
    expected_payout: Decimal = ZERO
    paid_out: int = 0
    paid_out_amount: Decimal = ZERO
    waiting: int = 0
    waiting_amount: Decimal = ZERO
    overdue: int = 0
    overdue_amount: Decimal = ZERO
    refunded_before_payout: int = 0
    payouts: int = 0
    payouts_total: Decimal = ZERO
    line_items_total: Decimal = ZERO
    line_items: int = 0
    fees_charged: Decimal = ZERO
    fees_expected: Decimal = ZERO
    refunds_approved: int = 0
    refunds_approved_amount: Decimal = ZERO

    @property
    def fee_difference(self) -> Decimal:
        return self.fees_charged - self.fees_expected


@dataclass
class Report:
    period: Period
    as_of: datetime
    findings: Sequence[Mismatch]  # `Findings`: built for the slice read (a page), not for the whole period
    totals: list[Totals]
    counts: dict[str, int]  # findings per kind, counted by the database

    def count(self, kind: str) -> int:
        return self.counts[kind]

    @property
    def all_paid_out(self) -> bool:
        return self.count(Kind.NOT_PAID_OUT) == 0

    @property
    def fees_right(self) -> bool:
        return self.count(Kind.FEE) == 0

    @property
    def not_paid_out_count(self) -> int:
        return self.count(Kind.NOT_PAID_OUT)

    @property
    def fee_count(self) -> int:
        return self.count(Kind.FEE)


def _order_link(order: Order | None, number: str = "") -> PageLink:
    if order is None:
        return PageLink(f"order {number} (not in the mirror)")
    return PageLink(f"order {order.order_number}", order)


def _payout_link(payout: Payout | None) -> PageLink:
    if payout is None:
        return PageLink("payout (not in the mirror)")
    return PageLink(f"payout {payout.reverb_id}", payout)


LINES_WITH_PAYOUT = PayoutLineItem.objects.select_related("payout").defer("raw", "payout__raw")
FINDINGS_CHUNK = 500


class Findings(Sequence[Mismatch]):
    """The period's findings in the report's order (kind, account, date), counted by the database and built
    only for the slice read: a page of the report costs a few queries for its own rows, whatever the month."""

    def __init__(self, counts: dict[str, int], page: Callable[[str, int, int], list[Mismatch]]) -> None:
        self.counts = counts
        self.page = page  # (kind, lo, hi) -> that kind's findings lo..hi-1

    def __len__(self) -> int:
        return sum(self.counts.values())

    @overload
    def __getitem__(self, index: int) -> Mismatch: ...
    @overload
    def __getitem__(self, index: slice) -> list[Mismatch]: ...
    def __getitem__(self, index: int | slice) -> Mismatch | list[Mismatch]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            out: list[Mismatch] = []
            offset = 0
            for kind in Kind.ALL:
                lo, hi = max(start - offset, 0), min(stop - offset, self.counts[kind])
                if lo < hi:
                    out += self.page(kind, lo, hi)
                offset += self.counts[kind]
            return out
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(index)
        return self[position : position + 1][0]

    def __iter__(self) -> Iterator[Mismatch]:
        for start in range(0, len(self), FINDINGS_CHUNK):
            yield from self[start : start + FINDINGS_CHUNK]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Findings | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"<Findings {self.counts}>"


class PeriodQueries:
    """The period's rows as querysets, and the grouped queries of the report: totals and counts of findings
    per currency in one query per kind of row (orders, line items, payouts, refunds)."""

    def __init__(self, period: Period, account_ids: Iterable[int] | None, as_of: datetime) -> None:
        self.period, self.as_of = period, as_of
        self.ids = None if account_ids is None else list(account_ids)
        self.zones = account_zones(self.ids)
        self.accounts = sorted(pk for pks in self.zones.values() for pk in pks)
        self.table = rates_by_account(self.accounts)

    def scoped(self, qs: QuerySet) -> QuerySet:
        return qs if self.ids is None else qs.filter(account_id__in=self.ids)

    # -- the rows ---------------------------------------------------------------------------------------
    def orders(self) -> QuerySet[Order]:
        paid = Order.objects.filter(
            self.period.within("paid_at", self.zones), status__in=REPORTED_ORDER_STATUSES
        )
        return (
            self.scoped(paid).order_by().alias(has_lines=has_lines(), refunded=has_approved_refund(APPROVED))
        )

    def past_grace(self) -> Q:
        """Paid longer ago than the account's grace period (`due <= as_of`)."""
        by_grace: dict[int, list[int]] = {}
        for pk in self.accounts:
            by_grace.setdefault(rates(self.table, pk).grace_days, []).append(pk)
        condition = Q(pk__in=[])
        for days, pks in by_grace.items():
            condition |= Q(account_id__in=pks, paid_at__lte=self.as_of - timedelta(days=days))
        return condition

    def lines(self) -> QuerySet[PayoutLineItem]:
        made = PayoutLineItem.objects.filter(self.period.within("payout__remote_created_at", self.zones))
        return self.scoped(made).order_by()

    def payouts(self) -> QuerySet[Payout]:
        made = Payout.objects.filter(self.period.within("remote_created_at", self.zones))
        lines = (
            self.scoped(made)
            .order_by()
            .alias(line_cents=sum_of_lines("payout"), lines=count_of_lines("payout"))
        )
        return lines.alias(
            sum_bad=Case(When(lines=0, then=whole(1)), default=bad(cents_of("total"), F("line_cents")))
        )

    def refunds(self) -> QuerySet[RefundRequest]:
        booked = RefundRequest.objects.filter(refunds_booked_within(self.period, self.zones))
        return self.scoped(booked).exclude(state="denied").order_by()

    # -- the grouped queries ----------------------------------------------------------------------------
    def overdue(self) -> Q:
        """Orders in no payout, not refunded, past their grace period (the `orders_by_class` "overdue")."""
        return Q(has_lines=False, refunded=False, status__in=PAYOUT_STATUSES) & self.past_grace()

    def orders_by_class(self) -> list[tuple[str, str, int, int, int, int]]:
        """(currency, class, orders, their totals, expected payouts, paid out) in cents, a row per currency
        and class: paid out, refunded before payout, waiting (within grace), overdue. Each order's columns
        are selected once in a derived table (with its line items' count and sum), the formulas summed
        over it."""
        # Each order's line items by the index on their order (a subquery per order), not a join grouped
        # over every line item: PostgreSQL hashed the whole line-item table to match a month's orders.
        per_order = (
            self.orders()
            .annotate(line_n=count_of_lines("order"), line_c=sum_of_lines("order"))
            .annotate(
                class_=Case(
                    When(line_n__gt=0, then=Value("paid_out")),
                    When(Q(refunded=True) | ~Q(status__in=PAYOUT_STATUSES), then=Value("before")),
                    When(self.past_grace(), then=Value("overdue")),
                    default=Value("waiting"),
                ),
            )
        )
        expected = ORDER_FORMULAS["expected_payout"]
        return over_rows(
            per_order,
            order_columns("", self.table, self.accounts),
            ["currency", "class_", "line_c"],
            f"SELECT currency, class_, COUNT(*), SUM(o_total), SUM({expected}), SUM(line_c) "
            "FROM {rows} GROUP BY currency, class_",
        )

    def totals_and_counts(self) -> tuple[list[Totals], dict[str, int]]:
        totals: dict[str, Totals] = {}
        counts = dict.fromkeys(Kind.ALL, 0)

        def total_for(currency: str | None) -> Totals:
            return totals.setdefault(currency or "", Totals(currency or ""))

        for currency, class_, n, total, expected, paid_out in self.orders_by_class():
            t = total_for(currency)
            t.orders_paid += n
            t.orders_paid_amount += amount_of_cents(total)
            if class_ == "before":
                t.refunded_before_payout += n
                continue
            t.expected_payout += amount_of_cents(expected)
            if class_ == "paid_out":
                t.paid_out, t.paid_out_amount = t.paid_out + n, t.paid_out_amount + amount_of_cents(paid_out)
            elif class_ == "waiting":
                t.waiting, t.waiting_amount = t.waiting + n, t.waiting_amount + amount_of_cents(expected)
            else:
                t.overdue, t.overdue_amount = t.overdue + n, t.overdue_amount + amount_of_cents(expected)
                counts[Kind.NOT_PAID_OUT] += n
        f = LINE_FORMULAS
        for currency, n, total, fees, expected_fees, unknown, fee, amount in over_rows(
            self.lines(),
            line_columns(self.table, self.accounts),
            ["currency"],
            f"SELECT currency, COUNT(*), SUM(l_total), SUM(l_fees), SUM({f['expected_fees']}), "
            f"SUM(1 - l_known), SUM({f['fee_findings']}), SUM({f['amount_findings']}) "
            "FROM {rows} GROUP BY currency",
        ):
            counts[Kind.UNKNOWN_ORDER] += unknown or 0
            counts[Kind.FEE] += fee or 0
            counts[Kind.AMOUNT] += amount or 0
            line_totals = {"line_items_total": total, "fees_charged": fees, "fees_expected": expected_fees}
            _fill(total_for(currency), {"line_items": n, **line_totals})
        for row in (
            self.payouts()
            .values("currency")
            .annotate(payouts=Count("pk"), payouts_total=Sum(cents_of("total")), sums=Sum("sum_bad"))
        ):
            counts[Kind.PAYOUT_SUM] += row.pop("sums") or 0
            _fill(total_for(row.pop("currency")), row)
        approved = Q(state=APPROVED)
        for row in (
            self.refunds()
            .values("currency")
            .annotate(
                refunds=Count("pk"),
                refunds_approved=Count("pk", filter=approved),
                refunds_approved_amount=Sum(cents_of("amount"), filter=approved),
            )
        ):
            counts[Kind.REFUND] += row.pop("refunds")
            _fill(total_for(row.pop("currency")), row)
        return sorted(totals.values(), key=lambda t: t.currency), counts

    # -- the findings of one page -----------------------------------------------------------------------
    def page(self, kind: str, lo: int, hi: int) -> list[Mismatch]:
        """The findings lo..hi-1 of `kind`, in the report's order."""
        if kind == Kind.NOT_PAID_OUT:
            orders = self.orders().filter(self.overdue()).select_related("account")
            return [
                not_paid_out(order, rates(self.table, order.account_id), self.as_of)
                for order in orders.order_by("account__name", "paid_at", "pk")[lo:hi]
            ]
        if kind == Kind.PAYOUT_SUM:
            payouts = (
                self.payouts()
                .filter(sum_bad=1)
                .select_related("account")
                .defer("raw")
                .annotate(line_cents_=F("line_cents"), lines_=F("lines"))
                .order_by("account__name", "remote_created_at", "pk")[lo:hi]
            )
            return [payout_sum(p, amount_of_cents(p.line_cents_), p.lines_) for p in payouts]
        if kind == Kind.REFUND:
            return [refund_finding(r) for r in self._refunds_page(lo, hi)]
        return self._lines_page(kind, lo, hi)

    def _refunds_page(self, lo: int, hi: int) -> QuerySet[RefundRequest]:
        booked = Case(
            When(state=APPROVED, remote_updated_at__isnull=False, then=F("remote_updated_at")),
            default=F("remote_created_at"),
        )
        return (
            self.refunds()
            .select_related("order", "account")
            .defer("raw", "order__raw")
            .prefetch_related(
                Prefetch("order__payout_line_items", queryset=LINES_WITH_PAYOUT, to_attr="paid_lines")
            )
            .alias(booked=Coalesce(booked, Value(self.as_of), output_field=DateTimeField()))
            .order_by("account__name", "booked", "remote_created_at", "pk")[lo:hi]
        )

    def _lines_page(self, kind: str, lo: int, hi: int) -> list[Mismatch]:
        """Line items give 0, 1 or more findings of a kind: a running sum (a window) finds the line items that
        hold findings lo..hi-1, then only those are loaded and checked."""
        flag = {
            Kind.UNKNOWN_ORDER: "(1 - l_known)",
            Kind.FEE: LINE_FORMULAS["fee_findings"],
            Kind.AMOUNT: LINE_FORMULAS["amount_findings"],
        }[kind]
        lines = self.lines().annotate(account_name=F("account__name"), made=F("payout__remote_created_at"))
        rows = over_rows(
            lines,
            line_columns(self.table, self.accounts),
            ["pk", "account_name", "made", "order_number"],
            "SELECT pk, upto, n FROM (SELECT pk, n,"
            " SUM(n) OVER (ORDER BY account_name, made, order_number, pk) AS upto FROM"
            f" (SELECT pk, account_name, made, order_number, {flag} AS n FROM {{rows}}) flagged"
            " WHERE n > 0) running WHERE upto > %s ORDER BY upto LIMIT %s",
            [lo, hi - lo],
        )
        if not rows:
            return []
        loaded = line_items_with_orders(PayoutLineItem.objects.filter(pk__in=[pk for pk, _, _ in rows]))
        by_pk = {li.pk: li for li in loaded}
        found = [
            finding
            for pk, _, _ in rows
            for finding in line_findings(by_pk[pk], rates(self.table, by_pk[pk].account_id))
            if finding.kind == kind
        ]
        _, upto, n = rows[0]
        skip = lo - (upto - n)
        return found[skip : skip + hi - lo]


def over_rows(
    qs: QuerySet,
    columns: dict[str, Expression],
    fields: list[str],
    outer: str,
    params: list[Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Run `outer` (SQL text; `{rows}` is where the derived table goes) over `qs` selecting `fields` and
    `columns` (payouts/sql.py): each column is worked out once per row, the formulas over them are integer
    arithmetic. `params` follow the derived table's own."""
    inner = qs.annotate(**columns).values_list(*fields, *columns)
    try:
        sql, inner_params = inner.query.sql_with_params()
    except EmptyResultSet:  # no row can match (a user of no shop): every `outer` here groups, so no rows
        return []
    if connection.vendor == "postgresql":
        sql += " OFFSET 0"  # a fence: PostgreSQL would pull the derived table up and repeat each column
    with connection.cursor() as cursor:
        cursor.execute(outer.format(rows=f"({sql}) per_row"), [*inner_params, *(params or [])])
        return cursor.fetchall()


def _fill(totals: Totals, row: dict[str, int | None]) -> None:
    """Copy a grouped row into Totals: counts as they are, amounts (in cents) as Decimals."""
    for name, value in row.items():
        is_amount = isinstance(getattr(totals, name), Decimal)
        setattr(totals, name, amount_of_cents(value) if is_amount else value or 0)


def match_period(
    period: Period, account_ids: Iterable[int] | None = None, as_of: datetime | None = None
) -> Report:
    """Totals and counts of findings for orders paid, payouts made and refunds approved (or, still open,
    requested) within `period`, the findings themselves built when read (`Findings`, a page at a time).

    Queries (constant): the accounts' time zones 1; fee schedules 1; one grouped query each for orders, line
    items, payouts and refunds. A page of findings adds a few more (its rows, their orders, refunds)."""
    queries = PeriodQueries(period, account_ids, as_of or timezone.now())
    totals, counts = queries.totals_and_counts()
    return Report(period, queries.as_of, Findings(counts, queries.page), totals, counts)


# -- the findings, one row at a time ------------------------------------------------------------------
def not_paid_out(order: Order, rates_: Rates, as_of: datetime) -> Mismatch:
    """A paid order in no payout after its account's grace period."""
    days = (as_of - order.paid_at).days if order.paid_at else 0
    return Mismatch(
        Kind.NOT_PAID_OUT,
        order.account.name,
        f"paid {days} days ago ({order.status}) and in no payout; "
        f"the grace period is {rates_.grace_days} days",
        OrderAmounts.of(order).expected_payout(rates_),
        order.currency,
        order.paid_at,
        (_order_link(order),),
        order_number=order.order_number,
    )


def line_findings(line: PayoutLineItem, rates_: Rates) -> list[Mismatch]:
    """A line item of a payout: its order unknown, or each amount and fee that differs from its order's."""
    payout = line.payout
    links = (_payout_link(payout), PageLink(f"line item {line.reverb_id}", line))
    common = {
        "account": line.account.name,
        "currency": line.currency,
        "when": payout.remote_created_at if payout else None,
        "order_number": line.order_number,
        "payout_id": line.payout_reverb_id,
    }
    check = check_line_item(line, rates_)
    if check.order is None:
        return [
            Mismatch(
                Kind.UNKNOWN_ORDER,
                reason=f"order {line.order_number or '(none given)'} is not in the mirror",
                amount=cents(line.amount_total),
                links=(*links, _order_link(None, line.order_number)),
                **common,
            )
        ]
    return [
        Mismatch(
            Kind.FEE if diff.key.startswith("fees") else Kind.AMOUNT,
            reason=f"{diff.label}: {diff.reason}",
            amount=cents(diff.line_value) - cents(diff.order_value),
            links=(*links, _order_link(check.order)),
            **common,
        )
        for diff in check.differences
        if diff.key != "refunds"  # reported from the refund request itself
    ]


def payout_sum(payout: Payout, line_sum: Decimal, line_count: int) -> Mismatch:
    """A payout whose total is not the sum of its line items (or that has none in the mirror)."""
    reason = (
        "no line items in the mirror"
        if not line_count
        else f"payout total {cents(payout.total)} but its {line_count} line items add up to {line_sum}"
    )
    return Mismatch(
        Kind.PAYOUT_SUM,
        payout.account.name,
        reason,
        cents(payout.total) - line_sum,
        payout.currency,
        payout.remote_created_at,
        (_payout_link(payout),),
        payout_id=payout.reverb_id,
    )


def refunds_booked_in(start: datetime, end: datetime) -> Q:
    """A refund is booked when it is approved (its last update: approval is final), an open one when it
    was requested; a refund approved in November changes November, not the month it was asked for."""
    created = Q(remote_created_at__gte=start, remote_created_at__lt=end)
    approved = Q(state=APPROVED) & (
        Q(remote_updated_at__gte=start, remote_updated_at__lt=end)
        | Q(remote_updated_at__isnull=True) & created
    )
    return approved | (~Q(state=APPROVED) & created)


def refunds_booked_within(period: Period, zones: dict[str, list[int]]) -> Q:
    """`refunds_booked_in` for each account's own days (its shop's time zone, `zones` from account_zones)."""
    condition = Q(pk__in=[])
    for name, ids in zones.items():
        start, end = period.bounds(zone_named(name))
        condition |= Q(account_id__in=ids) & refunds_booked_in(start, end)
    return condition


def booked_at(refund: RefundRequest) -> datetime | None:
    if refund.state == APPROVED and refund.remote_updated_at:
        return refund.remote_updated_at
    return refund.remote_created_at


def refund_finding(refund: RefundRequest) -> Mismatch:
    """A refund booked in the period (order and its line items with payouts loaded: `paid_lines`)."""
    order = refund.order
    amount = cents(refund.amount)
    lines = order.paid_lines if order is not None else []
    links: list[PageLink] = [
        PageLink(f"refund request {refund.reverb_id}", refund),
        _order_link(order, refund.order_number),
    ]
    links += [_payout_link(li.payout) for li in lines]
    if refund.state == APPROVED:
        if lines:
            paid = ", ".join(f"payout {li.payout_reverb_id}" for li in lines)
            reason = f"approved after the order was paid out ({paid}): deduct {amount} from a later payout"
        else:
            reason = "approved before any payout: the order is not paid out, nothing to deduct"
    elif refund.state in OPEN_REFUND_STATES:
        reason = f"{refund.state.replace('_', ' ')}: {amount} may be deducted once approved"
    else:
        reason = f"state {refund.state}"
    return Mismatch(
        Kind.REFUND,
        refund.account.name,
        reason,
        amount,
        refund.currency,
        booked_at(refund),
        tuple(links),
        order_number=refund.order_number,
    )
