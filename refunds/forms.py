"""Forms of the refund action pages."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from .services import REASONS, RESPONSE_LABELS


class RespondForm(forms.Form):
    state = forms.ChoiceField(label="Response", widget=forms.RadioSelect)
    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text="May be lowered, never raised above what is refundable. Ignored for a denial.",
    )
    note_to_buyer = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)
    restock = forms.BooleanField(
        label="Item returned, put it back in stock?",
        required=False,
        help_text="On approval: the order's quantity goes back to the listing's stock, sent to Reverb "
        "with the stock queue. Ignored unless you approve.",
    )

    def __init__(self, *args: object, allowed: tuple[str, ...], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["state"].choices = [(s, RESPONSE_LABELS[s]) for s in allowed]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("state") == "denied":
            data["amount"] = None  # a denial carries no amount
        if data.get("state") != "approved":
            data["restock"] = False  # only an approval puts the item back in stock
        return data


class SellerRefundForm(forms.Form):
    reason = forms.ChoiceField(choices=REASONS)
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
