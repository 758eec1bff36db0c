"""The bulk price edit, an action of the listings changelist: choose the change, see every resulting
price on the confirmation kit's page (backoffice/confirm.py), confirm; one job then pushes exactly the
previewed prices (automation/prices.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from backoffice import confirm
from backoffice.background.jobs import job_url

from . import prices


class PriceEditForm(forms.Form):
    operation = forms.ChoiceField(choices=list(prices.OPERATIONS.items()))
    value = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    rounding = forms.ChoiceField(choices=list(prices.ROUNDING.items()), required=False)
    floor = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text="Never below this price (empty: no floor).",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("operation") == "lower_percent" and data.get("value", 0) >= 100:
            raise forms.ValidationError("Lowering by 100% or more leaves no price.")
        return data


@admin.action(description="Change prices (preview every change first)", permissions=["push"])
def change_prices(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    """Choose the change (this page), then the confirmation kit lists every resulting price; its "yes"
    starts one job that pushes exactly the previewed (signed) prices."""
    if confirm.given(request):
        try:
            job = prices.start_job(request.POST.get("plan", ""), user=request.user)
        except signing.BadSignature:
            modeladmin.message_user(
                request, "The preview expired or was altered; nothing sent.", messages.ERROR
            )
            return None
        return HttpResponseRedirect(job_url(job))
    listings = list(queryset.select_related("account").order_by("pk"))
    previewing = request.POST.get("price_step") == "preview"
    form = PriceEditForm(**confirm.form_args(request)) if previewing else PriceEditForm()
    selected = [(admin.helpers.ACTION_CHECKBOX_NAME, x.pk) for x in listings]
    held = sorted({x.account.name for x in listings if not x.account.push_price})
    held_note = (
        f"Price pushes are off for {', '.join(held)} (account push settings): held back." if held else ""
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        changes = prices.preview(listings, data["operation"], data["value"], data["rounding"], data["floor"])
        sending = sum(1 for c in changes if c.sends)
        return confirm.page(
            request,
            "Confirm the price changes",
            [],
            table=[
                [
                    str(c.listing),
                    c.listing.sku,
                    c.old or "-",
                    c.new or "-",
                    "will be pushed" if c.sends else c.note,
                ]
                for c in changes
            ],
            columns=["Listing", "SKU", "Now", "New", ""],
            notes=[n for n in (held_note, f"{sending} price(s) will be pushed to Reverb as one job.") if n],
            button=f"Push {sending} price change(s)",
            cancel=request.get_full_path(),
            form=form,
            hidden=[
                ("action", "change_prices"),
                ("price_step", "preview"),
                ("plan", prices.sign_plan(changes)),
                *selected,
            ],
            opts=modeladmin.model._meta,
        )
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Change prices",
        "opts": modeladmin.model._meta,
        "listings": listings,
        "form": form,
        "held": held,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "automation/price_edit.html", context)
