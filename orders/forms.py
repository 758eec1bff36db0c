"""Forms of the order action pages."""

from __future__ import annotations

from django import forms

from backoffice.models import ReverbAccount

RATINGS = [(n, f"{n} star{'s' if n > 1 else ''}") for n in range(5, 0, -1)]


class ShipForm(forms.Form):
    provider = forms.ChoiceField(label="Shipping provider")
    tracking_number = forms.CharField(max_length=255)
    send_notification = forms.BooleanField(label="Notify the buyer", required=False, initial=True)
    whole_bundle = forms.BooleanField(
        label="Ship every order of this bundle with this tracking number", required=False, initial=True
    )

    def __init__(self, *args: object, providers: list[str], bundle_size: int = 1, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["provider"].choices = [("", "---------"), *((p, p) for p in providers)]
        if bundle_size <= 1:
            del self.fields["whole_bundle"]
        else:
            self.fields[
                "whole_bundle"
            ].label = f"Ship all {bundle_size} shippable orders of this bundle with it"

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
