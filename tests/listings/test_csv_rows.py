"""CSV import: every check of a row gives its reason (all of them at once), and a row without one is sent in
Reverb's shape, with only the cells it fills."""

from __future__ import annotations

from typing import Any

from backoffice.models import ReverbAccount
from listings import conditions, csv_import, editing

HEAD = "sku,title,make,model,condition,price,inventory,description,photos,upc,upc_does_not_apply,cost\n"
EXCELLENT = "df268ad1-c462-4ba6-b6db-e007e23922ea"


def preview(account: ReverbAccount, *lines: str) -> dict[str, csv_import.Row]:
    rows, problems = csv_import.parse(account, HEAD + "".join(f"{line}\n" for line in lines))
    assert problems == []
    return {r.sku: r for r in rows}


def test_each_check_gives_its_reason(account: ReverbAccount, emulator: Any) -> None:
    rows, _ = csv_import.parse(
        account,
        HEAD
        + "A-1,,Fender,,Shiny,0,,,,,,\n"
        + "A-1,,Fender,Strat,Excellent,10,many,,,,,\n"
        + "A-3,,Fender,Strat,Excellent,10,2000000,,,123,,\n"
        + "A-4,,Fender,Strat,Excellent,10,3,,,,,-5\n"
        + "A-5,,,,,,,,,,,\n",
    )
    assert [r.reasons for r in rows] == [
        ["model is required", "unknown condition 'Shiny'", "price must be more than 0"],
        ["SKU appears twice in the file", "inventory 'many' is not a whole number"],
        [
            "inventory 2000000 is more than 1,000,000",  # and still checked against the condition
            *[m for ms in editing.inventory_errors(EXCELLENT, 2000000).values() for m in ms],
            "upc '123' is not a 12 to 14 digit barcode with a right check digit",
        ],
        [
            *[m for ms in editing.inventory_errors(EXCELLENT, 3).values() for m in ms],
            "cost cannot be negative",
        ],
        [f"{name} is required" for name in ("make", "model", "condition", "price")],
    ]
    assert all(r.outcome == "refused" and r.payload == {} and r.cost is None for r in rows)


def test_a_good_row_is_sent_with_only_what_it_fills(account: ReverbAccount, emulator: Any) -> None:
    rows = preview(
        account,
        "B-1,,Fender,Strat,Excellent,1200.50,,,,,,",
        'B-2,A title,Boss,DS-1,new,"1,000",4,Words,https://a.example/1.jpg|ftp://x http://b.example/2.jpg,'
        "012345678905,yes,12.5",
        "B-3,,Boss,DS-1,Brand New,50,0,,,,Y,",
    )
    assert rows["B-1"].payload == {
        "sku": "B-1",
        "make": "Fender",
        "model": "Strat",
        "condition": {"uuid": EXCELLENT},
        "price": {"amount": "1200.50", "currency": account.currency},
    }
    assert rows["B-2"].payload == {
        "sku": "B-2",
        "make": "Boss",
        "model": "DS-1",
        "condition": {"uuid": conditions.BRAND_NEW},
        "price": {"amount": "1000.00", "currency": account.currency},
        "title": "A title",
        "description": "Words",
        "inventory": 4,
        "has_inventory": True,
        "photos": ["https://a.example/1.jpg", "http://b.example/2.jpg"],
        "upc": "012345678905",
    }
    assert rows["B-2"].cost == "12.50" and "cost" not in rows["B-2"].payload
    assert rows["B-3"].payload["upc_does_not_apply"] is True and rows["B-3"].payload["inventory"] == 0
    assert all(r.outcome == "create" and r.reasons == [] for r in rows.values())
