"""The reconciliation report computed in the database (issue 17): its grouped totals, counts and paged
findings equal what the former Python pass over every order found, on a mixed shop (wrong fees and amounts,
missing and unknown line items, refunds before and after payout, open refunds, Reverb's own payout figure, a
bump fee, tax Reverb keeps, a second account with its own fee schedule, currency and time zone); and the
report costs the same number of queries for a small and a bigger month."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from payouts.fees import ZERO, OrderAmounts, Rates, cents, differs, rates, rates_by_account
from payouts.matching import (
    LINES_WITH_PAYOUT,
    PAYOUT_STATUSES,
    REFUNDS_PREFETCH,
    REPORTED_ORDER_STATUSES,
    Kind,
    Period,
    Totals,
    approved_refunds,
    check_line_item,
    line_findings,
    line_items_with_orders,
    match_period,
    not_paid_out,
    payout_sum,
    refund_finding,
    refunds_booked_within,
)
from payouts.models import FeeSchedule, Payout, PayoutLineItem
from refunds.models import RefundRequest
from tests.factories import (
    AccountFactory,
    OrderFactory,
    PayoutFactory,
    PayoutLineItemFactory,
    RefundRequestFactory,
)

pytestmark = pytest.mark.django_db

ALL_TIME = Period(date(2000, 1, 1), date(2100, 12, 31))
LATER = timezone.now() + timedelta(days=3650)
RANGE = {"start": "2025-01-01", "end": "2026-12-31"}  # the longest range the form takes


def python_report(period: Period, as_of, account_ids=None) -> tuple[list, list[Totals]]:
    """The former match_period: every order, line item, payout and refund of the period loaded and checked
    in Python (the oracle the grouped queries are compared with)."""
    from backoffice.models.account import account_zones

    zones = account_zones(account_ids)

    def scoped(qs):
        return qs if account_ids is None else qs.filter(account_id__in=account_ids)

    orders = scoped(Order.objects.filter(period.within("paid_at", zones), status__in=REPORTED_ORDER_STATUSES))
    orders = orders.select_related("account").prefetch_related(
        Prefetch("payout_line_items", queryset=LINES_WITH_PAYOUT, to_attr="paid_lines"),
        REFUNDS_PREFETCH,
    )
    lines = line_items_with_orders(
        scoped(PayoutLineItem.objects.filter(period.within("payout__remote_created_at", zones)))
    ).order_by("payout__remote_created_at", "order_number", "pk")
    payouts = scoped(Payout.objects.filter(period.within("remote_created_at", zones))).select_related(
        "account"
    )
    refunds = (
        scoped(RefundRequest.objects.filter(refunds_booked_within(period, zones)))
        .exclude(state="denied")
        .select_related("order", "account")
        .prefetch_related(
            Prefetch("order__payout_line_items", queryset=LINES_WITH_PAYOUT, to_attr="paid_lines")
        )
        .order_by("remote_created_at", "pk")
    )
    table = rates_by_account([pk for pks in zones.values() for pk in pks])
    findings, totals = [], {}

    def total_for(currency):
        return totals.setdefault(currency or "", Totals(currency or ""))

    for order in orders.order_by("paid_at", "pk"):
        r, t, amounts = rates(table, order.account_id), total_for(order.currency), OrderAmounts.of(order)
        t.orders_paid += 1
        t.orders_paid_amount += amounts.total
        if order.paid_lines:
            t.paid_out += 1
            t.paid_out_amount += sum((cents(li.amount_total) for li in order.paid_lines), ZERO)
            t.expected_payout += amounts.expected_payout(r)
            continue
        if approved_refunds(order) or order.status not in PAYOUT_STATUSES:
            t.refunded_before_payout += 1
            continue
        t.expected_payout += amounts.expected_payout(r)
        if order.paid_at + timedelta(days=r.grace_days) > as_of:
            t.waiting += 1
            t.waiting_amount += amounts.expected_payout(r)
            continue
        t.overdue += 1
        t.overdue_amount += amounts.expected_payout(r)
        findings.append(not_paid_out(order, r, as_of))
    for line in lines:
        r, t = rates(table, line.account_id), total_for(line.currency)
        t.line_items += 1
        t.line_items_total += cents(line.amount_total)
        t.fees_charged += cents(line.fees)
        if line.order is not None:
            t.fees_expected += check_line_item(line, r).expected_fees
        findings += line_findings(line, r)
    for payout in payouts.order_by("remote_created_at", "pk"):
        t = total_for(payout.currency)
        t.payouts += 1
        t.payouts_total += cents(payout.total)
        items = list(payout.line_items.all())
        line_sum = sum((cents(li.amount_total) for li in items), ZERO)
        if not items or differs(payout.total, line_sum):
            findings.append(payout_sum(payout, line_sum, len(items)))
    for refund in refunds:
        t = total_for(refund.currency)
        if refund.state == "approved":
            t.refunds_approved += 1
            t.refunds_approved_amount += cents(refund.amount)
        findings.append(refund_finding(refund))
    order_of_kind = {kind: i for i, kind in enumerate(Kind.ALL)}
    findings.sort(key=lambda f: (order_of_kind[f.kind], f.account, f.when or as_of))
    return findings, sorted(totals.values(), key=lambda t: t.currency)


def paid_order(account, number: str, **fields) -> Order:
    defaults = {
        "status": "shipped",
        "paid_at": timezone.now() - timedelta(days=20),
        "amount_total": Decimal("146.99"),
        "amount_shipping": Decimal("25.00"),
        "amount_tax": Decimal("0.00"),
        "selling_fee": Decimal("6.10"),
        "direct_checkout_fee": Decimal("5.18"),
        "currency": account.currency,
    }
    return OrderFactory(account=account, order_number=number, reverb_id=number, **{**defaults, **fields})


def paid_out(order: Order, payout: Payout, **fields) -> PayoutLineItem:
    amounts = OrderAmounts.of(order)
    selling, processing = amounts.expected_fees(Rates())
    fees = selling + processing + amounts.bump_fee
    defaults = {
        "amount_product": amounts.product,
        "amount_shipping": amounts.shipping,
        "amount_tax": amounts.tax,
        "fees": fees,
        "amount_total": amounts.total - fees - amounts.tax_withheld,
        "currency": order.currency,
    }
    return PayoutLineItemFactory(account=order.account, order=order, payout=payout, **{**defaults, **fields})


def refund(order: Order, state: str, amount: str, created, updated) -> RefundRequest:
    return RefundRequestFactory(
        account=order.account,
        order=order,
        state=state,
        amount=Decimal(amount),
        currency=order.currency,
        remote_created_at=created,
        remote_updated_at=updated,
    )


@pytest.fixture
def mixed_shop():
    """Two accounts; every kind of finding, several of some, and clean rows around them."""
    now = timezone.now()
    usd = AccountFactory(name="alpha")
    eur = AccountFactory(name="beta", currency="EUR", time_zone="America/Chicago")
    FeeSchedule.objects.create(
        account=eur, selling_percent=Decimal("3.50"), processing_fixed=Decimal("0.30"), payout_grace_days=3
    )
    for account in (usd, eur):
        tag = account.name[0]
        payout = PayoutFactory(
            account=account, reverb_id=f"{tag}P1", remote_created_at=now - timedelta(days=10)
        )
        other = PayoutFactory(
            account=account, reverb_id=f"{tag}P2", remote_created_at=now - timedelta(days=5)
        )
        for n in range(6):  # clean, paid out
            paid_out(paid_order(account, f"{tag}1{n}", amount_total=Decimal(f"{100 + n * 17}.99")), payout)
        wrong_fee = paid_order(account, f"{tag}20")
        paid_out(wrong_fee, other, fees=Decimal("20.00"))
        wrong_amounts = paid_order(account, f"{tag}21", amount_tax=Decimal("9.00"))
        paid_out(wrong_amounts, other, amount_product=Decimal("1.00"), amount_shipping=Decimal("2.00"))
        reverb_figure = paid_order(
            account,
            f"{tag}22",
            selling_fee=None,
            direct_checkout_fee=Decimal("0"),
            direct_checkout_payout=Decimal("130.00"),
        )
        paid_out(reverb_figure, other, fees=Decimal("16.99"), amount_total=Decimal("130.00"))
        bump = paid_order(
            account,
            f"{tag}23",
            amount_tax=Decimal("10.00"),
            raw={"bump_fee": {"amount": "2.50"}, "tax_responsible_party": "reverb"},
            bump_fee=Decimal("2.50"),
            tax_responsible_party="reverb",
        )
        paid_out(bump, other)
        plain_bump = paid_order(account, f"{tag}24", raw={"bump_fee": "1.25"}, bump_fee=Decimal("1.25"))
        paid_out(plain_bump, other, fees=Decimal("0.50"))
        PayoutLineItemFactory(
            account=account, payout=other, order=None, order_number=f"{tag}999", amount_total=Decimal("7.00")
        )
        PayoutFactory(
            account=account, reverb_id=f"{tag}P3", remote_created_at=now - timedelta(days=4)
        )  # empty
        for n, days in enumerate((1, 2, 12, 30, 40)):  # waiting or overdue by the account's grace period
            paid_order(account, f"{tag}3{n}", status="paid", paid_at=now - timedelta(days=days))
        paid_order(account, f"{tag}40", status="refunded")
        refunded = paid_order(account, f"{tag}41")
        refund(refunded, "approved", "146.99", now - timedelta(days=3), now - timedelta(days=2))
        after = paid_order(account, f"{tag}42")
        paid_out(after, payout)
        refund(after, "approved", "20.00", now - timedelta(days=2), None)
        RefundRequestFactory(account=account, order=paid_order(account, f"{tag}43"), remote_created_at=now)
        RefundRequestFactory(
            account=account, order=paid_order(account, f"{tag}44"), state="denied", remote_created_at=now
        )
        zero = paid_order(account, f"{tag}45", status="paid", paid_at=now - timedelta(days=30))
        RefundRequestFactory(
            account=account, order=zero, state="approved", amount=Decimal("0"), remote_created_at=now
        )
        # A payout whose total is off.
        Payout.objects.filter(pk=payout.pk).update(total=Decimal("123.45"))
    return usd, eur


@pytest.mark.parametrize("period", [ALL_TIME, Period.month(2026, 11)])
def test_grouped_totals_counts_and_pages_equal_the_python_pass(mixed_shop, period) -> None:
    for as_of in (timezone.now(), LATER):
        for accounts in (None, [mixed_shop[1].pk]):
            expected, expected_totals = python_report(period, as_of, accounts)
            report = match_period(period, accounts, as_of=as_of)
            assert report.totals == expected_totals
            assert report.counts == {kind: sum(f.kind == kind for f in expected) for kind in Kind.ALL}
            assert list(report.findings) == expected
            for start in range(0, len(expected), 7):  # pages that cut kinds and line items in two
                assert report.findings[start : start + 7] == expected[start : start + 7]
    assert (
        report.count(Kind.FEE)
        and report.count(Kind.AMOUNT)
        and report.count(Kind.REFUND)
        or period != ALL_TIME
    )


def test_the_mixed_shop_has_every_kind_of_finding(mixed_shop) -> None:
    report = match_period(ALL_TIME, as_of=timezone.now())
    assert all(report.count(kind) for kind in Kind.ALL), report.counts
    (eur,) = [t for t in report.totals if t.currency == "EUR"]
    assert eur.waiting and eur.overdue and eur.refunded_before_payout and eur.refunds_approved


def grow(account, n: int, tag: str) -> None:
    """n more paid-out orders with a wrong fee each, and as many overdue ones."""
    payout = PayoutFactory(account=account, remote_created_at=timezone.now() - timedelta(days=3))
    for i in range(n):
        paid_out(paid_order(account, f"{tag}g{i}"), payout, fees=Decimal("1.00"))
        paid_order(account, f"{tag}h{i}", status="paid", paid_at=timezone.now() - timedelta(days=40))


def report_queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(url, RANGE).content.decode()
    return len(ctx.captured_queries), html


def test_the_report_page_costs_the_same_queries_for_a_small_and_a_big_month(mixed_shop, admin_client) -> None:
    """Session and user 2, the form's accounts 1, the report's grouped queries 6, the session renewed 3; the
    page's findings a few per kind shown (at most all six kinds: 13), never a query per order."""
    url = reverse("admin:payouts_reconciliation")
    admin_client.get(url)
    every_kind, html = report_queries(admin_client, url)
    assert 'id="findings"' in html and every_kind <= 12 + 13
    grow(mixed_shop[0], 110, "x")
    big, html = report_queries(admin_client, url)
    assert html.count('class="finding finding-') == 100  # one page
    grow(mixed_shop[0], 120, "y")
    assert report_queries(admin_client, url)[0] == big <= every_kind
    # A later page holds the Python pass's findings 100..199, for the same few queries.
    expected, _ = python_report(Period(date(2025, 1, 1), date(2026, 12, 31)), timezone.now())
    with CaptureQueriesContext(connection) as ctx:
        html = admin_client.get(url, {**RANGE, "page": 2}).content.decode()
    assert len(ctx.captured_queries) <= every_kind
    assert all(f.order_number in html for f in expected[100:200])


