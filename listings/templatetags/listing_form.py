"""The listing create and edit forms in groups a person reads top to bottom: what it is, condition and
price, stock, shipping, photos, promotion. A field no group names (one added later) goes under "More",
so it is never left off the page."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "What",
        (
            "sku",
            "title",
            "make",
            "model",
            "finish",
            "year",
            "categories",
            "upc",
            "upc_does_not_apply",
            "description",
            "description_format",
        ),
    ),
    ("Condition and price", ("condition", "price", "cost")),
    (
        "Stock",
        ("inventory", "has_inventory", "preorder_lead_time", "preorder_lead_time_unit", "preorder_ship_date"),
    ),
    ("Shipping", ("shipping_profile_id",)),
    ("Photos", ("photo_files", "photos")),
    ("Promotion", ("offers_enabled",)),
)


@register.filter
def fieldsets(form: Any) -> list[tuple[str, str, list[Any]]]:
    """[(title, slug, bound fields)] in GROUPS order, empty groups left out, then "More"."""
    placed: set[str] = set()
    out = []
    for title, names in GROUPS:
        fields = [form[n] for n in names if n in form.fields]
        placed.update(names)
        if fields:
            out.append((title, title.lower().replace(" ", "-"), fields))
    rest = [form[n] for n in form.fields if n not in placed]
    if rest:
        out.append(("More", "more", rest))
    return out
