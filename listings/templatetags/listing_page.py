"""{% listing_panels "top"|"body" listing %}: what the apps above listings add to the listing page
(listings/slots.py: inventory's stock buffer line at the top, automation's margin box after the photos)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from listings.slots import LISTING_PAGE_PANELS, LISTING_PAGE_TOP

register = template.Library()


@register.simple_tag(takes_context=True)
def listing_panels(context: Any, where: str, listing: Any) -> SafeString:
    slot = LISTING_PAGE_TOP if where == "top" else LISTING_PAGE_PANELS
    return mark_safe("".join(str(conditional_escape(panel(context, listing))) for panel in slot))
