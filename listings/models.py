"""Mirror models for listings; see ../shared/DESIGN.md section 4."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from backoffice.models import RemoteModel, amount_field

from .conditions import CONDITION_NAMES

# Reverb's listing state slugs (API-NOTES 5, 16.1.2: a sold one reads `sold`): the changelist's filter.
STATES = ("draft", "live", "sold", "sold_out", "ended", "ordered", "suspended", "seller_unavailable")


class Listing(RemoteModel):
    """A listing on Reverb (any state: draft, live, ended, sold...). Key: the listing id."""

    sku = models.CharField("SKU", max_length=255, blank=True, default="", db_index=True)
    title = models.CharField(max_length=500, blank=True, default="", db_index=True)
    make = models.CharField(max_length=255, blank=True, default="", db_index=True)
    model = models.CharField(max_length=255, blank=True, default="", db_index=True)
    finish = models.CharField(max_length=255, blank=True, default="")
    year = models.CharField(max_length=50, blank=True, default="")
    condition_name = models.CharField("condition", max_length=100, blank=True, default="", db_index=True)
    condition_uuid = models.CharField(max_length=64, blank=True, default="")
    # Reverb's state slug as sent (draft, live, ended, sold_out, ...); unknown values are kept.
    state = models.CharField(max_length=40, blank=True, default="", db_index=True)
    price = amount_field(db_index=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    inventory = models.IntegerField(null=True, blank=True, db_index=True)
    has_inventory = models.BooleanField(default=False)
    offers_enabled = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    slug = models.CharField(max_length=255, blank=True, default="")
    web_url = models.URLField("View on Reverb", max_length=500, blank=True, default="")
    category = models.CharField(max_length=255, blank=True, default="", db_index=True)
    images = models.JSONField(default=list, blank=True, help_text="Photo URLs, largest available, in order.")
    # Reverb said it ships: a shipping profile, shipping rates or local pickup (None: not told yet).
    ships = models.BooleanField(null=True, blank=True)

    # Local-only columns: never written by the sync (the mapper does not produce them, and the engine's
    # upsert only writes the mapper's columns). See listings/editing.py.
    pending_changes = models.JSONField(
        default=dict,
        blank=True,
        help_text='Local edits not yet on Reverb: {field: {"value": local, "base": Reverb value when read}}.',
    )
    last_push = models.JSONField(
        default=dict,
        blank=True,
        help_text="Outcome of the last push: status, message, per-field errors, when.",
    )
    # What this back office sent as the UPC: Reverb takes `upc` / `upc_does_not_apply` on writes but no
    # source shows them read back (API-NOTES 5.2, 5.3), so the product remembers what it sent.
    upc = models.CharField("UPC", max_length=32, blank=True, default="")
    upc_does_not_apply = models.BooleanField("UPC does not apply", default=False)
    # What one unit cost the shop (the listing's currency): set here (form, CSV, stock API), or from Reverb's
    # `seller_cost` when a /my/listings row carries one (a null there keeps this value). Margins use it.
    cost = amount_field("cost", help_text="What one unit cost the shop, in the listing's currency.")

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_created_at", "-id"]
        indexes = [  # the SKUs of the listings still selling (catalogue health's duplicates, the stock API)
            models.Index(
                fields=["account", "sku"],
                condition=models.Q(missing=False, state__in=("draft", "live")),
                name="listing_selling_sku",
            ),
            # the rows whose state or condition Reverb does not document: the changelist's filters list them
            # (backoffice/admin/scale.py known_values) without reading every listing
            models.Index(
                fields=["account", "state"],
                condition=~models.Q(state__in=(*STATES, "")),
                name="listing_state_unusual",
            ),
            models.Index(
                fields=["account", "condition_name"],
                condition=~models.Q(condition_name__in=(*CONDITION_NAMES, "")),
                name="listing_condition_unusual",
            ),
        ]
        permissions = [
            ("push_listing", "Can push pending listing changes to Reverb"),
            ("publish_listing", "Can publish draft listings"),
            ("end_listing", "Can end live listings"),
            ("delete_draft", "Can delete draft listings on Reverb"),
            ("create_listing", "Can create listings on Reverb"),
            ("promote_listing", "Can bump listings, add them to sales and set direct offers"),
            ("import_listings", "Can import products from CSV"),
            ("set_vacation", "Can turn the shop's vacation mode on or off"),
        ]

    def __str__(self) -> str:
        return self.title or self.sku or f"listing {self.reverb_id}"

    @property
    def description(self) -> str:
        return self.raw.get("description") or ""

    @property
    def shipping(self) -> dict[str, Any]:
        return self.raw.get("shipping") or {}

    @property
    def stats(self) -> dict[str, Any]:
        return self.raw.get("stats") or {}

    @property
    def thumbnail_url(self) -> str:
        return self.images[0] if self.images else ""

    @property
    def has_pending(self) -> bool:
        return bool(self.pending_changes)


class CsvImportPreview(models.Model):
    """The checked rows of one uploaded CSV, kept on the server between the preview and "Apply" (the
    rows of a 5,000-row file do not fit in a form field). Applied at most once; old ones are deleted by
    the daily clean-up (backoffice/retention.py)."""

    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    rows = models.JSONField(default=list, help_text="[{sku, payload, row}] of the rows to apply")

    class Meta:
        verbose_name = "CSV import preview"
        default_permissions = ()

    def __str__(self) -> str:
        return f"CSV import preview {self.pk} ({len(self.rows)} rows)"


class ReferenceList(models.Model):
    """One of Reverb's reference lists for the listing forms (conditions, categories, shipping profiles,
    sales) as last read for an account: shared by every web process, so a form opens without asking Reverb
    while it is fresh (listings/reference.py), and its last copy is shown while Reverb cannot be read."""

    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=40)
    choices = models.JSONField(default=list, help_text="[[value, label], ...] as the form's choices")
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = "Reverb reference list"
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="reference_list_once")]

    def __str__(self) -> str:
        return f"{self.name} of {self.account_id} ({len(self.choices)})"
