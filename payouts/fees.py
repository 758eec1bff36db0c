"""Fee arithmetic for reconciliation: the account's fee schedule and an order's amounts as Decimals.

Reverb charges (API-NOTES 11.1) a selling fee on product + shipping and payment processing on the order
total including shipping and tax, plus a fixed amount; each fee is rounded to cents half-up. When Reverb is
the tax-responsible party it keeps the tax (marketplace-facilitator tax), so it is never paid out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from orders.models import Order

from .models import FeeSchedule

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
TOLERANCE = Decimal("0.01")


def cents(value: Decimal | int | str | None) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def differs(a: Decimal | None, b: Decimal | None) -> bool:
    """True when two amounts differ by more than the tolerance (a missing amount counts as zero)."""
    return abs(cents(a) - cents(b)) > TOLERANCE


@dataclass(frozen=True)
class Rates:
    selling_percent: Decimal = Decimal("5.00")
    processing_percent: Decimal = Decimal("3.19")
    processing_fixed: Decimal = Decimal("0.49")
    grace_days: int = 7

    @classmethod
    def of(cls, schedule: FeeSchedule | None) -> Rates:
        if schedule is None:
            return cls()
        return cls(
            schedule.selling_percent,
            schedule.processing_percent,
            schedule.processing_fixed,
            schedule.payout_grace_days,
        )

    def selling_fee(self, product_subtotal: Decimal, shipping: Decimal) -> Decimal:
        return cents((product_subtotal + shipping) * self.selling_percent / HUNDRED)

    def processing_fee(self, order_total: Decimal) -> Decimal:
        if order_total <= 0:
            return ZERO
        return cents(order_total * self.processing_percent / HUNDRED + self.processing_fixed)

    def describe(self) -> str:
        return (
            f"selling {self.selling_percent}% of product + shipping; processing {self.processing_percent}% "
            f"of the total + {self.processing_fixed}"
        )


def rates_by_account(account_ids: Iterable[int]) -> dict[int, Rates]:
    """{account id: Rates} in one query; accounts without a schedule get the defaults (see `rates`)."""
    return {s.account_id: Rates.of(s) for s in FeeSchedule.objects.filter(account_id__in=list(account_ids))}


def rates(table: dict[int, Rates], account_id: int) -> Rates:
    return table.get(account_id) or Rates()


@dataclass(frozen=True)
class OrderAmounts:
    """An order's money as the reconciliation needs it (product is the subtotal: price x quantity)."""

    product: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal
    selling_fee: Decimal
    processing_fee: Decimal
    bump_fee: Decimal
    tax_withheld: Decimal
    currency: str
    payout: Decimal | None = None  # direct_checkout_payout: what the seller got (API-NOTES 16.2.1)

    @classmethod
    def of(cls, order: Order) -> OrderAmounts:
        total, shipping, tax = (
            cents(order.amount_total),
            cents(order.amount_shipping),
            cents(order.amount_tax),
        )
        withheld = tax if order.tax_responsible_party == "reverb" else ZERO
        return cls(
            product=total - shipping - tax,
            shipping=shipping,
            tax=tax,
            total=total,
            selling_fee=cents(order.selling_fee),
            processing_fee=cents(order.direct_checkout_fee),
            bump_fee=cents(order.bump_fee),
            tax_withheld=withheld,
            currency=order.currency,
            payout=None if order.direct_checkout_payout is None else cents(order.direct_checkout_payout),
        )

    @property
    def order_fees(self) -> Decimal:
        """What Reverb kept of the order as the order states it: total - tax Reverb remitted -
        `direct_checkout_payout` when the order says what the seller got (the truth: live orders leave
        `selling_fee` out or show `direct_checkout_fee` 0.00 while a fee is withheld, API-NOTES 16.2.1),
        else the itemised fees."""
        if self.payout is not None and self.total:
            return self.total - self.tax_withheld - self.payout
        return self.selling_fee + self.processing_fee + self.bump_fee

    def expected_fees(self, rates: Rates) -> tuple[Decimal, Decimal]:
        """(selling fee, processing fee) by the fee schedule."""
        return rates.selling_fee(self.product, self.shipping), rates.processing_fee(self.total)

    def expected_payout(self, rates: Rates) -> Decimal:
        """What the seller should receive: `direct_checkout_payout` when the order states it (Reverb's own
        figure, API-NOTES 16.2.1), else the fee schedule's arithmetic."""
        if self.payout is not None and self.total:
            return self.payout
        selling, processing = self.expected_fees(rates)
        return self.total - selling - processing - self.bump_fee - self.tax_withheld


def account_rates(account_id: int) -> Rates:
    """The account's fee schedule (the defaults when it has none): one query."""
    return Rates.of(FeeSchedule.objects.filter(account_id=account_id).first())
