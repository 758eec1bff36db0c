"""CSV import: the category column takes a name as Reverb's category list has it (or a UUID); a name that
is unknown or that several categories share is refused on its row, with what to write instead."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.models import ReverbAccount
from emulator.generator.catalog import category_uuid
from listings import csv_import, reference

HEAD = "sku,make,model,condition,price,category\n"
SOLID = category_uuid("Electric Guitars / Solid Body")
CHOICES = [
    ("u-amp-acc", "Amps / Accessories"),
    ("u-drum-acc", "Drums and Percussion / Accessories"),
    ("u-solid", "Electric Guitars / Solid Body"),
    ("u-amps", "Amps"),
]


@pytest.mark.parametrize(
    "text,found",
    [
        ("Electric Guitars / Solid Body", "u-solid"),
        ("electric guitars  >  solid body", "u-solid"),  # any case, spacing, / or >
        ("Solid Body", "u-solid"),  # its own name, when only one category has it
        ("Amps", "u-amps"),  # a full name wins over children's names
        ("Amps / Accessories", "u-amp-acc"),
    ],
)
def test_a_category_name_is_matched_in_the_list(text: str, found: str) -> None:
    assert reference.match_category(CHOICES, text) == (found, "")


def test_an_ambiguous_or_unknown_name_says_why() -> None:
    assert reference.match_category(CHOICES, "accessories") == (
        None,
        "category 'accessories' could be any of: Amps / Accessories; Drums and Percussion / Accessories. "
        "Write its full name or its UUID",
    )
    assert reference.match_category(CHOICES, "Theremins") == (
        None,
        "unknown category 'Theremins': write its full name as Reverb's category list has it, or its UUID",
    )


def test_the_import_preview_takes_names_and_refuses_unknown_ones_per_row(
    account: ReverbAccount, emulator: Any
) -> None:
    text = HEAD + (
        "C-1,Fender,Strat,Excellent,900,Electric Guitars / Solid Body\n"
        "C-2,Fender,Strat,Excellent,900,solid body\n"
        f"C-3,Fender,Strat,Excellent,900,{SOLID.upper()}\n"
        "C-4,Fender,Strat,Excellent,900,Theremins\n"
        "C-5,Fender,Strat,Excellent,900,\n"
    )
    rows, problems = csv_import.parse(account, text)
    assert problems == []
    by_sku = {r.sku: r for r in rows}
    for sku in ("C-1", "C-2", "C-3"):
        assert by_sku[sku].outcome == "create" and by_sku[sku].payload["categories"] == [{"uuid": SOLID}]
    assert by_sku["C-4"].outcome == "refused" and by_sku["C-4"].reasons == [
        "unknown category 'Theremins': write its full name as Reverb's category list has it, or its UUID"
    ]
    assert by_sku["C-5"].outcome == "create" and "categories" not in by_sku["C-5"].payload


def test_an_ambiguous_name_is_refused_in_the_preview_page(
    admin_client: Client, account: ReverbAccount, emulator: Any, monkeypatch: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    monkeypatch.setattr(reference, "categories", lambda account: list(CHOICES))
    text = HEAD + "C-6,Fender,Strat,Excellent,900,Accessories\nC-7,Fender,Strat,Excellent,900,Amps\n"
    page = admin_client.post(
        reverse("admin:listings_listing_import"),
        {"account": account.pk, "file": SimpleUploadedFile("c.csv", text.encode())},
    )
    rows = {r.sku: r for r in page.context["rows"]}
    assert rows["C-6"].outcome == "refused" and rows["C-7"].payload["categories"] == [{"uuid": "u-amps"}]
    assert "could be any of: Amps / Accessories; Drums and Percussion / Accessories" in page.content.decode()


def test_names_cannot_be_matched_when_the_list_cannot_be_read(
    account: ReverbAccount, monkeypatch: Any
) -> None:
    monkeypatch.setattr(reference, "categories", lambda account: [])
    rows, _ = csv_import.parse(
        account, HEAD + f"C-8,F,S,Excellent,9,Solid Body\nC-9,F,S,Excellent,9,{SOLID}\n"
    )
    assert rows[0].outcome == "refused" and "could not be read" in rows[0].reasons[0]
    assert rows[1].outcome == "create"  # a UUID needs no list
