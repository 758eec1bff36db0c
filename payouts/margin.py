"""Margin arithmetic (pure): for a price (and shipping, in the listing's currency) under the shop's fee
schedule (payouts/fees.py Rates), the fees, what the shop keeps, the margin over the listing's cost and the
margin %; and the lowest price that leaves a given margin, which rules use as a floor.

Conventions: fees are Reverb's selling fee on price + shipping and its processing fee on that total (plus the
fixed part), each rounded to cents like the reconciliation does. The shipping a buyer pays is taken to pay the
carrier, so the margin is price - fees - cost (the fees on shipping still count), and the margin % is the
margin over the price. Tax is left out: it is not the shop's money.

It needs only the fee schedule, so it lives in payouts (the monthly margin report uses it too); listings and
messaging never import payouts: their pages show a margin through automation's `margin` template tags
(automation/templatetags/margin.py), and the rules (automation) take their cost floors from `cost_floor`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from payouts.fees import CENT, HUNDRED, ZERO, Rates, cents


def fees(price: Decimal, shipping: Decimal, rates: Rates) -> Decimal:
    """Reverb's fees on a sale of `price` + `shipping` (selling fee + processing fee)."""
    return rates.selling_fee(price, shipping) + rates.processing_fee(price + shipping)


@dataclass(frozen=True)
class Margin:
    price: Decimal
    shipping: Decimal
    fees: Decimal
    keeps: Decimal  # what Reverb pays out: price + shipping - fees
    cost: Decimal | None
    margin: Decimal | None  # price - fees - cost (None: the cost is unknown)
    percent: Decimal | None  # margin over the price, one decimal

    @property
    def net(self) -> Decimal:
        """What the price leaves after fees (the shipping paying the carrier)."""
        return self.keeps - self.shipping

    @property
    def below_cost(self) -> bool:
        return self.margin is not None and self.margin < 0


def margin_of(price: Decimal, cost: Decimal | None, rates: Rates, shipping: Decimal | None = None) -> Margin:
    price, ship = cents(price), cents(shipping)
    fee = fees(price, ship, rates)
    keeps = price + ship - fee
    margin = None if cost is None else keeps - ship - cents(cost)
    percent = None
    if margin is not None and price > 0:
        percent = (margin * HUNDRED / price).quantize(Decimal("0.1"))
    return Margin(price, ship, fee, keeps, None if cost is None else cents(cost), margin, percent)


def floor_price(
    cost: Decimal, margin_percent: Decimal, rates: Rates, shipping: Decimal | None = None
) -> Decimal | None:
    """The lowest price (in cents) whose margin is at least `margin_percent` of it: cost + fees + margin %.
    None when no price can (the fees and the margin take 100% or more of every price)."""
    ship = cents(shipping)
    share = (rates.selling_percent + rates.processing_percent + margin_percent) / HUNDRED
    if share >= 1:
        return None
    # price * (1 - share) >= cost + fees on shipping + fixed fee; then up a cent at a time for rounding.
    base = cents(cost) + ship * (rates.selling_percent + rates.processing_percent) / HUNDRED
    price = ((base + rates.processing_fixed) / (1 - share)).quantize(CENT, rounding=ROUND_CEILING)
    price = max(price, CENT)
    while not _leaves(price, cost, margin_percent, rates, ship):
        price += CENT
    while price > CENT and _leaves(price - CENT, cost, margin_percent, rates, ship):
        price -= CENT
    return price


def _leaves(price: Decimal, cost: Decimal, margin_percent: Decimal, rates: Rates, shipping: Decimal) -> bool:
    margin = margin_of(price, cost, rates, shipping).margin or ZERO
    return margin * HUNDRED >= margin_percent * price


def below_cost_reason(price: Decimal, cost: Decimal, rates: Rates, shipping: Decimal | None = None) -> str:
    """'' or "below cost: 449.40 leaves 402.10 after fees, cost 420.00"."""
    m = margin_of(price, cost, rates, shipping)
    if not m.below_cost:
        return ""
    return f"below cost: {m.price} leaves {m.net} after fees, cost {m.cost}"


@dataclass(frozen=True)
class CostFloor:
    """The lowest price a rule may answer or set for a listing, from its cost; `why` says whence."""

    price: Decimal
    why: str


def cost_floor(
    cost: Decimal | None, rates: Rates, margin_percent: Decimal = ZERO, shipping: Decimal | None = None
) -> CostFloor | None:
    """cost + fees + `margin_percent` (0: cost + fees, the break-even) as a price, with where it comes from.
    None: the cost is unknown, or no price can leave that margin."""
    if cost is None:
        return None
    price = floor_price(cost, margin_percent, rates, shipping)
    if price is None:
        return None
    extra = f" + {margin_percent}% margin" if margin_percent else ""
    return CostFloor(price, f"cost {cents(cost)} + fees{extra}")
