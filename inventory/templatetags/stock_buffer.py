"""`{% stock_buffer_line listing %}`: the listing page's line about its stock buffer ("Reverb gets 4 of
the 5 reported: 1 held back"), with a link to the listing's own buffer for those who may set it. A tag of
the inventory app, so the listings app imports nothing of it."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from inventory.buffer import buffer_of
from inventory.models import ListingStockBuffer, StockIntent
from listings.models import Listing

register = template.Library()


def buffer_text(listing: Listing) -> str:
    held = buffer_of(listing)
    intent = StockIntent.objects.filter(listing=listing).only("quantity", "reported").first()
    if intent is None or intent.reported is None:
        return f"Stock buffer: {held.describe()}; no quantity reported yet." if held else ""
    if intent.reported == intent.quantity:
        if not held:
            return ""
        return f"Reverb gets all {intent.reported} reported (stock buffer: {held.describe()})."
    kept = intent.reported - intent.quantity
    return (
        f"Reverb gets {intent.quantity} of the {intent.reported} reported: {kept} held back "
        f"(stock buffer: {held.describe()})."
    )


@register.simple_tag(takes_context=True)
def stock_buffer_line(context: dict[str, Any], listing: Listing) -> SafeString | str:
    text = buffer_text(listing)
    request = context.get("request")
    user = getattr(request, "user", None)
    link: SafeString | str = ""
    own = ListingStockBuffer.objects.filter(listing=listing).first()
    if own is not None and user is not None and user.has_perm("inventory.change_listingstockbuffer"):
        url = reverse("admin:inventory_listingstockbuffer_change", args=[own.pk])
        link = format_html(' <a href="{}" id="stock-buffer-link">Change this listing\'s buffer</a>', url)
    elif own is None and user is not None and user.has_perm("inventory.add_listingstockbuffer"):
        url = reverse("admin:inventory_listingstockbuffer_add") + f"?listing={listing.pk}"
        link = format_html(' <a href="{}" id="stock-buffer-link">Set a buffer for this listing</a>', url)
    if not text and not link:
        return ""
    return format_html(
        '<div class="module" id="stock-buffer"><h2>Stock buffer</h2><p class="padded">{}{}</p></div>',
        text or "No stock buffer: Reverb gets all of the reported quantity.",
        link,
    )
