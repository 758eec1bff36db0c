"""Forms for listing edits, creation and the confirmation pages of the listing actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings

from backoffice.models import ReverbAccount
from backoffice.reverb.client import money_object

from . import description, editing, photo_list, photos, reference
from .models import Listing

LEAD_UNITS = [("", "—"), ("days", "days"), ("weeks", "weeks")]
# Reverb field names in 412 errors -> the form field that shows them.
ERROR_FIELDS = {"preorder_info": "preorder_lead_time", "photos": None}
HTML_KEPT = (
    "This description has formatting plain text cannot show (such as bold, links or styles), so it is kept "
    "as Reverb has it, in HTML. Edit the HTML here, or replace it all with plain text."
)


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input (Django's documented pattern): a list of uploads, maybe empty."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(photos.KINDS.values())}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


# The fields whose choices are Reverb's reference lists (listings/reference.py).
READ_FROM_REVERB = (
    ("condition", "conditions"),
    ("categories", "categories"),
    ("shipping_profile_id", "shipping_profiles"),
)


class ListingFieldsForm(forms.Form):
    """The editable fields of a listing, with Reverb's lists and Reverb's inventory rules, and its photo
    list (listings/photo_list.py: files uploaded here, URLs, the order)."""

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
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="Plain text: a blank line between paragraphs; lines starting with “- ” (or “1. ”) make a "
        "list. Reverb gets it as HTML.",
    )
    # "text" (the box holds text, sent as HTML) or "html" (an existing description text cannot say: kept).
    description_format = forms.ChoiceField(
        choices=[("text", "text"), ("html", "html")], required=False, widget=forms.HiddenInput
    )
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
    photo_files = MultipleFileField(label="Upload photos", required=False)
    photos = forms.CharField(
        label="Photo URLs",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Photos already online: their URLs, one per line (they go after the others).",
    )

    def __init__(
        self,
        *args: Any,
        account: ReverbAccount,
        photo_rows: list[photo_list.Row] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        # The photos the list starts from (the edit form: the mirror's); None: the form shows no list.
        self.initial_photos = photo_rows
        self.photo_rows: list[photo_list.Row] = list(photo_rows or [])
        self.shows_photos = photo_rows is not None
        # Reverb's photos as the page showed them (the mirror's copies, in order); None: no list was posted.
        self.photo_current: list[str] | None = None
        if self.initial.get("description_format") == "html":
            self.fields["description"].help_text = HTML_KEPT
        self.fields["photo_files"].help_text = (
            f"JPEG, PNG or WebP, up to {settings.LISTING_PHOTO_MAX_MB} MB each, at most "
            f"{settings.LISTING_PHOTO_MAX_COUNT} photos a listing. Drag the photos (or number them) to "
            "set their order; the first is the main photo."
        )
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
        self._clean_photos(data)
        return data

    def _clean_photos(self, data: dict[str, Any]) -> None:
        """The final photo list (self.photo_rows). Good uploads are stored at once, even when another field
        sends the form back, so they show in the list and are not chosen again."""
        posted = photo_list.posted_rows(self.data)
        if posted is not None:
            self.shows_photos, self.photo_current = True, [r.url for r in posted if r.on_reverb]
        rows = posted if posted is not None else list(self.initial_photos or [])
        files = data.get("photo_files") or []
        for message in photo_list.checked_files(files):
            self.add_error("photo_files", message)
        uploaded = [photo_list.Row(photos.store(f).url) for f in files if not photos.problem(f)]
        try:
            self.photo_rows = photo_list.ordered(self.data, rows, uploaded, data.get("photos") or [])
        except forms.ValidationError as exc:
            self.photo_rows = rows + uploaded
            self.add_error("photo_files", exc)
        if message := photo_list.too_many(len(self.photo_rows)):
            self.add_error("photo_files", message)

    def clean_description(self) -> str:
        value = self.cleaned_data.get("description") or ""
        if self._description_is_html(value) and description.unsafe(value):
            raise forms.ValidationError(
                "A description cannot hold scripts, frames, forms, event handlers or javascript: links."
            )
        return value

    def _description_is_html(self, value: str) -> bool:
        """An existing HTML description kept as HTML (cleared and typed again as text, it is text)."""
        return self.data.get("description_format") == "html" and bool(description.TAG.search(value))

    def description_html(self) -> str:
        """What Reverb gets: the typed text as HTML; an HTML description as it is; an unchanged text its
        description as Reverb has it (no edit is made of a round trip's spelling)."""
        value = self.cleaned_data.get("description") or ""
        if self._description_is_html(value):
            return value
        typed = value.replace("\r\n", "\n").strip()
        if "description_html" in self.initial and typed == (self.initial.get("description") or "").strip():
            return self.initial["description_html"]
        return description.to_html(value)

    def clean_photos(self) -> list[str]:
        return photo_list.new_urls(self.cleaned_data.get("photos") or "")

    def photo_urls(self) -> list[str]:
        return [row.url for row in self.photo_rows]

    def photos_changed(self) -> bool:
        """Whether the edit changes the photos Reverb has (new ones, or a new order)."""
        if self.photo_current is None:
            return bool(self.photo_urls())
        return self.photo_urls() != self.photo_current

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
            "description": self.description_html(),
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
        kept = values["description_html"] = values["description"] or ""
        text = description.to_text(kept)
        values["description"] = kept if text is None else text
        values["description_format"] = "html" if text is None else "text"
        return values


class ListingCreateForm(ListingFieldsForm):
    field_order = ["sku"]

    def __init__(self, *args: Any, account: ReverbAccount, **kwargs: Any) -> None:
        kwargs.setdefault("photo_rows", [])
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
            "price": money_object(d["price"], self.account.currency),
            "offers_enabled": d["offers_enabled"],
        }
        texts = {name: d.get(name) for name in ("title", "finish", "year")}
        body.update({name: value for name, value in texts.items() if value})
        if self.description_html():
            body["description"] = self.description_html()
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
        if self.photo_urls():
            body["photos"] = self.photo_urls()
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
