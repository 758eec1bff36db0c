"""The bulk field edit, an action of the listings changelist ("Edit fields"): choose new values for
shipping profile, category, offers, UPC, condition and stock (empty: leave as is), see every listing's
old -> new values and what is refused on the confirmation kit's page (backoffice/confirm.py), confirm; the
previewed (signed) values are then recorded as pending edits (listings/editing.py) and one job pushes them.

Local pickup is not offered: it lives inside Reverb's `shipping` object with the per-region rates
(API-NOTES 5.2), so setting it alone would replace the rates, and a listing on a shipping profile has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from backoffice import confirm
from backoffice.access import for_user
from backoffice.background.jobs import ItemSpec, create_job, job_url
from backoffice.models import BulkJob, ReverbAccount

from . import editing, reference
from .models import Listing

PLAN_SALT = "listings.bulk_edit"
KEEP = ""  # every field's "leave as it is"
YES_NO = [(KEEP, "— leave as is"), ("yes", "Yes"), ("no", "No")]


class BulkEditForm(forms.Form):
    shipping_profile_id = forms.ChoiceField(label="Shipping profile", required=False)
    category = forms.ChoiceField(required=False, help_text="Replaces the listing's categories.")
    offers_enabled = forms.ChoiceField(label="Offers enabled", choices=YES_NO, required=False)
    upc = forms.CharField(label="UPC", max_length=14, required=False, help_text="12 to 14 digits.")
    upc_does_not_apply = forms.ChoiceField(label="UPC does not apply", choices=YES_NO, required=False)
    condition = forms.ChoiceField(required=False)
    inventory = forms.IntegerField(label="Stock", min_value=0, required=False)

    def __init__(self, *args: Any, account: ReverbAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep = [(KEEP, "— leave as is")]
        self.fields["shipping_profile_id"].choices = keep + list(reference.shipping_profiles(account))
        self.fields["category"].choices = keep + list(reference.categories(account))
        self.fields["condition"].choices = keep + list(reference.conditions(account))

    def clean_upc(self) -> str:
        upc = self.cleaned_data.get("upc", "").strip().replace(" ", "")
        if upc and not editing.valid_gtin(upc):
            raise forms.ValidationError(
                "Enter the 12 to 14 digits of the barcode (its check digit does not match)."
            )
        return upc

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("upc") and data.get("upc_does_not_apply") == "yes":
            self.add_error("upc_does_not_apply", "Enter a UPC or choose this, not both.")
        if not self.new_values():
            raise forms.ValidationError("Choose at least one field to change.")
        return data

    def new_values(self) -> dict[str, Any]:
        """The chosen values, normalised as pending changes store them (listings/editing.py)."""
        d = getattr(self, "cleaned_data", {})
        values: dict[str, Any] = {}
        if d.get("shipping_profile_id"):
            values["shipping_profile_id"] = d["shipping_profile_id"]
        if d.get("category"):
            values["categories"] = [d["category"]]
        if d.get("offers_enabled"):
            values["offers_enabled"] = d["offers_enabled"] == "yes"
        if d.get("upc"):
            values["upc"] = d["upc"]
            values["upc_does_not_apply"] = False
        if d.get("upc_does_not_apply"):
            values["upc_does_not_apply"] = d["upc_does_not_apply"] == "yes"
            if values["upc_does_not_apply"]:
                values["upc"] = ""
        if d.get("condition"):
            values["condition"] = d["condition"]
        if d.get("inventory") is not None:
            values["inventory"] = d["inventory"]
        return values


@dataclass
class Row:
    listing: Listing
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name: (old, new)
    held: list[str] = field(default_factory=list)  # in words: what the push settings hold back
    refusal: str = ""

    @property
    def sends(self) -> bool:
        return bool(self.changes) and not self.refusal


def preview(listings: Iterable[Listing], values: dict[str, Any]) -> list[Row]:
    """Per listing: the fields that would change (old -> new), or why nothing is sent for it."""
    rows = []
    for listing in listings:
        row = Row(listing)
        changing = {n: v for n, v in values.items() if editing.effective(listing, n) != v}
        allowed, held = editing.allowed_fields(listing.account, list(changing))
        row.held = editing.held_words(listing.account, held)
        row.changes = {n: (editing.effective(listing, n), changing[n]) for n in allowed}
        condition = row.changes.get("condition", (None, editing.effective(listing, "condition")))[1]
        inventory = row.changes.get("inventory", (None, editing.effective(listing, "inventory")))[1]
        errors = editing.inventory_errors(condition or "", inventory)
        if editing.conflicts(listing):
            row.refusal = "it has a conflict with Reverb: resolve it on the listing page first"
        elif errors:
            row.refusal = "; ".join(m for ms in errors.values() for m in ms)
        elif not row.changes:
            row.refusal = "held back: this account does not push " + " or ".join(row.held) if row.held else ""
        rows.append(row)
    return rows


def _text(value: Any, names: dict[str, str]) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(names.get(str(v), str(v)) for v in value) or "none"
    return "none" if value in (None, "") else names.get(str(value), str(value))


def describe(row: Row, names: dict[str, dict[str, str]] | None = None) -> str:
    """ "Shipping profile: none -> Pedals" lines; `names`: per field, Reverb's names of ids (the form's)."""
    names = names or {}
    lines = [
        f"{editing.FIELDS[n].label}: {_text(old, names.get(n, {}))} -> {_text(new, names.get(n, {}))}"
        for n, (old, new) in row.changes.items()
    ]
    if row.held:
        lines.append(f"held back (not sent): {' or '.join(row.held)}")
    return "\n".join(lines) or "no change"


def sign_plan(rows: Iterable[Row]) -> str:
    """The previewed changes, signed, so the confirmation records and pushes exactly what was shown."""
    plan = [[r.listing.pk, {n: new for n, (_, new) in r.changes.items()}] for r in rows if r.sends]
    return signing.dumps(plan, salt=PLAN_SALT)


def apply_plan(token: str, *, user: Any, max_age: int = 3600) -> BulkJob | None:
    """Record the signed changes as pending edits (only on listings the user still sees) and start one
    push job for them."""
    plan = signing.loads(token, salt=PLAN_SALT, max_age=max_age)
    listings = for_user(Listing.objects.select_related("account"), user).in_bulk([pk for pk, _ in plan])
    edited = []
    with transaction.atomic():
        for pk, values in plan:
            listing = listings.get(pk)
            if listing is None:
                continue
            editing.record_edits(listing, values)
            Listing.objects.filter(pk=pk).update(pending_changes=listing.pending_changes)
            edited.append(listing)
        if not edited:
            return None
        accounts = {x.account_id for x in edited}
        return create_job(
            "listings.push",
            title=f"Edit fields and push ({len(edited)} listings)",
            items=[ItemSpec(str(x.pk), str(x)) for x in edited],
            account=edited[0].account if len(accounts) == 1 else None,
            user=user,
        )


@admin.action(
    description="Edit fields (shipping, category, offers, UPC, condition, stock)", permissions=["bulk_edit"]
)
def edit_fields(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
    """Choose the values (this page), preview every listing's old -> new values and refusals, confirm:
    one job pushes exactly the previewed edits."""
    if confirm.given(request):
        return _start_confirmed(modeladmin, request)
    listings = list(queryset.select_related("account").order_by("pk"))
    accounts = {x.account for x in listings}
    if len(accounts) != 1:
        modeladmin.message_user(
            request,
            "Select listings of one account at a time: shipping profiles are per shop.",
            messages.ERROR,
        )
        return None
    account = accounts.pop()
    previewing = request.POST.get("edit_step") == "preview"
    form = (
        BulkEditForm(**confirm.form_args(request), account=account)
        if previewing
        else BulkEditForm(account=account)
    )
    if form.is_bound and form.is_valid():
        return _confirmation(modeladmin, request, listings, form)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Edit fields",
        "opts": modeladmin.model._meta,
        "listings": listings,
        "form": form,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "listings/bulk_edit.html", context)


def _start_confirmed(modeladmin: Any, request: HttpRequest) -> HttpResponse | None:
    """The confirmation's "yes": once per form, the signed plan becomes pending edits and one push job."""
    first, _ = confirm.spend(request, "listings.bulk_edit")
    if not first:
        return None
    try:
        job = apply_plan(request.POST.get("plan", ""), user=request.user)
    except signing.BadSignature:
        modeladmin.message_user(request, "The preview expired or was altered; nothing sent.", messages.ERROR)
        return None
    if job is None:
        modeladmin.message_user(request, "Nothing to send.", messages.WARNING)
        return None
    return HttpResponseRedirect(job_url(job))


