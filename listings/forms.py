"""Forms for listing edits, creation and the confirmation pages of the listing actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from backoffice.models import ReverbAccount
from backoffice.reverb.client import money

from . import editing, reference
from .models import Listing

LEAD_UNITS = [("", "—"), ("days", "days"), ("weeks", "weeks")]
# Reverb field names in 412 errors -> the form field that shows them.
ERROR_FIELDS = {"preorder_info": "preorder_lead_time", "photos": None}


# The fields whose choices are Reverb's reference lists (listings/reference.py).
READ_FROM_REVERB = (
    ("condition", "conditions"),
    ("categories", "categories"),
    ("shipping_profile_id", "shipping_profiles"),
)


class ListingFieldsForm(forms.Form):
    """The editable fields of a listing, with Reverb's lists and Reverb's inventory rules."""

    sku = forms.CharField(label="SKU", max_length=255, required=False)
    title = forms.CharField(max_length=500, required=False)
    make = forms.CharField(max_length=255)
    model = forms.CharField(max_length=255)
    finish = forms.CharField(max_length=255, required=False)
    year = forms.CharField(max_length=50, required=False)
    condition = forms.ChoiceField()
    categories = forms.MultipleChoiceField(required=False, widget=forms.SelectMultiple(attrs={"size": 8}))
    price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    inventory = forms.IntegerField(min_value=0, required=False)
    has_inventory = forms.BooleanField(required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    shipping_profile_id = forms.ChoiceField(label="Shipping profile", required=False)
    upc = forms.CharField(
        label="UPC",
        max_length=14,
        required=False,
        help_text="The barcode number (UPC, EAN or GTIN: 12 to 14 digits). Reverb needs it to publish a "
        "Brand New item.",
    )
    upc_does_not_apply = forms.BooleanField(
        label="UPC does not apply", required=False, help_text="For a Brand New item that has no barcode."
    )
    cost = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        help_text="What one unit cost you, in the listing's currency. Kept here, never sent to Reverb: "
        "margins and the rules' cost floors use it.",
    )
    offers_enabled = forms.BooleanField(required=False)
    preorder_lead_time = forms.IntegerField(label="Pre-order lead time", min_value=1, required=False)
    preorder_lead_time_unit = forms.ChoiceField(label="Lead time unit", choices=LEAD_UNITS, required=False)
    preorder_ship_date = forms.DateField(
        label="Pre-order ship date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, account: ReverbAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["condition"].choices = [("", "—"), *reference.conditions(account)]
        categories = reference.categories(account)
        current = self.initial.get("categories") or []
        known = {u for u, _ in categories}
        self.fields["categories"].choices = categories + [(u, u) for u in current if u not in known]
        profiles = reference.shipping_profiles(account)
        profile = str(self.initial.get("shipping_profile_id") or "")
        if profile and profile not in {p for p, _ in profiles}:
            profiles.append((profile, f"profile {profile}"))
        self.fields["shipping_profile_id"].choices = [("", "—"), *profiles]
        for field, name in READ_FROM_REVERB:
            if why := reference.note(account, name):  # the form opens anyway, and says why
                self.fields[field].help_text = " ".join(filter(None, [self.fields[field].help_text, why]))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, messages in editing.inventory_errors(
            data.get("condition") or "", data.get("inventory")
        ).items():
            for message in messages:
                self.add_error(name, message)
        if data.get("preorder_lead_time") and not data.get("preorder_lead_time_unit"):
            self.add_error("preorder_lead_time_unit", "Choose days or weeks.")
        if data.get("upc") and data.get("upc_does_not_apply"):
            self.add_error("upc_does_not_apply", "Enter a UPC or tick this box, not both.")
        return data

    def clean_upc(self) -> str:
        upc = self.cleaned_data.get("upc", "").strip().replace(" ", "")
        if upc and not editing.valid_gtin(upc):
            raise forms.ValidationError(
                "Enter the 12 to 14 digits of the barcode (its last digit is a check digit; this one does "
                "not match: a typing slip?)."
            )
        return upc

    def preorder(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        info: dict[str, Any] = {}
        if data.get("preorder_lead_time"):
            info["lead_time"] = data["preorder_lead_time"]
            info["lead_time_unit"] = data["preorder_lead_time_unit"]
        if data.get("preorder_ship_date"):
            info["ship_date"] = data["preorder_ship_date"].isoformat()
        return info or None

    def edited_values(self) -> dict[str, Any]:
        """Values in the normalised form of listings/editing.py (what pending changes store)."""
        d = self.cleaned_data
        return {
            "sku": d["sku"].strip(),
            "title": d["title"],
            "make": d["make"],
            "model": d["model"],
            "finish": d["finish"],
            "year": d["year"],
            "condition": d["condition"],
            "categories": list(d["categories"]),
            "price": editing.price_text(d["price"]),
            "inventory": d["inventory"],
            "has_inventory": d["has_inventory"],
            "description": d["description"],
            "shipping_profile_id": d["shipping_profile_id"] or "",
            "offers_enabled": d["offers_enabled"],
            "preorder_info": self.preorder(),
            "upc": d["upc"],
            "upc_does_not_apply": d["upc_does_not_apply"],
        }

    def show_reverb_errors(self, errors: dict[str, Any]) -> None:
        """Put Reverb's per-field 412 messages on the matching form fields (the rest on the form)."""
        for name, messages in (errors or {}).items():
            target = ERROR_FIELDS.get(name, name)
            if target not in self.fields:
                target = None
            for message in messages if isinstance(messages, list) else [messages]:
                self.add_error(target, f"Reverb: {message}")


