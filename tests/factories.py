"""factory-boy factories and Reverb payload builders shared by every app's tests, in one module:
`from tests.factories import AccountFactory, OrderFactory, order_payload`.

AccountFactory points an account at the in-process emulator (use with the `emulator` fixture); every mirror
factory hangs its row on one ReverbAccount (a new one unless `account=` is given)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from backoffice.models import ReverbAccount
from listings.models import Listing
from messaging.models import Conversation, Message, Negotiation
from orders.models import Feedback, Order, Payment
from payouts.models import Payout, PayoutLineItem
from refunds.models import RefundRequest
from tests.conftest import EMULATOR_API_URL, EMULATOR_TOKEN

# ---- accounts --------------------------------------------------------------------------------------------


class AccountFactory(factory.django.DjangoModelFactory):
    """A Reverb account pointing at the in-process emulator (use with the `emulator` fixture).

    AccountFactory(token="...") sets another token; token="" leaves none.
    """

    class Meta:
        model = ReverbAccount
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"shop-{n}")
    api_url = EMULATOR_API_URL
    currency = "USD"

    @factory.post_generation
    def token(obj: ReverbAccount, create: bool, extracted: Any, **kwargs: Any) -> None:
        obj.set_token(EMULATOR_TOKEN if extracted is None else extracted)
        if create:
            obj.save(update_fields=["token_encrypted"])


# ---- a listing to create on Reverb -------------------------------------------------------------------

EXCELLENT = "df268ad1-c462-4ba6-b6db-e007e23922ea"
BRAND_NEW = "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"


def new_listing(sku: str, **extra: Any) -> dict[str, Any]:
    """A valid create body: make, model, condition and price are what Reverb validates to save a draft;
    a category, a photo and shipping make it ready to publish (listings/readiness.py)."""
    from backoffice.reverb.client import money_object as client_money
    from emulator.generator.catalog import category_uuid

    return {
        "make": "Fender",
        "model": "Stratocaster",
        "sku": sku,
        "condition": {"uuid": EXCELLENT},
        "price": client_money("1299.00", "USD"),
        "categories": [{"uuid": category_uuid("Electric Guitars / Solid Body")}],
        "photos": [f"https://photos.example.com/{sku}.jpg"],
        "shipping": {
            "local": False,
            "rates": [{"region_code": "US_CON", "rate": client_money("40.00", "USD")}],
        },
        **extra,
    }


# ---- Reverb payloads and the listing and order mirrors ---------------------------------------------


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


# ---- the other mirrors -------------------------------------------------------------------------------


class _Mirror(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    account = factory.SubFactory(AccountFactory)
    reverb_id = factory.Sequence(lambda n: str(800000 + n))
    remote_created_at = factory.LazyFunction(timezone.now)
    remote_updated_at = factory.LazyFunction(timezone.now)
    raw = factory.LazyAttribute(lambda o: {"id": o.reverb_id})


class PaymentFactory(_Mirror):
    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory, account=factory.SelfAttribute("..account"))
    order_number = factory.LazyAttribute(lambda o: o.order.order_number)
    status = "succeeded"
    payment_method = "direct_checkout"
    amount = Decimal("110.00")
    currency = "USD"


class FeedbackFactory(_Mirror):
    class Meta:
        model = Feedback

    direction = "received"
    order = factory.SubFactory(OrderFactory, account=factory.SelfAttribute("..account"))
    order_number = factory.LazyAttribute(lambda o: o.order.order_number)
    rating = 5
    message = "Great seller"
    author_name = "A. Buyer"


class RefundRequestFactory(_Mirror):
    class Meta:
        model = RefundRequest

    order = factory.SubFactory(OrderFactory, account=factory.SelfAttribute("..account"))
    order_number = factory.LazyAttribute(lambda o: o.order.order_number)
    state = "pending_seller_response"
    amount = Decimal("50.00")
    currency = "USD"
    refund_type = "partial"
    reason = "not_as_described"
    initiated_by = "buyer"


class ConversationFactory(_Mirror):
    class Meta:
        model = Conversation

    subject = factory.Sequence(lambda n: f"Question {n}")
    other_party_name = "Curious Buyer"
    last_message_at = factory.LazyFunction(timezone.now)
    listing = factory.SubFactory(ListingFactory, account=factory.SelfAttribute("..account"))
    listing_reverb_id = factory.LazyAttribute(lambda o: o.listing.reverb_id)


class MessageFactory(_Mirror):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory, account=factory.SelfAttribute("..account"))
    conversation_reverb_id = factory.LazyAttribute(lambda o: o.conversation.reverb_id)
    body = factory.Sequence(lambda n: f"Is this still available? ({n})")
    sender_name = "Curious Buyer"
    sent_at = factory.LazyFunction(timezone.now)


class NegotiationFactory(_Mirror):
    class Meta:
        model = Negotiation

    state = "active"
    buyer_name = factory.Sequence(lambda n: f"Offerer {n}")
    offers_count = 1
    last_offered_price = Decimal("900.00")
    last_offered_total = Decimal("950.00")
    currency = "USD"
    actionable = True
    listing = factory.SubFactory(ListingFactory, account=factory.SelfAttribute("..account"))
    listing_reverb_id = factory.LazyAttribute(lambda o: o.listing.reverb_id)


class PayoutFactory(_Mirror):
    class Meta:
        model = Payout

    total = Decimal("1000.00")
    currency = "USD"


class PayoutLineItemFactory(_Mirror):
    class Meta:
        model = PayoutLineItem

    payout = factory.SubFactory(PayoutFactory, account=factory.SelfAttribute("..account"))
    payout_reverb_id = factory.LazyAttribute(lambda o: o.payout.reverb_id)
    order = factory.SubFactory(OrderFactory, account=factory.SelfAttribute("..account"))
    order_number = factory.LazyAttribute(lambda o: o.order.order_number)
    title = "Factory guitar"
    amount_total = Decimal("110.00")
    fees = Decimal("8.50")
    currency = "USD"
