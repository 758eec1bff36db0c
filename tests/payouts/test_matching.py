"""Payout reconciliation on the emulator's seeded shop, synced into the mirror, with differences introduced
on purpose: each is found with the right reason, and a clean period finds nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.sync.runner import sync_account
from emulator.orders import changed
from emulator.refunds import apply_refund
from orders.models import Order
from payouts.fees import OrderAmounts, Rates, cents
from payouts.matching import Kind, Period, check_payout, match_period
from payouts.models import FeeSchedule, Payout, PayoutLineItem
from refunds.models import RefundRequest
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

ALL_TIME = Period(date(2000, 1, 1), date(2100, 12, 31))
LATER = timezone.now() + timedelta(days=3650)  # every grace period is over


def kinds(report) -> list[str]:
    return sorted(f.kind for f in report.findings)


def problems(report) -> list:
    return [f for f in report.findings if f.kind != Kind.REFUND]


def test_fee_arithmetic_rounds_half_up_to_cents() -> None:
    rates = Rates()
    assert rates.selling_fee(Decimal("46.99"), Decimal("0")) == Decimal("2.35")  # 2.3495 -> 2.35
    assert rates.processing_fee(Decimal("46.99")) == Decimal("1.99")  # 1.499 + 0.49 = 1.989
    assert rates.processing_fee(Decimal("0")) == Decimal("0.00")
    assert cents(Decimal("0.005")) == Decimal("0.01")


def test_seeded_line_items_match_their_orders_and_the_default_fee_schedule(shop) -> None:
    report = match_period(ALL_TIME, as_of=timezone.now())
    assert report.count(Kind.FEE) == report.count(Kind.AMOUNT) == 0
    assert report.count(Kind.PAYOUT_SUM) == report.count(Kind.UNKNOWN_ORDER) == 0
    (totals,) = report.totals
    assert totals.fees_charged == totals.fees_expected > 0
    assert totals.payouts_total == totals.line_items_total == sum(p.total for p in Payout.objects.all())
    # Orders the emulator paid but has not paid out yet, past the grace period, are reported.
    unpaid = Order.objects.filter(status="paid", payout_line_items__isnull=True, paid_at__isnull=False)
    overdue = [o for o in unpaid if o.paid_at < timezone.now() - timedelta(days=7)]
    assert sorted(f.order_number for f in report.findings if f.kind == Kind.NOT_PAID_OUT) == sorted(
        o.order_number for o in overdue
    )
    for payout in Payout.objects.all():
        check = check_payout(payout)
        assert check.adds_up and all(line.ok or line.refunded for line in check.lines)


def test_a_clean_period_finds_nothing(shop) -> None:
    # A paid-out order with no refund request between its payment and its payout.
    for line in PayoutLineItem.objects.select_related("order", "payout").order_by("pk"):
        start, end = line.order.paid_at.date(), line.payout.remote_created_at.date()
        refunds = RefundRequest.objects.filter(
            remote_created_at__date__gte=start, remote_created_at__date__lte=end
        )
        others = Order.objects.filter(paid_at__date__gte=start, paid_at__date__lte=end).exclude(
            pk=line.order_id
        )
        if not refunds.exists() and not others.exists():
            break
    else:
        pytest.fail("the seeded shop has no clean payout")
    report = match_period(Period(start, end), as_of=LATER)
    assert report.findings == []
    assert report.all_paid_out and report.fees_right
    (totals,) = report.totals
    assert (totals.orders_paid, totals.paid_out, totals.payouts, totals.overdue) == (1, 1, 1, 0)
    assert totals.paid_out_amount == totals.payouts_total == line.amount_total
    assert totals.expected_payout == line.amount_total


def test_a_missing_line_item_is_an_unpaid_order_and_a_payout_that_does_not_add_up(shop) -> None:
    line = PayoutLineItem.objects.select_related("order", "payout").first()
    order, payout = line.order, line.payout
    line.delete()
    report = match_period(ALL_TIME, as_of=LATER)
    unpaid = [
        f for f in report.findings if f.kind == Kind.NOT_PAID_OUT and f.order_number == order.order_number
    ]
    assert len(unpaid) == 1
    assert "in no payout" in unpaid[0].reason and "grace period is 7 days" in unpaid[0].reason
    assert unpaid[0].links[0].url.endswith(f"/orders/order/{order.pk}/change/")
    sums = [f for f in report.findings if f.kind == Kind.PAYOUT_SUM]
    assert [f.payout_id for f in sums] == [payout.reverb_id]
    remaining = payout.line_items.count()
    assert ("no line items in the mirror" if not remaining else "add up to") in sums[0].reason
    assert sums[0].amount == cents(payout.total) - sum((li.amount_total for li in payout.line_items.all()), 0)
    assert not check_payout(payout).adds_up


def test_a_wrong_fee_is_found_with_the_schedule_arithmetic(shop) -> None:
    line = PayoutLineItem.objects.select_related("order").first()
    line.fees += Decimal("1.00")
    line.save()
    report = match_period(ALL_TIME, as_of=timezone.now())
    fees = [f for f in report.findings if f.kind == Kind.FEE]
    assert {f.order_number for f in fees} == {line.order_number}
    reasons = " | ".join(f.reason for f in fees)
    selling, processing = OrderAmounts.of(line.order).expected_fees(Rates())
    assert f"expected selling {selling} + processing {processing}" in reasons
    assert f"charged {line.fees}" in reasons
    assert "differ from the fees stated on the order" in reasons
    assert all(f.amount == Decimal("1.00") for f in fees)
    # The line item's total no longer equals the order total minus its (wrong) fees.
    amounts = [f for f in report.findings if f.kind == Kind.AMOUNT]
    assert [f.order_number for f in amounts] == [line.order_number]
    assert "total is not the order total minus its fees" in amounts[0].reason
    check = check_payout(line.payout)
    (bad,) = [c for c in check.lines if not c.ok]
    assert {d.key for d in bad.differences} == {"fees_order", "fees_schedule", "total"}


def test_the_fee_schedule_is_per_account_and_configurable(shop) -> None:
    FeeSchedule.objects.create(account=shop, selling_percent=Decimal("3.50"), payout_grace_days=10000)
    report = match_period(ALL_TIME, as_of=timezone.now())
    fees = [f for f in report.findings if f.kind == Kind.FEE]
    assert len(fees) == PayoutLineItem.objects.count()
    assert all("selling 3.50%" in f.reason for f in fees)
    assert report.count(Kind.NOT_PAID_OUT) == 0  # nothing is overdue with a 10000-day grace period
    assert match_period(ALL_TIME, account_ids=[AccountFactory().pk]).findings == []


def test_a_line_item_without_a_known_order(shop) -> None:
    line = PayoutLineItem.objects.first()
    PayoutLineItem.objects.filter(pk=line.pk).update(order=None, order_number="999999")
    report = match_period(ALL_TIME, as_of=timezone.now())
    (unknown,) = [f for f in report.findings if f.kind == Kind.UNKNOWN_ORDER]
    assert unknown.reason == "order 999999 is not in the mirror"
    assert unknown.payout_id == line.payout_reverb_id


def test_a_refund_after_the_payout_is_a_deduction(shop, emulator) -> None:
    line = PayoutLineItem.objects.first()
    with emulator.lock:
        store = emulator.store
        order = next(o for o in store.table("orders").values() if o["order_number"] == line.order_number)
        refund = next(
            (r for r in store.table("refund_requests").values() if r["order_number"] == line.order_number),
            None,
        )
        amount = Decimal("100.00")
        if refund is None:
            from emulator.refunds import new_refund_request

            refund = new_refund_request(store, order, amount=amount, reason="other", initiated_by="seller")
        refund.update(state="approved", amount=amount)
        store.touch(refund)
        apply_refund(order, amount)
        changed(emulator, order)
    runs = sync_account(shop, ["orders", "refunds"])
    assert all(r.ok for r in runs)
    mirrored = RefundRequest.objects.get(order_number=line.order_number, state="approved")
    report = match_period(ALL_TIME, as_of=timezone.now())
    (found,) = [f for f in report.findings if f.kind == Kind.REFUND and f.order_number == line.order_number]
    assert found.amount == Decimal("100.00")
    assert f"approved after the order was paid out (payout {line.payout_reverb_id})" in found.reason
    assert "deduct 100.00 from a later payout" in found.reason
    urls = [link.url for link in found.links]
    assert any(f"/refundrequest/{mirrored.pk}/" in u for u in urls)
    assert any(f"/payouts/payout/{line.payout_id}/reconcile/" in u for u in urls)
    check = check_payout(line.payout)
    (row,) = [d for c in check.lines for d in c.differences if d.key == "refunds"]
    assert row.order_value == Decimal("100.00") and "expect a deduction" in row.reason


def test_an_order_refunded_before_any_payout_is_not_overdue(shop) -> None:
    report = match_period(ALL_TIME, as_of=LATER)
    refunded = set(Order.objects.filter(status="refunded").values_list("order_number", flat=True))
    assert refunded
    assert not refunded & {f.order_number for f in report.findings if f.kind == Kind.NOT_PAID_OUT}
    before = [f for f in report.findings if f.kind == Kind.REFUND and "before any payout" in f.reason]
    assert {f.order_number for f in before} <= refunded and before


def test_match_period_query_count_is_constant(shop, django_assert_num_queries) -> None:
    with django_assert_num_queries(6):
        small = match_period(ALL_TIME)
    # Many more rows: copy the payouts' line items under a second account with fresh orders.
    other = AccountFactory(name="other")
    for n in range(15):
        order = Order.objects.create(
            account=other,
            reverb_id=f"o{n}",
            order_number=f"9{n:04d}",
            status="paid",
            paid_at=timezone.now() - timedelta(days=30),
            amount_total=Decimal("100"),
            amount_shipping=Decimal("0"),
            amount_tax=Decimal("0"),
            currency="USD",
        )
        payout = Payout.objects.create(
            account=other,
            reverb_id=f"p{n}",
            total=Decimal("90"),
            currency="USD",
            remote_created_at=timezone.now() - timedelta(days=20),
        )
        PayoutLineItem.objects.create(
            account=other,
            reverb_id=f"l{n}",
            payout=payout,
            payout_reverb_id=f"p{n}",
            order=order,
            order_number=order.order_number,
            fees=Decimal("8.68"),
            amount_total=Decimal("91.32"),
            currency="USD",
        )
        RefundRequest.objects.create(
            account=other,
            reverb_id=f"r{n}",
            order=order,
            state="approved",
            amount=Decimal("5"),
            remote_created_at=timezone.now(),
        )
    with django_assert_num_queries(6):
        big = match_period(ALL_TIME)
    assert len(big.findings) > len(small.findings)


@pytest.mark.parametrize("off_by,flagged", [("0.01", False), ("0.02", True), ("0.11", True), ("0.50", True)])
def test_a_fee_off_by_more_than_a_cent_is_found(shop, off_by, flagged) -> None:
    line = PayoutLineItem.objects.select_related("order").first()
    line.fees += Decimal(off_by)
    line.save()
    report = match_period(ALL_TIME, as_of=timezone.now())
    fees = [f for f in report.findings if f.kind == Kind.FEE]
    assert bool(fees) is flagged
    assert all(f.amount == Decimal(off_by) for f in fees)
    assert all(c.ok for c in check_payout(line.payout).lines) is not flagged


def test_an_overdue_order_with_an_approved_partial_refund_is_not_reported_unpaid(shop) -> None:
    line = PayoutLineItem.objects.select_related("order").first()
    order = line.order
    line.delete()
    assert order.status in ("paid", "shipped", "received", "picked_up")
    before = match_period(ALL_TIME, as_of=LATER).findings
    assert order.order_number in {f.order_number for f in before if f.kind == Kind.NOT_PAID_OUT}  # overdue
    RefundRequest.objects.create(
        account=shop, reverb_id="partial-1", order=order, order_number=order.order_number, state="approved",
        amount=Decimal("10.00"), currency=order.currency, refund_type="partial", initiated_by="seller",
        remote_created_at=timezone.now(),
    )  # fmt: skip
    report = match_period(ALL_TIME, as_of=LATER)
    assert order.order_number not in {f.order_number for f in report.findings if f.kind == Kind.NOT_PAID_OUT}


def test_the_payout_reverb_states_is_the_truth_and_itemised_fees_only_detail(shop) -> None:
    """A live UK order (API-NOTES 16.2.1): no `selling_fee`, `direct_checkout_fee` 0.00, a fee withheld
    all the same; `direct_checkout_payout` says what the seller got."""
    line = PayoutLineItem.objects.select_related("order", "payout").first()
    order = line.order
    Order.objects.filter(pk=order.pk).update(
        selling_fee=None, direct_checkout_fee=Decimal("0.00"), direct_checkout_payout=line.amount_total
    )
    order.refresh_from_db()
    amounts = OrderAmounts.of(order)
    other_schedule = Rates(selling_percent=Decimal("9.00"))
    assert amounts.expected_payout(other_schedule) == line.amount_total  # not the schedule's guess
    assert amounts.order_fees == amounts.total - amounts.tax_withheld - line.amount_total
    check = check_payout(line.payout)
    (mine,) = [c for c in check.lines if c.line_item.pk == line.pk]
    assert "fees_order" not in {d.key for d in mine.differences}
    FeeSchedule.objects.create(account=shop, selling_percent=Decimal("9.00"), payout_grace_days=10000)
    report = match_period(ALL_TIME, as_of=LATER)
    assert not [f for f in report.findings if f.kind == Kind.NOT_PAID_OUT]
    (totals,) = report.totals
    assert totals.expected_payout >= line.amount_total


def test_a_month_is_the_shops_month_in_its_time_zone(shop) -> None:
    """A sale at 03:00 UTC on the 1st is the last evening of the previous month in Chicago."""
    from datetime import UTC, datetime

    from payouts.exports import orders_rows

    shop.time_zone = "America/Chicago"
    shop.save()
    order = Order.objects.filter(account=shop, status="paid").first()
    order.paid_at = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
    order.save()
    september, october = Period.month(2026, 9), Period.month(2026, 10)
    in_september = match_period(september, account_ids=[shop.pk], as_of=LATER)
    assert order.order_number in {f.order_number for f in in_september.findings if f.order_number}
    assert order.order_number not in {
        f.order_number for f in match_period(october, account_ids=[shop.pk], as_of=LATER).findings
    }
    _, rows = orders_rows(september, [shop.pk])
    assert any(order.order_number in map(str, row) for row in rows)
