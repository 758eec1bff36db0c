"""Payout-to-order matching over the mirror: pure-ish functions over querysets.

Every function costs a constant number of queries (prefetch/aggregate, never a query per row):
- `check_payout(payout)`: one payout's line items against their orders (the payout page);
- `match_period(period, ...)`: a period's findings and totals (the reconciliation report).

"Paid out" means: the order has a mirrored payout line item. An order is expected in a payout when its
status is one of PAYOUT_STATUSES, it has been paid, and no approved refund touches it (Reverb then keeps the
money back; the emulator never pays those out).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, Model, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from backoffice.admin.links import change_url
from backoffice.models.account import account_zones, zone_named
from orders.models import Order
from refunds.models import RefundRequest

from .fees import ZERO, OrderAmounts, Rates, cents, differs, rates, rates_by_account
from .models import Payout, PayoutLineItem

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
    findings: list[Mismatch]
    totals: list[Totals]

    def count(self, kind: str) -> int:
        return self.counts[kind]

    @cached_property
    def counts(self) -> dict[str, int]:
        """Findings per kind, in one pass (the page reads them several times)."""
        counts = dict.fromkeys(Kind.ALL, 0)
        for finding in self.findings:
            counts[finding.kind] += 1
        return counts

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


def match_period(
    period: Period, account_ids: Iterable[int] | None = None, as_of: datetime | None = None
) -> Report:
    """Findings and totals for orders paid, payouts made and refunds approved (or, still open, requested)
    within `period`.

    Queries (constant): the accounts' time zones 1; fee schedules 1; orders 3 (+ line items with payouts, +
    refunds); line items of the period's payouts 2; payouts 1; refund requests 2 (+ the orders' line
    items)."""
    as_of = as_of or timezone.now()
    ids = None if account_ids is None else list(account_ids)
    zones = account_zones(ids)

    def scoped(qs: QuerySet) -> QuerySet:
        return qs if ids is None else qs.filter(account_id__in=ids)

    orders = list(
        scoped(Order.objects.filter(period.within("paid_at", zones), status__in=REPORTED_ORDER_STATUSES))
        .select_related("account")
        .prefetch_related(
            Prefetch("payout_line_items", queryset=LINES_WITH_PAYOUT, to_attr="paid_lines"),
            REFUNDS_PREFETCH,
        )
        .order_by("paid_at", "pk")
    )
    lines = list(
        line_items_with_orders(
            scoped(PayoutLineItem.objects.filter(period.within("payout__remote_created_at", zones)))
        ).order_by("payout__remote_created_at", "order_number", "pk")
    )
    payouts = list(
        scoped(Payout.objects.filter(period.within("remote_created_at", zones)))
        .select_related("account")
        .defer("raw")
        .annotate(line_sum=Coalesce(Sum("line_items__amount_total"), ZERO), line_count=Count("line_items"))
        .order_by("remote_created_at", "pk")
    )
    refunds = list(
        scoped(RefundRequest.objects.filter(refunds_booked_within(period, zones)))
        .exclude(state="denied")
        .select_related("order", "account")
        .defer("raw", "order__raw")
        .prefetch_related(
            Prefetch("order__payout_line_items", queryset=LINES_WITH_PAYOUT, to_attr="paid_lines")
        )
        .order_by("remote_created_at", "pk")
    )
    account_set = {o.account_id for o in orders} | {li.account_id for li in lines}
    account_set |= {p.account_id for p in payouts} | {r.account_id for r in refunds}
    table = rates_by_account(account_set)

    findings: list[Mismatch] = []
    totals: dict[str, Totals] = {}

    def total_for(currency: str) -> Totals:
        return totals.setdefault(currency or "", Totals(currency or ""))

    for order in orders:
        _check_order(order, rates(table, order.account_id), as_of, total_for(order.currency), findings)
    for line in lines:
        _check_line(line, rates(table, line.account_id), total_for(line.currency), findings)
    for payout in payouts:
        _check_payout_sum(payout, total_for(payout.currency), findings)
    for refund in refunds:
        _check_refund(refund, total_for(refund.currency), findings)

    order_of_kind = {kind: i for i, kind in enumerate(Kind.ALL)}
    findings.sort(key=lambda f: (order_of_kind[f.kind], f.account, f.when or as_of))
    return Report(period, as_of, findings, sorted(totals.values(), key=lambda t: t.currency))


def _check_order(order: Order, rates_: Rates, as_of: datetime, t: Totals, out: list[Mismatch]) -> None:
    amounts = OrderAmounts.of(order)
    refunded = approved_refunds(order)
    paid_out = order.paid_lines
    t.orders_paid += 1
    t.orders_paid_amount += amounts.total
    if paid_out:
        t.paid_out += 1
        t.paid_out_amount += sum((cents(li.amount_total) for li in paid_out), ZERO)
        t.expected_payout += amounts.expected_payout(rates_)
        return
    if refunded or order.status == "refunded" or order.status not in PAYOUT_STATUSES:
        t.refunded_before_payout += 1  # Reported with the refund itself; nothing to pay out.
        return
    t.expected_payout += amounts.expected_payout(rates_)
    due = order.paid_at + timedelta(days=rates_.grace_days) if order.paid_at else as_of
    if due > as_of:
        t.waiting += 1
        t.waiting_amount += amounts.expected_payout(rates_)
        return
    t.overdue += 1
    t.overdue_amount += amounts.expected_payout(rates_)
    days = (as_of - order.paid_at).days if order.paid_at else 0
    out.append(
        Mismatch(
            Kind.NOT_PAID_OUT,
            order.account.name,
            f"paid {days} days ago ({order.status}) and in no payout; "
            f"the grace period is {rates_.grace_days} days",
            amounts.expected_payout(rates_),
            order.currency,
            order.paid_at,
            (_order_link(order),),
            order_number=order.order_number,
        )
    )


def _check_line(line: PayoutLineItem, rates_: Rates, t: Totals, out: list[Mismatch]) -> None:
    payout = line.payout
    t.line_items += 1
    t.line_items_total += cents(line.amount_total)
    t.fees_charged += cents(line.fees)
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
        out.append(
            Mismatch(
                Kind.UNKNOWN_ORDER,
                reason=f"order {line.order_number or '(none given)'} is not in the mirror",
                amount=cents(line.amount_total),
                links=(*links, _order_link(None, line.order_number)),
                **common,
            )
        )
        return
    t.fees_expected += check.expected_fees
    for diff in check.differences:
        if diff.key == "refunds":
            continue  # reported from the refund request itself
        kind = Kind.FEE if diff.key.startswith("fees") else Kind.AMOUNT
        amount = cents(diff.line_value) - cents(diff.order_value)
        out.append(
            Mismatch(
                kind,
                reason=f"{diff.label}: {diff.reason}",
                amount=amount,
                links=(*links, _order_link(check.order)),
                **common,
            )
        )


def _check_payout_sum(payout: Payout, t: Totals, out: list[Mismatch]) -> None:
    t.payouts += 1
    t.payouts_total += cents(payout.total)
    line_sum = cents(payout.line_sum)
    if payout.line_count and not differs(payout.total, line_sum):
        return
    reason = (
        "no line items in the mirror"
        if not payout.line_count
        else f"payout total {cents(payout.total)} but its {payout.line_count} line items add up to {line_sum}"
    )
    out.append(
        Mismatch(
            Kind.PAYOUT_SUM,
            payout.account.name,
            reason,
            cents(payout.total) - line_sum,
            payout.currency,
            payout.remote_created_at,
            (_payout_link(payout),),
            payout_id=payout.reverb_id,
        )
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


def _check_refund(refund: RefundRequest, t: Totals, out: list[Mismatch]) -> None:
    order = refund.order
    amount = cents(refund.amount)
    lines = order.paid_lines if order is not None else []
    links: list[PageLink] = [
        PageLink(f"refund request {refund.reverb_id}", refund),
        _order_link(order, refund.order_number),
    ]
    links += [_payout_link(li.payout) for li in lines]
    if refund.state == APPROVED:
        t.refunds_approved += 1
        t.refunds_approved_amount += amount
        if lines:
            paid = ", ".join(f"payout {li.payout_reverb_id}" for li in lines)
            reason = f"approved after the order was paid out ({paid}): deduct {amount} from a later payout"
        else:
            reason = "approved before any payout: the order is not paid out, nothing to deduct"
    elif refund.state in OPEN_REFUND_STATES:
        reason = f"{refund.state.replace('_', ' ')}: {amount} may be deducted once approved"
    else:
        reason = f"state {refund.state}"
    out.append(
        Mismatch(
            Kind.REFUND,
            refund.account.name,
            reason,
            amount,
            refund.currency,
            booked_at(refund),
            tuple(links),
            order_number=refund.order_number,
        )
    )
