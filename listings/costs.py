"""A listing's cost: what one unit cost the shop, kept here only (never sent to Reverb). Set from the edit
and create forms, the CSV import (`cost` column), the stock API (`cost` on a row) and, by the sync, from
Reverb's `seller_cost` when a /my/listings row carries one (listings/sync.py). Margins: payouts/margin.py."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .models import Listing

CENT = Decimal("0.01")
MAX_COST = Decimal("10000000")  # the mirror's 12 digits, like prices


def parse_cost(text: object) -> Decimal:
    """A cost from text ("123.45", "1,234.50"): a number from 0 to MAX_COST, in cents. ValueError says why."""
    raw = str(text).strip().replace(",", "")
    try:
        cost = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"cost {text!r} is not a number") from None
    if not cost.is_finite():
        raise ValueError(f"cost {text!r} is not a number")
    if cost < 0:
        raise ValueError("cost cannot be negative")
    if cost > MAX_COST:
        raise ValueError(f"cost {text!r} is more than {MAX_COST:,}")
    return cost.quantize(CENT)


def set_cost(listing: Listing, cost: Decimal | None) -> bool:
    """Save the listing's cost (None clears it) in its own UPDATE, touching no other column; True when it
    changed."""
    cost = None if cost is None else Decimal(cost).quantize(CENT)
    if listing.cost == cost:
        return False
    Listing.objects.filter(pk=listing.pk).update(cost=cost)
    listing.cost = cost
    return True
