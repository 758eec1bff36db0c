"""The bulk price edit, an action of the listings changelist: choose the change, see every resulting
price, confirm; one job then pushes exactly the previewed prices (automation/prices.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

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
    step = request.POST.get("price_step", "")
    if step == "confirm":
        try:
            job = prices.start_job(request.POST.get("plan", ""), user=request.user)
        except signing.BadSignature:
            modeladmin.message_user(
                request, "The preview expired or was altered; nothing sent.", messages.ERROR
            )
            return None
        return HttpResponseRedirect(job_url(job))
    listings = list(queryset.select_related("account").order_by("pk"))
    form = PriceEditForm(request.POST if step == "preview" else None)
    changes = None
    plan = ""
    if step == "preview" and form.is_valid():
        data = form.cleaned_data
        changes = prices.preview(listings, data["operation"], data["value"], data["rounding"], data["floor"])
        plan = prices.sign_plan(changes)
    held = sorted({x.account.name for x in listings if not x.account.push_price})
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Change prices" if changes is None else "Confirm the price changes",
        "opts": modeladmin.model._meta,
        "listings": listings,
        "form": form,
        "changes": changes,
        "sending": sum(1 for c in changes or () if c.sends),
        "plan": plan,
        "held": held,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "automation/price_edit.html", context)
