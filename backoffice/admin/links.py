"""Small HTML helpers shared by the mirror admins and the sync-log table: admin links, Reverb links,
money, and the pretty-printed raw payload. Everything user- or Reverb-supplied is escaped by format_html."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

EMPTY = "-"

# Our own pattern for a seller's order page on reverb.com: no source confirms it (API-NOTES lists a `web`
# link on orders, which is preferred whenever the payload has one).
ORDER_WEB_URL = "https://reverb.com/my/selling/orders/{order_number}"


def change_url(obj: models.Model) -> str:
    """The admin change page of `obj`, or '' when its model is not in the admin."""
    meta = obj._meta
    try:
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def changelist_url(model: type[models.Model], **params: Any) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def admin_link(obj: models.Model | None, text: str | None = None) -> SafeString | str:
    """A link to `obj`'s admin change page (the related row must be select_related by the caller)."""
    if obj is None:
        return EMPTY
    url = change_url(obj)
    label = text if text is not None else str(obj)
    return format_html('<a href="{}">{}</a>', url, label) if url else label


def reverb_link(url: str, text: str = "View on Reverb") -> SafeString | str:
    """An external link, only for http(s) URLs (a payload could carry anything)."""
    if not url or not url.startswith(("https://", "http://")):
        return EMPTY
    return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, text)


def order_web_url(order_number: str, web_url: str = "") -> str:
    if web_url:
        return web_url
    return ORDER_WEB_URL.format(order_number=order_number) if order_number else ""


def format_money(amount: Decimal | None, currency: str) -> str:
    """'1,234.50 USD'; '-' when Reverb sent no amount."""
    if amount is None:
        return EMPTY
    return f"{amount:,.2f} {currency}".strip()


def pretty_json(data: Any) -> SafeString:
    """The payload, indented with sorted keys, escaped, in a scrollable <pre>."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre class="raw-payload">{}</pre>', text)


def field_errors_html(errors: Any) -> SafeString | str:
    """Per-field errors ({"price": ["must be > 0"], ...}) as a compact list; anything else as JSON."""
    if not errors:
        return ""
    if isinstance(errors, dict):
        rows = (
            (name, "; ".join(map(str, msgs)) if isinstance(msgs, list | tuple) else str(msgs))
            for name, msgs in errors.items()
        )
        items = format_html_join("", "<li><strong>{}</strong>: {}</li>", rows)
        return format_html('<ul class="field-errors">{}</ul>', items)
    return format_html("<code>{}</code>", json.dumps(errors, ensure_ascii=False, default=str))
