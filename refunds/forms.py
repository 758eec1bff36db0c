"""Forms of the refund action pages. The amount is checked before the confirmation page shows it: never
above what the order has left to refund, never blank (a full refund is an explicit tick, shown as the
amount it is); the services check again when sending."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from .services import REASONS, RESPONSE_LABELS, SELLER_STATES

FULL_HELP = "Tick to refund everything the order has left to refund, instead of typing an amount."


class RefundAmountForm(forms.Form):
    """An amount, or the explicit choice `full`; `refundable` is what the order has left (None: unknown)."""

    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False)
    full = forms.BooleanField(label="Full refund", required=False, help_text=FULL_HELP)

    def __init__(self, *args: Any, refundable: Decimal | None, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refundable = refundable
        self.currency = currency
        if refundable is not None:
            self.fields["full"].label = f"Full refund ({refundable} {currency})"

    def check_amount(self, data: dict[str, Any]) -> None:
        """Settle `amount` (the full refundable amount when `full` is ticked) or add the error to the form;
        `full` leaves cleaned_data (the services take the amount only)."""
        amount, full = data.get("amount"), data.pop("full", False)
        if "amount" in self.errors:
            return
        if full and amount is not None:
            self.add_error("amount", "Type an amount or tick “Full refund”, not both.")
        elif full:
            data["amount"] = self.refundable  # None when unknown here: Reverb refunds what is left
        elif amount is None:
            self.add_error("amount", "Type the amount to refund, or tick “Full refund”.")
        elif self.refundable is not None and amount > self.refundable:
            self.add_error(
                "amount",
                f"{amount} {self.currency} is more than the order has left to refund: "
                f"{self.refundable} {self.currency}.",
            )


class RespondForm(RefundAmountForm):
    state = forms.ChoiceField(label="Response", widget=forms.RadioSelect)
    note_to_buyer = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)
    restock = forms.BooleanField(
        label="Item returned, put it back in stock?",
        required=False,
        help_text="On approval: the order's quantity goes back to the listing's stock, sent to Reverb "
        "with the stock queue. Ignored unless you approve.",
    )
    field_order = ["state", "amount", "full", "note_to_buyer", "restock"]

    def __init__(self, *args: Any, allowed: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [(s, RESPONSE_LABELS[s]) for s in allowed]
        self.fields[
            "amount"
        ].help_text = "May be lowered, never raised above what is refundable. Ignored for a denial."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("state") == "denied":
            data["amount"] = None  # a denial carries no amount
            data.pop("full", None)
            self.errors.pop("amount", None)
        else:
            self.check_amount(data)
        if data.get("state") != "approved":
            data["restock"] = False  # only an approval puts the item back in stock
        return data


class SellerRefundForm(RefundAmountForm):
    """Offers only the reasons and ways (at once, or once the item is back) that apply to the order
    (services.reasons_for / states_for)."""

    reason = forms.ChoiceField(choices=REASONS)
    state = forms.ChoiceField(label="When", widget=forms.RadioSelect, initial="approved")
    field_order = ["reason", "state", "amount", "full"]

    def __init__(
        self,
        *args: Any,
        reasons: list[tuple[str, str]] | None = None,
        states: tuple[str, ...] = ("approved",),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if reasons is not None:
            self.fields["reason"].choices = reasons
        self.fields["state"].choices = [(s, SELLER_STATES[s]) for s in states]
        if len(states) == 1:  # nothing to choose: sent as the one way there is
            del self.fields["state"]
        self.only_state = states[0]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data.setdefault("state", self.only_state)
        self.check_amount(data)
        return data
