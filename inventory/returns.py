"""Restock on an approved return: refunds sends `return_approved` (refunds/signals.py), this receiver
(connected in InventoryConfig.ready()) puts the order's quantity back in the listing's stock."""

from __future__ import annotations

from typing import Any

from backoffice import once
from listings.models import Listing
from refunds.models import RefundRequest

from . import services


def on_return_approved(sender: Any, refund: RefundRequest, **kwargs: Any) -> str:
    return restock_returned(refund)


def restock_returned(refund: RefundRequest) -> str:
    """Put an approved refund's returned item back in stock: the listing's desired quantity goes up by
    the order's quantity, queued with source "refund" (services.restock; the stock sync log
    shows it). Once per refund request, whatever the number of submits. Returns what happened, in words."""
    order = refund.order
    listing = None
    if order is not None:
        listing = order.listing or (
            Listing.objects.filter(account=refund.account, reverb_id=order.product_id).first()
            if order.product_id
            else None
        )
    if listing is None:
        return "Not put back in stock: the order's listing is not in the back office yet."
    if not once.first_time(f"restock:refund:{refund.account_id}:{refund.reverb_id}"):
        return "Already put back in stock for this refund request."
    quantity = order.quantity if order is not None and order.quantity else 1
    try:
        intent = services.restock(listing, quantity, detail=f"refund request {refund.reverb_id}")
    except ValueError as exc:
        once.forget_first(f"restock:refund:{refund.account_id}:{refund.reverb_id}")
        return f"Not put back in stock: {exc}"
    status = intent.get_status_display().lower()
    return f"Put back in stock: {listing.sku or listing.reverb_id} now {intent.quantity} ({status})."
