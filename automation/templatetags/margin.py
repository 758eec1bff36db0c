"""{% listing_margin listing %} and {% offer_margin negotiation %}: the margin of what would be sent, on the
listing page and the offer page. Tags, so that listings and messaging show a margin without importing payouts
(the fee schedule): automation sits above the domain apps (docs/architecture.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from listings import editing
from payouts import margin
from payouts.fees import account_rates

register = template.Library()


def _box(title: str, m: margin.Margin | None, currency: str, note: str = "") -> dict[str, Any]:
    return {"title": title, "m": m, "currency": currency, "note": note}


@register.inclusion_tag("automation/margin_box.html")
def listing_margin(listing: Any) -> dict[str, Any]:
    """The listing's price (the pending one when a price edit waits to be pushed) after Reverb's fees, against
    its cost. Shipping is left out: what the buyer pays for it pays the carrier."""
    text = editing.effective(listing, "price") if listing is not None else None
    if text in (None, ""):
        return _box("Margin", None, "", "No price known.")
    price = Decimal(str(text))
    pending = "price" in (listing.pending_changes or {})
    m = margin.margin_of(price, listing.cost, account_rates(listing.account_id))
    note = "At the pending price (not on Reverb yet). " if pending else ""
    if listing.cost is None:
        note += "No cost set: edit the listing (or import a cost column) to see the margin."
    return _box("Margin at this price", m, listing.currency, note)


@register.inclusion_tag("automation/margin_box.html")
def offer_margin(negotiation: Any) -> dict[str, Any]:
    """What accepting the offer (item + shipping) would leave after fees, against the listing's cost."""
    listing = negotiation.listing
    if negotiation.last_offered_price is None:
        return _box("Margin of this offer", None, "", "The offer's amount is unknown.")
    cost = listing.cost if listing is not None else None
    shipping = negotiation.last_offered_shipping
    rates = account_rates(negotiation.account_id)
    m = margin.margin_of(negotiation.last_offered_price, cost, rates, shipping)
    note = "" if cost is not None else "No cost set on the listing: the margin is unknown."
    return _box("Margin of this offer", m, negotiation.currency, note)
