"""The reconciliation's arithmetic in the database, in whole cents (integers, exact on SQLite and PostgreSQL
alike), so the month's report sums and counts in a few grouped queries instead of Python over every order
(payouts/matching.py `match_period`).

Two layers: `order_columns` / `line_columns` are ORM expressions for what a row needs (cents, the account's
fee schedule), selected once per row in a derived table
(matching.over_rows); ORDER_FORMULAS / LINE_FORMULAS are the fee rules as integer SQL arithmetic over those
columns, so no numeric cast is repeated per formula. Nothing reads `raw`: it is stored as text (json, not
jsonb) and would be parsed again per row; the order's bump fee and tax party are columns.

Each formula mirrors a Python counterpart in payouts/fees.py and payouts/matching.py, which still build the
findings shown on a page; the tests compare the two on a mixed shop (tests/payouts/test_report_sql.py).
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
from django.db.models.functions import Abs, Coalesce
from django.db.models.lookups import GreaterThan

from refunds.models import RefundRequest

from .fees import CENT, TOLERANCE, Rates, rates
from .models import PayoutLineItem

INT = BigIntegerField()
MONEY = DecimalField(max_digits=14, decimal_places=2)
# `differs`'s tolerance in cents: the counts (here) and the findings listed (fees.differs) use the one number.
TOLERANCE_CENTS = int(TOLERANCE / CENT)


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


def amount_of_cents(value: int | None) -> Decimal:
    """Cents summed by the database back to a Decimal amount."""
    return (Decimal(value or 0) / 100).quantize(CENT)


def bad(ours: Expression, theirs: Expression) -> Expression:
    """1 when two amounts in cents differ by more than a cent (`differs`), else 0."""
    over = GreaterThan(Abs(ours - theirs), TOLERANCE_CENTS)
    return Case(When(over, then=whole(1)), default=zero(), output_field=INT)


def per_account(table: dict[int, Rates], account_ids: list[int], attr: str, scale: int) -> Expression:
    """A fee-schedule figure as an integer (percent in hundredths, fixed amount in cents), per account."""
    default = int(getattr(Rates(), attr) * scale)
    whens = [
        When(account_id=pk, then=whole(int(getattr(rates(table, pk), attr) * scale)))
        for pk in account_ids
        if int(getattr(rates(table, pk), attr) * scale) != default
    ]
    return Case(*whens, default=whole(default), output_field=INT) if whens else whole(default)


def order_columns(prefix: str, table: dict[int, Rates], account_ids: list[int]) -> dict[str, Expression]:
    """What the arithmetic needs of an order, in cents, for a queryset of orders (`prefix` "") or of rows
    that reach their order through a foreign key ("order__"), named o_*: selected once per row in a derived
    table, so the numeric casts and the raw payload (a TOASTed jsonb on PostgreSQL) are read once, and the
    formulas (ORDER_FORMULAS) are integer arithmetic over these columns. Fee schedules: the row's account's.
    """
    p = prefix
    tax = cents_of(f"{p}amount_tax")
    # The order states what the seller got (direct_checkout_payout) and has a total: Reverb's own figure.
    states_payout = Q(**{f"{p}direct_checkout_payout__isnull": False, f"{p}amount_total__isnull": False})
    states_payout &= ~Q(**{f"{p}amount_total": 0})
    return {
        "o_total": cents_of(f"{p}amount_total"),
        "o_shipping": cents_of(f"{p}amount_shipping"),
        "o_tax": tax,
        "o_itemised": cents_of(f"{p}selling_fee") + cents_of(f"{p}direct_checkout_fee"),
        "o_states_payout": Case(When(states_payout, then=whole(1)), default=zero(), output_field=INT),
        "o_payout": cents_of(f"{p}direct_checkout_payout"),
        "o_withheld": Case(
            When(Q(**{f"{p}tax_responsible_party": "reverb"}), then=tax),
            default=zero(),
            output_field=INT,
        ),
        "o_bump": cents_of(f"{p}bump_fee"),
        "o_selling_percent": per_account(table, account_ids, "selling_percent", 100),
        "o_processing_percent": per_account(table, account_ids, "processing_percent", 100),
        "o_processing_fixed": per_account(table, account_ids, "processing_fixed", 100),
    }


def half_up_sql(numerator: str, per: int) -> str:
    """numerator / per rounded half up (away from zero), like `cents()`; integer division in both
    databases."""
    half = per // 2
    up, down = f"(({numerator}) + {half}) / {per}", f"(({numerator}) - {half}) / {per}"
    return f"(CASE WHEN ({numerator}) >= 0 THEN {up} ELSE {down} END)"


def bad_sql(ours: str, theirs: str) -> str:
    """1 when two amounts in cents differ by more than a cent (`differs`), else 0."""
    return f"(CASE WHEN ABS(({ours}) - ({theirs})) > {TOLERANCE_CENTS} THEN 1 ELSE 0 END)"


def _order_formulas() -> dict[str, str]:
    """`OrderAmounts` over the o_* columns of `order_columns` (SQL text, integers in cents)."""
    product = "(o_total - o_shipping - o_tax)"
    selling = half_up_sql(f"({product} + o_shipping) * o_selling_percent", 10000)
    processing = (
        f"(CASE WHEN o_total <= 0 THEN 0 ELSE {half_up_sql('o_total * o_processing_percent', 10000)}"
        " + o_processing_fixed END)"
    )
    return {
        "product": product,
        "schedule_fees": f"({selling} + {processing} + o_bump)",
        "order_fees": "(CASE WHEN o_states_payout = 1 THEN o_total - o_withheld - o_payout"
        " ELSE o_itemised + o_bump END)",
        "expected_payout": "(CASE WHEN o_states_payout = 1 THEN o_payout"
        f" ELSE o_total - {selling} - {processing} - o_bump - o_withheld END)",
    }


ORDER_FORMULAS = _order_formulas()


def line_columns(table: dict[int, Rates], account_ids: list[int]) -> dict[str, Expression]:
    """A payout line item's amounts (l_*), whether its order is known, and its order's (o_*), in cents."""
    return {
        "l_known": Case(When(order__isnull=False, then=whole(1)), default=zero(), output_field=INT),
        "l_product": cents_of("amount_product"),
        "l_shipping": cents_of("amount_shipping"),
        "l_tax": cents_of("amount_tax"),
        "l_fees": cents_of("fees"),
        "l_total": cents_of("amount_total"),
        **order_columns("order__", table, account_ids),
    }


def _line_formulas() -> dict[str, str]:
    """`check_line_item` over `line_columns`: counts of fee rows and amount rows that differ (0 without a
    known order), and the fees the schedule expects."""
    o = ORDER_FORMULAS
    fees = bad_sql(o["order_fees"], "l_fees") + " + " + bad_sql(o["schedule_fees"], "l_fees")
    amounts = " + ".join(
        [
            bad_sql(o["product"], "l_product"),
            bad_sql("o_shipping", "l_shipping"),
            bad_sql("o_tax", "l_tax"),
            bad_sql("o_total - l_fees - o_withheld", "l_total"),
        ]
    )
    return {
        "expected_fees": f"(l_known * {o['schedule_fees']})",
        "fee_findings": f"(l_known * ({fees}))",
        "amount_findings": f"(l_known * ({amounts}))",
    }


LINE_FORMULAS = _line_formulas()


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