@pytest.mark.parametrize("off", ["0.01", "-0.01", "0.02", "-0.02"])
def test_the_headline_counts_exactly_the_findings_listed_at_the_one_cent_tolerance(off: str) -> None:
    """Issue 24: the headline (counts from the database) counted a one-cent difference that the listed
    findings (built in Python) did not show. A cent either way is within the tolerance on both sides, and on
    the payout's own page; two cents are a finding on all three."""
    from payouts.fees import TOLERANCE
    from payouts.matching import check_payout

    assert Decimal("0.01") == TOLERANCE
    account = AccountFactory(name="cents")
    payout = PayoutFactory(
        account=account, reverb_id="CP1", remote_created_at=timezone.now() - timedelta(days=5)
    )
    for i, name in enumerate(["amount_product", "amount_shipping", "amount_tax", "fees", "amount_total"]):
        line = paid_out(paid_order(account, f"c{i}", selling_fee=Decimal("7.35")), payout)  # fees as due
        PayoutLineItem.objects.filter(pk=line.pk).update(**{name: getattr(line, name) + Decimal(off)})
    line_sum = sum(li.amount_total for li in PayoutLineItem.objects.filter(payout=payout))
    Payout.objects.filter(pk=payout.pk).update(total=line_sum + Decimal(off))

    report = match_period(ALL_TIME, as_of=timezone.now())
    listed = list(report.findings)
    expected, _ = python_report(ALL_TIME, report.as_of)
    for kind in Kind.ALL:
        assert (
            report.count(kind) == sum(f.kind == kind for f in listed) == sum(f.kind == kind for f in expected)
        )
    within = abs(Decimal(off)) <= TOLERANCE
    assert (
        report.count(Kind.FEE) == report.count(Kind.AMOUNT) == report.count(Kind.PAYOUT_SUM) == 0
    ) is within
    check = check_payout(Payout.objects.get(pk=payout.pk))
    assert (check.adds_up and all(line.ok for line in check.lines)) is within
