"""The monthly margin report: orders paid in a period, per shop and currency: revenue, Reverb's fees, cost and
margin, with totals that are the sums of the rows shown (each row in cents first, then added up).

Fees: what Reverb kept as the order states it (`direct_checkout_payout`, else its `selling_fee` and
processing fee, fees.OrderAmounts.order_fees) when the order says so, else the shop's fee schedule. Cost: the
listing's cost at the time of the report (not at the sale: the back office keeps no history of costs) times
the quantity. Orders without a known cost (no listing here, no cost set, or a cost in another currency) are
listed apart and left out of the totals. Revenue is the product (price x quantity): the shipping the buyer
paid is taken to pay the carrier, as on the listing and offer pages (payouts/margin.py); refunds are not
subtracted (see the reconciliation).

The totals are summed by the database in whole cents (payouts/sql.py's columns and formulas, one grouped
query), and only the rows shown are built in Python (`rows_of`, the same rules): a month of a busy shop costs
one query, not a Python loop over every order. tests/margin/test_margin_report.py checks the two agree."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, F, Q, QuerySet, When

from backoffice.models import ReverbAccount
from backoffice.models.account import account_zones
from orders.models import Order

from .fees import HUNDRED, ZERO, OrderAmounts, Rates, cents, rates, rates_by_account
from .matching import Period, over_rows
from .sql import INT, ORDER_FORMULAS, amount_of_cents, cents_of, order_columns, whole, zero

# What the report reads of an order (never its `raw` payload, nor its listing's).
ORDER_FIELDS = (
    "account_id",
    "listing_id",
    "order_number",
    "paid_at",
    "title",
    "sku",
    "quantity",
    "currency",
    "amount_total",
    "amount_shipping",
    "amount_tax",
    "selling_fee",
    "direct_checkout_fee",
    "direct_checkout_payout",
    "bump_fee",
    "tax_responsible_party",
)
REVERB = "Reverb (on the order)"
SCHEDULE = "fee schedule"


@dataclass(frozen=True)
class MarginRow:
    order: Order
    revenue: Decimal  # the product: price x quantity
    shipping: Decimal
    fees: Decimal
    fee_source: str
    cost: Decimal | None  # the listing's cost now x quantity
    margin: Decimal | None
    note: str = ""  # why the cost is unknown

    @property
    def percent(self) -> Decimal | None:
        return percent_of(self.margin, self.revenue)


@dataclass
class MarginTotals:
    account: str
    currency: str
    orders: int = 0
    revenue: Decimal = ZERO
    shipping: Decimal = ZERO
    fees: Decimal = ZERO
    cost: Decimal = ZERO
    margin: Decimal = ZERO

    @property
    def percent(self) -> Decimal | None:
        return percent_of(self.margin, self.revenue)


@dataclass
class MarginReport:
    period: Period
    known: QuerySet[Order]  # cost known: in the totals (rows built a page at a time: rows_of)
    unknown: QuerySet[Order]  # cost unknown: listed apart
    totals: list[MarginTotals] = field(default_factory=list)  # per shop and currency, over `known`
    unknown_count: int = 0
    table: dict[int, Rates] = field(default_factory=dict)

    def rows_of(self, orders: Iterable[Order]) -> list[MarginRow]:
        return [row_of(order, rates(self.table, order.account_id)) for order in orders]


def percent_of(part: Decimal | None, whole: Decimal) -> Decimal | None:
    if part is None or not whole:
        return None
    return (part * HUNDRED / whole).quantize(Decimal("0.1"))


def orders_paid(period: Period, orders: QuerySet[Order], account_ids: list[int] | None) -> QuerySet[Order]:
    """`orders` (already scoped to the user: backoffice/access.py for_user) paid within the period, as each
    shop counts its days; one query with their listings and shops."""
    qs = orders.filter(period.within("paid_at", account_zones(account_ids)))
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return (
        qs.select_related("listing", "account")
        .only(*ORDER_FIELDS, "listing__cost", "listing__currency", "account__name")
        .order_by("account__name", "paid_at", "pk")
    )


def fees_of(order: Order, amounts: OrderAmounts, schedule: Rates) -> tuple[Decimal, str]:
    """(Reverb's fees on the order, where they come from): the order's own when it states them (its payout
    with its total, or its selling fee), else the fee schedule's on its product, shipping and total (with
    its bump fee). payouts/sql.py's `schedule_fees` / `order_fees` are the same rules in SQL (FEES_SQL)."""
    if (amounts.payout is not None and amounts.total) or order.selling_fee is not None:
        return amounts.order_fees, REVERB
    product_fees = schedule.selling_fee(amounts.product, amounts.shipping)
    return product_fees + schedule.processing_fee(amounts.total) + amounts.bump_fee, SCHEDULE


