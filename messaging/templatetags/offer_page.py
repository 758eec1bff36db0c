"""{% offer_panels negotiation %}: what the apps above messaging add to the offer page (messaging/slots.py:
automation's margin of the offer)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from messaging.slots import OFFER_PAGE_PANELS

register = template.Library()


@register.simple_tag(takes_context=True)
def offer_panels(context: Any, negotiation: Any) -> SafeString:
    return mark_safe(
        "".join(str(conditional_escape(panel(context, negotiation))) for panel in OFFER_PAGE_PANELS)
    )
