"""The listings CSV export: the import's columns (listings/csv_import.py), so an exported file edited in a
spreadsheet imports back (condition by name, photos space-separated, the bulk-edit fields included).
Pending local edits are exported as the listing will be once pushed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase

from backoffice.csvfiles import csv_response

from . import conditions, csv_import, editing
from .models import Listing

CONDITION_NAMES = dict(conditions.CONDITIONS)


def listing_row(listing: Listing) -> list[Any]:
    def now(name: str) -> Any:
        return editing.effective(listing, name)

    condition = now("condition")
    categories = now("categories") or []
    values = {
        "sku": now("sku"),
        "title": now("title"),
        "make": now("make"),
        "model": now("model"),
        "condition": CONDITION_NAMES.get(condition, listing.condition_name or condition),
        "price": now("price"),
        "inventory": now("inventory"),
        "description": now("description"),
        "photos": " ".join(listing.images or []),
        "upc": now("upc"),
        "upc_does_not_apply": "yes" if now("upc_does_not_apply") else "",
        "shipping_profile_id": now("shipping_profile_id"),
        "category": categories[0] if categories else "",
        "offers_enabled": "yes" if now("offers_enabled") else "no",
    }
    return [values.get(column, "") for column in csv_import.COLUMNS]


def listing_rows(listings: Iterable[Listing]) -> Iterator[list[Any]]:
    return (listing_row(x) for x in listings)


@admin.action(description="Export selected to CSV (the import's columns)", permissions=["view"])
def export_csv(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponseBase:
    listings = queryset.select_related("account").order_by("sku", "pk")
    return csv_response("listings.csv", csv_import.COLUMNS, listing_rows(listings.iterator()))