def row_of(order: Order, schedule: Rates) -> MarginRow:
    amounts = OrderAmounts.of(order)
    fee, source = fees_of(order, amounts, schedule)
    listing = order.listing
    note = ""
    if listing is None:
        note = "listing not in the back office"
    elif listing.cost is None:
        note = "no cost set on the listing"
    elif listing.currency and order.currency and listing.currency != order.currency:
        note = f"cost in {listing.currency}, order in {order.currency}"
    if note:
        return MarginRow(order, amounts.product, amounts.shipping, fee, source, None, None, note)
    cost = cents(listing.cost * (order.quantity or 1))
    margin = amounts.product - fee - cost
    return MarginRow(order, amounts.product, amounts.shipping, fee, source, cost, margin)


# A cost is known: the order's listing is here with a cost in the order's currency (or one of them unsaid).
KNOWN = Q(listing__cost__isnull=False) & (
    Q(listing__currency="") | Q(currency="") | Q(listing__currency=F("currency"))
)
FEES_SQL = (
    f"(CASE WHEN o_states_payout = 1 OR m_selling_told = 1 THEN {ORDER_FORMULAS['order_fees']}"
    f" ELSE {ORDER_FORMULAS['schedule_fees']} END)"
)


def margin_report(period: Period, orders: QuerySet[Order]) -> MarginReport:
    """The report over `orders` (from `orders_paid`): totals per shop and currency in one grouped query."""
    known, unknown = orders.filter(KNOWN), orders.exclude(KNOWN)
    accounts = sorted(set(orders.order_by().values_list("account_id", flat=True).distinct()))
    table = rates_by_account(accounts)
    report = MarginReport(period, known, unknown, table=table, unknown_count=unknown.count())
    columns = {
        **order_columns("", table, accounts),
        "m_selling_told": Case(
            When(selling_fee__isnull=False, then=whole(1)), default=zero(), output_field=INT
        ),
        "m_cost": cents_of("listing__cost") * F("quantity"),
    }
    product = ORDER_FORMULAS["product"]
    grouped = over_rows(
        known.order_by(),
        columns,
        ["account_id", "currency"],
        f"SELECT account_id, currency, COUNT(*), SUM({product}), SUM(o_shipping), SUM({FEES_SQL}), "
        f"SUM(m_cost), SUM({product} - {FEES_SQL} - m_cost) FROM {{rows}} GROUP BY account_id, currency",
    )
    names = dict(ReverbAccount.objects.filter(pk__in=accounts).values_list("pk", "name"))
    for account_id, currency, n, revenue, shipping, fees, cost, margin in grouped:
        totals = MarginTotals(names.get(account_id, str(account_id)), currency or "", n)
        totals.revenue, totals.shipping = amount_of_cents(revenue), amount_of_cents(shipping)
        totals.fees, totals.cost = amount_of_cents(fees), amount_of_cents(cost)
        totals.margin = amount_of_cents(margin)
        report.totals.append(totals)
    report.totals.sort(key=lambda t: (t.account, t.currency))
    return report


CSV_HEADER = [
    "account",
    "order number",
    "paid",
    "title",
    "SKU",
    "quantity",
    "currency",
    "revenue",
    "shipping",
    "fees",
    "fees from",
    "cost (listing's cost at report time)",
    "margin",
    "margin %",
    "note",
]


def csv_rows(report: MarginReport) -> Iterator[list[Any]]:
    """Every order of the report, those with a cost first; streamed."""
    for qs in (report.known, report.unknown):
        for order in qs.iterator(chunk_size=2000):
            row = row_of(order, rates(report.table, order.account_id))
            o = row.order
            paid: datetime | None = o.paid_at
            yield [
                o.account.name,
                o.order_number,
                paid.isoformat() if paid else "",
                o.title,
                o.sku,
                o.quantity,
                o.currency,
                row.revenue,
                row.shipping,
                row.fees,
                row.fee_source,
                "" if row.cost is None else row.cost,
                "" if row.margin is None else row.margin,
                "" if row.percent is None else row.percent,
                row.note,
            ]
