"""The reconciliation's arithmetic as database expressions, in whole cents (integers, exact on SQLite and
PostgreSQL alike), so the month's report sums and counts in a few grouped queries instead of Python over
every order (payouts/matching.py `match_period`).

Each expression mirrors a Python counterpart in payouts/fees.py and payouts/matching.py, which still build
the findings shown on a page; the tests compare the two on a mixed shop (tests/payouts/test_report_sql.py).
Amounts are assumed to be stored with two decimals (`amount_field`), so `cents()` of a column is the column.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DecimalField,
    Exists,
    Expression,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Abs, Cast, Coalesce
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThanOrEqual

from refunds.models import RefundRequest

from .fees import CENT, Rates, rates
from .models import PayoutLineItem

INT = BigIntegerField()
MONEY = DecimalField(max_digits=14, decimal_places=2)
NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def whole(number: int) -> Value:
    return Value(number, output_field=INT)


def zero() -> Value:
    return whole(0)


class Cents(Func):
    """A decimal expression in whole cents, rounded half away from zero (NULL is 0). PostgreSQL's numeric to
    bigint cast rounds so; SQLite's decimals are floats, so they are rounded before the cast."""

    output_field = INT
    template = "CAST(ROUND(%(expressions)s * 100) AS INTEGER)"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s * 100)::bigint", **extra)


def cents_of(column: str | Expression) -> Expression:
    """A money column (or a decimal expression) in whole cents."""
    expr = F(column) if isinstance(column, str) else column
    return Cents(Coalesce(expr, Value(Decimal(0)), output_field=MONEY))


def money(value: int | None) -> Decimal:
    """Cents summed by the database back to a Decimal amount."""
    return (Decimal(value or 0) / 100).quantize(CENT)


def half_up(numerator: Expression, per: int) -> Expression:
    """numerator / per rounded half up (away from zero), like `cents()`: integer division in both
    databases."""
    half = per // 2
    return Case(
        When(GreaterThanOrEqual(numerator, 0), then=(numerator + whole(half)) / whole(per)),
        default=(numerator - whole(half)) / whole(per),
        output_field=INT,
    )


def bad(ours: Expression, theirs: Expression) -> Expression:
    """1 when two amounts in cents differ by more than a cent (`differs`), else 0."""
    return Case(When(GreaterThan(Abs(ours - theirs), 1), then=whole(1)), default=zero(), output_field=INT)


def per_account(table: dict[int, Rates], account_ids: list[int], attr: str, scale: int) -> Expression:
    """A fee-schedule figure as an integer (percent in hundredths, fixed amount in cents), per account."""
    default = int(getattr(Rates(), attr) * scale)
    whens = [
        When(account_id=pk, then=whole(int(getattr(rates(table, pk), attr) * scale)))
        for pk in account_ids
        if int(getattr(rates(table, pk), attr) * scale) != default
    ]
    return Case(*whens, default=whole(default), output_field=INT) if whens else whole(default)


