"""Forms of the offer and conversation pages."""

from __future__ import annotations

from decimal import Decimal

from django import forms


class CounterForm(forms.Form):
    price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    shipping_price = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False
    )
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)


class AcceptForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), required=False)


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Reply", widget=forms.Textarea(attrs={"rows": 4, "cols": 70}), max_length=5000
    )
