"""The listing create and edit forms are shown in groups (what, condition and price, stock, shipping,
photos, promotion); a field no group names still shows, under "More"."""

from __future__ import annotations

from django import forms

from listings.templatetags.listing_form import GROUPS, fieldsets


class Sample(forms.Form):
    price = forms.DecimalField()
    sku = forms.CharField()
    offers_enabled = forms.BooleanField(required=False)
    new_field = forms.CharField()


def test_fields_are_grouped_in_order_and_an_unknown_field_is_not_dropped() -> None:
    groups = [(title, [f.name for f in fields]) for title, _, fields in fieldsets(Sample())]
    assert groups == [
        ("What", ["sku"]),
        ("Condition and price", ["price"]),
        ("Promotion", ["offers_enabled"]),
        ("More", ["new_field"]),
    ]


def test_every_listing_form_field_has_a_group() -> None:
    from listings.forms import ListingCreateForm, ListingEditForm

    named = {n for _, names in GROUPS for n in names}
    for form_class in (ListingCreateForm, ListingEditForm):
        assert set(form_class.base_fields) <= named, set(form_class.base_fields) - named
