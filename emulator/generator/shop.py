"""The seeded shop and account. Shapes are ours unless noted: no source shows the full shop or account
JSON (API-NOTES 10.7); PrestaShop reads `id` from /shop and a `shop` key from /my/account."""

from __future__ import annotations

import random
from decimal import Decimal

from ..store import Store

_NAMES = (
    "Northside Guitar Exchange",
    "Blue Ridge Music Co.",
    "Fretworks Vintage",
    "Analog Attic",
    "Lakeside Drum & Guitar",
    "Riverbend Sound Supply",
    "Copperline Instruments",
    "Midnight Amp Shop",
)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).replace("--", "-").strip("-")


def generate(store: Store, rng: random.Random, sizes: dict[str, int]) -> None:
    name = rng.choice(_NAMES)
    shop_id = rng.randint(100_000, 999_999)
    currency = store.currency
    store.shop = {
        "id": shop_id,
        "name": name,
        "slug": _slug(name),
        "currency": currency,
        "description": f"{name}: used and new music gear, shipped with care.",
        "legal_country_code": "US",
        "shop_type": "business",
        "website": f"https://{_slug(name)}.example",
        "payment_policy": "Payment is due within 3 days.",
        "return_policy": "Returns accepted within 14 days.",
        "shipping_policy": "Ships within 2 business days.",
        "address": {
            "name": name,
            "street_address": "100 Main St",
            "extended_address": "",
            "locality": "Nashville",
            "region": "TN",
            "postal_code": "37203",
            "country_code": "US",
            "phone": "615-555-0100",
        },
        # Profiles: {id, name, local, rates [{region_code, rate}]}; rate keys follow the listing shipping
        # request body [OFFICIAL-SPEC], the rest is ours.
        "shipping_profiles": [
            {
                "id": shop_id * 10 + 1,
                "name": "Pedals and small items",
                "local": False,
                "rates": [
                    {"region_code": "US_CON", "rate": Decimal("8.00")},
                    {"region_code": "XX", "rate": Decimal("35.00")},
                ],
            },
            {
                "id": shop_id * 10 + 2,
                "name": "Guitars",
                "local": True,
                "rates": [
                    {"region_code": "US_CON", "rate": Decimal("45.00")},
                    {"region_code": "XX", "rate": Decimal("150.00")},
                ],
            },
            {
                "id": shop_id * 10 + 3,
                "name": "Amps and heavy items",
                "local": True,
                "rates": [{"region_code": "US_CON", "rate": Decimal("95.00")}],
            },
        ],
    }
    first, last = rng.choice(("Sam", "Alex", "Jordan", "Casey")), rng.choice(("Rivera", "Nguyen", "Okafor"))
    store.account = {
        "id": rng.randint(1_000_000, 9_999_999),
        "user_id": None,
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}@{_slug(name)}.example",
        "currency": currency,
        "locale_code": "en",
        "shipping_region_code": "US_CON",
        "preferred_seller": store.preferred_seller,
    }
    store.account["user_id"] = store.account["id"]
    store.vacation = False
