"""Catalogue health: the listings a safe sync and a clean publish need fixed (Reverb's sync guide makes a
clean catalogue the precondition: unique SKUs, complete listings).

Each check is a filter over the listings a shop sells (drafts and live ones still on Reverb); the page
counts them all in one query per shop set and links each count to the changelist filtered by that check
(`?health=<key>`), where each row opens on the page that fixes it. The counts are the dashboard's too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from . import conditions
from .models import Listing

SELLING = ("draft", "live")


def _duplicated_sku() -> Q:
    # Among listings still selling, as the stock API counts them: an old sold or ended one may share it.
    twin = Listing.objects.filter(
        account=OuterRef("account"), sku=OuterRef("sku"), missing=False, state__in=SELLING
    ).exclude(pk=OuterRef("pk"))
    return Q(Exists(twin)) & ~Q(sku="")


def _old_draft() -> Q:
    days = settings.CATALOGUE_OLD_DRAFT_DAYS
    return Q(state="draft", remote_created_at__lt=timezone.now() - timedelta(days=days))


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    fix: str  # what to do, in a few words
    condition: Callable[[], Q]


CHECKS: tuple[Check, ...] = (
    Check(
        "no_sku",
        "Without a SKU",
        "Give each a SKU: the stock API and the CSV import find listings by it.",
        lambda: Q(sku=""),
    ),
    Check(
        "duplicate_sku",
        "SKU used by more than one listing",
        "Make each SKU unique: the stock API refuses a SKU that names several live or draft listings.",
        _duplicated_sku,
    ),
    Check("no_category", "Without a category", "Choose a category.", lambda: Q(category="")),
    Check("no_shipping", "Without shipping", "Choose a shipping profile.", lambda: Q(ships=False)),
    Check("no_photos", "Without photos", "Add at least one photo.", lambda: Q(images=[])),
    Check(
        "no_upc",
        "Brand New drafts without a UPC",
        'Enter the UPC, or tick "UPC does not apply": Reverb does not publish them without.',
        # a draft only: one Reverb published had its UPC, which Reverb does not read back (API-NOTES 5.3)
        lambda: Q(
            state="draft",
            published_at__isnull=True,
            condition_uuid=conditions.BRAND_NEW,
            upc="",
            upc_does_not_apply=False,
        ),
    ),
    Check(
        "old_draft",
        "Old drafts",
        "Publish or delete them (CATALOGUE_OLD_DRAFT_DAYS, 30 days by default).",
        _old_draft,
    ),
    Check(
        "live_no_stock",
        "Live with zero stock",
        "Send the stock, or end them.",
        lambda: Q(state="live", has_inventory=True, inventory=0),
    ),
)
BY_KEY = {check.key: check for check in CHECKS}


def selling(queryset: QuerySet[Listing]) -> QuerySet[Listing]:
    """The listings the checks look at: drafts and live listings still on Reverb."""
    return queryset.filter(missing=False, state__in=SELLING)


def matching(queryset: QuerySet[Listing], key: str) -> QuerySet[Listing]:
    return selling(queryset).filter(BY_KEY[key].condition())


@dataclass(frozen=True)
class Line:
    check: Check
    count: int


def counts(queryset: QuerySet[Listing]) -> list[Line]:
    """Every check's count over `queryset` (already limited to the user's shops), in two queries: the
    duplicated SKUs by grouping the selling listings' SKUs (an index-only walk of listing_selling_sku),
    not a twin look-up per listing (25,000 probes for a big shop), and the other checks in one pass."""
    rest = [check for check in CHECKS if check.key != "duplicate_sku"]
    totals = selling(queryset).aggregate(
        **{check.key: Count("pk", filter=check.condition()) for check in rest}
    )
    groups = selling(queryset).exclude(sku="").order_by().values("account", "sku").annotate(n=Count("pk"))
    totals["duplicate_sku"] = sum(groups.filter(n__gt=1).values_list("n", flat=True))
    return [Line(check, totals[check.key] or 0) for check in CHECKS]
