"""Factories for mirror rows and for the Reverb payloads they come from (for sync and admin tests)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory

from listings.models import Listing
from orders.models import Order
from tests.factories.accounts import AccountFactory


def money(amount: str | Decimal, currency: str = "USD") -> dict[str, Any]:
    return {
        "amount": f"{Decimal(amount):.2f}",
        "amount_cents": int(Decimal(amount) * 100),
        "currency": currency,
        "symbol": "$",
        "display": f"${amount}",
    }


def listing_payload(n: int, **overrides: Any) -> dict[str, Any]:
    """A listing in the shape of API-NOTES 5.3."""
    payload = {
        "id": 1000 + n,
        "sku": f"SKU-{n}",
        "title": f"Guitar {n}",
        "make": "Fender",
        "model": "Stratocaster",
        "finish": "Sunburst",
        "year": "1965",
        "condition": {"uuid": "ae4d9114-1bd7-4ec5-a4ba-6653af5ac84d", "display_name": "Very Good"},
        "price": money(f"{100 + n}.00"),
        "inventory": 1,
        "has_inventory": False,
        "offers_enabled": True,
        "state": {"slug": "live", "description": "Live"},
        "created_at": "2026-10-01T10:00:00-05:00",
        "published_at": "2026-10-01T10:05:00-05:00",
        "photos": [],
        "_links": {"web": {"href": f"https://reverb.com/item/{1000 + n}-guitar"}},
    }
    payload.update(overrides)
    return payload


def order_payload(n: int, **overrides: Any) -> dict[str, Any]:
    """An order in the shape of API-NOTES 6.4."""
    payload = {
        "order_number": str(5000 + n),
        "status": "paid",
        "buyer_name": f"Buyer {n}",
        "buyer_id": n,
        "amount_product": money("100.00"),
        "shipping": money("10.00"),
        "amount_tax": money("0.00"),
        "total": money("110.00"),
        "quantity": 1,
        "sku": f"SKU-{n}",
        "title": f"Guitar {n}",
        "product_id": str(1000 + n),
        "shipping_method": "shipped",
        "local_pickup": False,
        "created_at": "2026-10-01T10:00:00-05:00",
        "updated_at": "2026-10-02T10:00:00-05:00",
    }
    payload.update(overrides)
    return payload


class ListingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listing

    account = factory.SubFactory(AccountFactory)
    reverb_id = factory.Sequence(lambda n: str(900000 + n))
    sku = factory.Sequence(lambda n: f"SKU-F{n}")
    title = factory.Sequence(lambda n: f"Factory guitar {n}")
    make = "Gibson"
    model = "Les Paul"
    state = "live"
    price = Decimal("1999.00")
    currency = "USD"
    inventory = 1
    raw = factory.LazyAttribute(lambda o: {"id": o.reverb_id, "sku": o.sku, "title": o.title})


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    account = factory.SubFactory(AccountFactory)
    order_number = factory.Sequence(lambda n: str(700000 + n))
    reverb_id = factory.LazyAttribute(lambda o: o.order_number)
    status = "paid"
    buyer_name = factory.Sequence(lambda n: f"Buyer {n}")
    amount_total = Decimal("110.00")
    currency = "USD"
    raw = factory.LazyAttribute(lambda o: {"order_number": o.order_number, "status": o.status})
