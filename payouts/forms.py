"""The period form shared by the reconciliation report and the CSV exports."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from backoffice.access import accounts_of, sees_every_account
from backoffice.models import ReverbAccount

from .matching import Period

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
MAX_DAYS = 366 * 2


class PeriodForm(forms.Form):
    """A month (YYYY-MM) or a from-to range (inclusive), and optionally one account."""

    month = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text="A month, or leave empty and give from and to.",
    )
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    account = forms.ModelChoiceField(
        queryset=ReverbAccount.objects.only("pk", "name").order_by("name"),
        required=False,
        empty_label="all accounts",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["account"].queryset = accounts_of(user).only("pk", "name").order_by("name")

    def clean_month(self) -> tuple[int, int] | None:
        value = (self.cleaned_data.get("month") or "").strip()
        if not value:
            return None
        match = MONTH_RE.match(value)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise forms.ValidationError("Enter a month as YYYY-MM.")
        return int(match.group(1)), int(match.group(2))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if data.get("month") is None and (start or end):
            if not (start and end):
                raise forms.ValidationError("Give both from and to, or a month.")
            if end < start:
                raise forms.ValidationError("To must not be before from.")
            if (end - start).days > MAX_DAYS:
                raise forms.ValidationError(f"At most {MAX_DAYS} days at once.")
        return data

    def period(self) -> Period:
        """The chosen period; the current month when nothing (valid) was chosen."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        if data.get("month"):
            return Period.month(*data["month"])
        if data.get("start") and data.get("end"):
            return Period(data["start"], data["end"])
        today: date = timezone.localdate()
        return Period.month(today.year, today.month)

    def account_ids(self) -> list[int] | None:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        account = data.get("account")
        if account:
            return [account.pk]
        # "All accounts" is all of the user's accounts (None: every account, for a superuser).
        return (
            None
            if sees_every_account(self.user)
            else list(accounts_of(self.user).values_list("pk", flat=True))
        )
