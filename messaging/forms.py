"""Forms of the offer and conversation pages. The offer forms check the answer before the confirmation
page shows it (messaging/answers.py), so a counter below the buyer's offer or the floor never gets a
"Yes" button; the services check again when sending."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from . import answers
from .models import Negotiation


class OfferAnswerForm(forms.Form):
    """An answer to one offer; `negotiation` is what it answers."""

    def __init__(self, *args: Any, negotiation: Negotiation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.negotiation = negotiation


class CounterForm(OfferAnswerForm):
    price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    shipping_price = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False
    )
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)

    def clean_price(self) -> Decimal:
        price = self.cleaned_data["price"]
        problem = answers.counter_problem(self.negotiation, price)
        if problem:
            raise forms.ValidationError(problem)
        return price


class ConversationOfferForm(CounterForm):
    """An offer to the buyer in a conversation about a listing: a counter's fields and amount checks;
    `negotiation` is the offer to make (services.offer_to_make)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shipping_price"].help_text = "Empty: the listing's own shipping rate."

    def clean_price(self) -> Decimal:
        price = self.cleaned_data["price"]
        problem = answers.conversation_offer_problem(self.negotiation, price)
        if problem:
            raise forms.ValidationError(problem)
        return price


class AcceptForm(OfferAnswerForm):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        problem = answers.accept_problem(self.negotiation)
        if problem:
            raise forms.ValidationError(problem)
        return data


class DeclineForm(OfferAnswerForm):
    message = forms.CharField(
        label="Message to the buyer",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        required=False,
        help_text="Optional: sent in your conversation with the buyer about this listing, or a new one "
        "(Reverb's decline carries no message).",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        from .services import respond_refusal

        problem = respond_refusal(self.negotiation, "declined")
        if not problem and data.get("message") and not self.negotiation.buyer_id:
            problem = (
                "Reverb did not say who this buyer is, so a message cannot be sent: leave it empty, or "
                "write to the buyer on Reverb."
            )
        if problem:
            raise forms.ValidationError(problem)
        return data


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Reply", widget=forms.Textarea(attrs={"rows": 4, "cols": 70}), max_length=5000
    )
