"""Forms of the order action pages."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms

from backoffice.models import ReverbAccount

from . import carriers as carrier_list

RATINGS = [(n, f"{n} star{'s' if n > 1 else ''}") for n in range(5, 0, -1)]


class ShipForm(forms.Form):
    provider = forms.CharField(
        label="Shipping provider",
        max_length=100,
        widget=forms.TextInput(attrs={"list": "providers", "autocomplete": "off"}),
        help_text="Reverb's provider name, or your own carrier name mapped in Orders › Shipping provider "
        "mappings.",
    )
    tracking_number = forms.CharField(max_length=255)
    send_notification = forms.BooleanField(label="Notify the buyer", required=False, initial=True)
    whole_bundle = forms.BooleanField(
        label="Ship every order of this bundle with this tracking number", required=False, initial=True
    )

    def __init__(
        self, *args: object, carriers: Mapping[str, str], bundle_size: int = 1, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.carriers = carriers  # orders/carriers.py lookup(): THE carrier list of the order's shop
        if bundle_size <= 1:
            del self.fields["whole_bundle"]
        else:
            self.fields[
                "whole_bundle"
            ].label = f"Ship all {bundle_size} shippable orders of this bundle with it"

    def clean_provider(self) -> str:
        """Reverb's name for what was typed (a mapped name is sent as its Reverb provider)."""
        typed = self.cleaned_data["provider"]
        provider = carrier_list.resolve(self.carriers, typed)
        if not provider:
            raise forms.ValidationError(carrier_list.unknown(typed))
        return provider

    def clean_tracking_number(self) -> str:
        return self.cleaned_data["tracking_number"].strip()


class PickedUpForm(forms.Form):
    date = forms.DateTimeField(
        required=False, help_text="Empty: now.", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(choices=RATINGS, coerce=int)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 60}), max_length=2000)


class CsvUploadForm(forms.Form):
    account = forms.ModelChoiceField(queryset=ReverbAccount.objects.filter(enabled=True))
    file = forms.FileField(label="CSV file", help_text="Columns: order_number,provider,tracking_number")
    send_notification = forms.BooleanField(label="Notify the buyers", required=False, initial=True)