def _confirmation(
    modeladmin: Any, request: HttpRequest, listings: list[Listing], form: BulkEditForm
) -> HttpResponse:
    """The confirmation kit's page: every listing's old -> new values or its refusal, the plan signed."""
    rows = preview(listings, form.new_values())
    names = {
        field: {str(k): str(v) for k, v in form.fields[choice].choices if k}
        for field, choice in (
            ("shipping_profile_id", "shipping_profile_id"),
            ("categories", "category"),
            ("condition", "condition"),
        )
    }
    sending = sum(1 for r in rows if r.sends)
    selected = [(admin.helpers.ACTION_CHECKBOX_NAME, x.pk) for x in listings]
    return confirm.page(
        request,
        "Confirm the field changes",
        [],
        table=[
            [
                str(r.listing),
                r.listing.sku or "none",
                describe(r, names),
                f"refused: {r.refusal}"
                if r.refusal
                else ("will be pushed" if r.sends else "nothing to change"),
            ]
            for r in rows
        ],
        columns=["Listing", "SKU", "Now -> new", ""],
        notes=[f"{sending} listing(s) will be saved as pending changes and pushed to Reverb as one job."],
        button=f"Push {sending} listing(s)" if sending else "",
        cancel=request.get_full_path(),
        form=form,
        hidden=[("action", "edit_fields"), ("edit_step", "preview"), ("plan", sign_plan(rows)), *selected],
        opts=modeladmin.model._meta,
        rows=rows,
    )
