"""Reverb's seller fees, as the emulator charges them on an order (API-NOTES 11.1).

Help centre (article 360006133434): a 5% selling fee plus payment processing of 3.19% + $0.49
(2.99% + $0.49 for Preferred Sellers), "charged on the order total including shipping". We charge the
selling fee on product + shipping (not tax) and processing on the whole total (tax included), which is
how Reverb describes it today; the flat rates are kept regardless of Preferred Seller status [INFERRED].
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .core import to_decimal

SELLING_FEE_RATE = Decimal("0.05")
PROCESSING_RATE = Decimal("0.0319")
PROCESSING_FIXED = Decimal("0.49")


@dataclass(frozen=True)
class OrderFees:
    selling_fee: Decimal
    processing_fee: Decimal
    tax_withheld: Decimal  # tax Reverb collects and remits itself, never paid out to the seller

    @property
    def total(self) -> Decimal:
        return self.selling_fee + self.processing_fee


def selling_fee(product_subtotal: Decimal, shipping: Decimal) -> Decimal:
    return to_decimal((product_subtotal + shipping) * SELLING_FEE_RATE)


def processing_fee(order_total: Decimal) -> Decimal:
    if order_total <= 0:
        return Decimal("0.00")
    return to_decimal(order_total * PROCESSING_RATE + PROCESSING_FIXED)


def order_fees(order: dict[str, Any]) -> OrderFees:
    """Fees on an order record (see orders.py for the record's fields)."""
    subtotal = order["price"] * order["quantity"]
    total = subtotal + order["shipping"] + order["tax"]
    # Marketplace-facilitator tax: when Reverb is the tax-responsible party it keeps the tax [INFERRED].
    withheld = order["tax"] if order.get("tax_responsible_party") == "reverb" else Decimal("0.00")
    return OrderFees(selling_fee(subtotal, order["shipping"]), processing_fee(total), withheld)


def seller_payout(order: dict[str, Any]) -> Decimal:
    """What the seller gets for an order: its total minus Reverb's fees, minus tax Reverb remits."""
    fees = order_fees(order)
    total = order["price"] * order["quantity"] + order["shipping"] + order["tax"]
    return to_decimal(total - fees.total - fees.tax_withheld - order.get("bump_fee", Decimal("0")))