class OrderSums:
    """An order's amounts (`OrderAmounts`) in cents, for a queryset of orders (`prefix` "") or of rows that
    reach their order through a foreign key (`prefix` "order__"). Fee schedules are the row's account's."""

    def __init__(self, prefix: str, table: dict[int, Rates], account_ids: list[int]) -> None:
        p = prefix
        self.total = cents_of(f"{p}amount_total")
        self.shipping = cents_of(f"{p}amount_shipping")
        self.tax = cents_of(f"{p}amount_tax")
        self.product = self.total - self.shipping - self.tax
        self.withheld = Case(
            When(Q(**{f"{p}raw__tax_responsible_party": "reverb"}), then=self.tax),
            default=zero(),
            output_field=INT,
        )
        bump_amount = KeyTextTransform("amount", KeyTransform("bump_fee", f"{p}raw"))
        bump_plain = KeyTextTransform("bump_fee", f"{p}raw")
        self.bump = Case(
            When(Q(**{f"{p}raw__bump_fee__amount__regex": NUMBER}), then=cents_of(Cast(bump_amount, MONEY))),
            When(Q(**{f"{p}raw__bump_fee__regex": NUMBER}), then=cents_of(Cast(bump_plain, MONEY))),
            default=zero(),
            output_field=INT,
        )
        # The order states what the seller got (direct_checkout_payout) and has a total: Reverb's own figure.
        self.states_payout = Q(
            **{f"{p}direct_checkout_payout__isnull": False, f"{p}amount_total__isnull": False}
        )
        self.states_payout &= ~Q(**{f"{p}amount_total": 0})
        self.payout = cents_of(f"{p}direct_checkout_payout")
        selling = per_account(table, account_ids, "selling_percent", 100)
        processing = per_account(table, account_ids, "processing_percent", 100)
        fixed = per_account(table, account_ids, "processing_fixed", 100)
        self.selling_fee = half_up((self.product + self.shipping) * selling, 10000)
        self.processing_fee = Case(
            When(LessThanOrEqual(self.total, 0), then=zero()),
            default=half_up(self.total * processing, 10000) + fixed,
            output_field=INT,
        )
        self.schedule_fees = self.selling_fee + self.processing_fee + self.bump
        itemised = cents_of(f"{p}selling_fee") + cents_of(f"{p}direct_checkout_fee") + self.bump
        self.order_fees = Case(
            When(self.states_payout, then=self.total - self.withheld - self.payout),
            default=itemised,
            output_field=INT,
        )
        self.expected_payout = Case(
            When(self.states_payout, then=self.payout),
            default=self.total - self.selling_fee - self.processing_fee - self.bump - self.withheld,
            output_field=INT,
        )


class LineSums:
    """A payout line item's checks against its order (`check_line_item`) as counts of findings: fee rows
    (as on the order, by the schedule) and amount rows (sale price, shipping, tax, total). 0 without order."""

    def __init__(self, table: dict[int, Rates], account_ids: list[int]) -> None:
        order = OrderSums("order__", table, account_ids)
        fees = cents_of("fees")
        known = Q(order__isnull=False)
        self.expected_fees = Case(When(known, then=order.schedule_fees), default=zero(), output_field=INT)
        self.fee_findings = Case(
            When(known, then=bad(order.order_fees, fees) + bad(order.schedule_fees, fees)),
            default=zero(),
            output_field=INT,
        )
        amounts = (
            bad(order.product, cents_of("amount_product"))
            + bad(order.shipping, cents_of("amount_shipping"))
            + bad(order.tax, cents_of("amount_tax"))
            + bad(order.total - fees - order.withheld, cents_of("amount_total"))
        )
        self.amount_findings = Case(When(known, then=amounts), default=zero(), output_field=INT)


def sum_of_lines(lines_of: str) -> Expression:
    """Cents of the line items whose `lines_of` is the outer row (a correlated subquery; 0 without any)."""
    lines = (
        PayoutLineItem.objects.filter(**{lines_of: OuterRef("pk")})
        .order_by()
        .values(lines_of)
        .annotate(s=Sum(cents_of("amount_total")))
        .values("s")
    )
    return Coalesce(Subquery(lines, output_field=INT), zero())


def count_of_lines(lines_of: str) -> Expression:
    lines = (
        PayoutLineItem.objects.filter(**{lines_of: OuterRef("pk")})
        .order_by()
        .values(lines_of)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(lines, output_field=INT), zero())


def has_lines() -> Exists:
    return Exists(PayoutLineItem.objects.filter(order=OuterRef("pk")))


def has_approved_refund(approved: str) -> Exists:
    """An approved refund with an amount touches the order (`approved_refunds(order)` is not zero)."""
    refunds = RefundRequest.objects.filter(order=OuterRef("pk"), state=approved, amount__isnull=False)
    return Exists(refunds.exclude(amount=0))
