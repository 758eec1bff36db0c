"""What the listings app adds to the core (from ListingsConfig.ready()): its resource and the night's walk,
the dashboard's catalogue health, and the clean-up of spent CSV import previews."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from backoffice.access import for_user
from backoffice.background.retention import PURGES, Purge
from backoffice.pages.dashboard import PANELS, Panel
from backoffice.sync import registry
from backoffice.sync.resource import Stream

from . import sync
from .health import counts
from .models import CsvImportPreview, Listing


def catalogue_health(user: Any, now: datetime) -> dict[str, Any]:
    """Listings to fix before a safe sync and a clean publish, over the user's shops (one query)."""
    lines = [line for line in counts(for_user(Listing.objects.all(), user)) if line.count]
    return {
        "lines": lines,
        "total": sum(line.count for line in lines),
        "url": reverse("admin:listings_listing_health"),
    }


def old_csv_previews(now: datetime) -> QuerySet[CsvImportPreview]:
    """CSV import previews (listings/views.py) are only good for an hour; a day is plenty."""
    return CsvImportPreview.objects.filter(created_at__lt=now - timedelta(days=1))


def plug_in() -> None:
    registry.register(*sync.RESOURCES)
    registry.NIGHT_WALKS.add(
        (Stream("listings", lambda c, s, e: c.my_listings(state="all")),), key="listings"
    )
    PANELS.add(
        Panel("listings/_dashboard_catalogue.html", "listings.view_listing", catalogue_health, position=20),
        key="catalogue",
    )
    PURGES.add(Purge("CSV import previews", old_csv_previews), key="csv-previews")