class ListingEditForm(ListingFieldsForm):
    @classmethod
    def initial_for(cls, listing: Listing) -> dict[str, Any]:
        values = {name: editing.effective(listing, name) for name in editing.FIELDS}
        pre = values.pop("preorder_info") or {}
        values["preorder_lead_time"] = pre.get("lead_time")
        values["preorder_lead_time_unit"] = pre.get("lead_time_unit") or ""
        values["preorder_ship_date"] = pre.get("ship_date")
        values["cost"] = listing.cost
        return values


class ListingCreateForm(ListingFieldsForm):
    photos = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Photo URLs, one per line."
    )
    field_order = ["sku"]

    def __init__(self, *args: Any, account: ReverbAccount, **kwargs: Any) -> None:
        super().__init__(*args, account=account, **kwargs)
        self.fields["sku"].required = True
        self.fields[
            "sku"
        ].help_text = "Required: the SKU is how a listing is found on Reverb (no duplicates)."
        self.fields["offers_enabled"].initial = True

    def payload(self) -> dict[str, Any]:
        d = self.cleaned_data
        body: dict[str, Any] = {
            "sku": d["sku"].strip(),
            "make": d["make"],
            "model": d["model"],
            "condition": {"uuid": d["condition"]},
            "price": money(d["price"], self.account.currency),
            "offers_enabled": d["offers_enabled"],
        }
        for name in ("title", "finish", "year", "description"):
            if d.get(name):
                body[name] = d[name]
        if d.get("categories"):
            body["categories"] = [{"uuid": u} for u in d["categories"]]
        if d.get("inventory") is not None:
            body["inventory"] = d["inventory"]
            body["has_inventory"] = d["has_inventory"]
        if d.get("shipping_profile_id"):
            body["shipping_profile_id"] = d["shipping_profile_id"]
        if d.get("upc"):
            body["upc"] = d["upc"]
        if d.get("upc_does_not_apply"):
            body["upc_does_not_apply"] = True
        if self.preorder():
            body["preorder_info"] = self.preorder()
        photos = [line.strip() for line in (d.get("photos") or "").splitlines() if line.strip()]
        if photos:
            body["photos"] = photos
        return body


class EndForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("not_sold", "Not sold"), ("reverb_sale", "Sold on Reverb (fees apply)")],
        widget=forms.RadioSelect,
        initial="not_sold",
    )


class BumpForm(forms.Form):
    bid = forms.DecimalField(
        label="Bid (%)",
        min_value=Decimal("0.1"),
        max_value=Decimal("50"),
        decimal_places=2,
        help_text="Percent of the sale price, e.g. 3.5 (Reverb's tiers are shown on each listing).",
    )


class SaleForm(forms.Form):
    sale_id = forms.ChoiceField(label="Sale")

    def __init__(self, *args: Any, account: ReverbAccount | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sale_id"].choices = reference.seller_sales(account) if account else []


class DirectOfferForm(forms.Form):
    percentage = forms.IntegerField(min_value=1, max_value=99, help_text="Discount offered, 1-99%.")


class ImageUrlForm(forms.Form):
    url = forms.URLField(label="Photo URL", assume_scheme="https")


class CsvUploadForm(forms.Form):
    account = forms.ModelChoiceField(queryset=ReverbAccount.objects.filter(enabled=True))
    file = forms.FileField(
        help_text="Columns: sku, title, make, model, condition, price, inventory, description, photos, upc, "
        "upc_does_not_apply (yes or empty), cost (kept here, never sent to Reverb; empty keeps it).",
    )
