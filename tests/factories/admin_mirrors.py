"""Factories for the mirrors tests/factories/mirrors.py does not cover yet (admin tests).
Listing and Order come from mirrors.py; every factory here hangs its row on one ReverbAccount."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from messaging.models import Conversation, Message, Negotiation
from orders.models import Feedback, Payment
from payouts.models import Payout, PayoutLineItem
from refunds.models import RefundRequest
from tests.factories.accounts import AccountFactory
from tests.factories.mirrors import ListingFactory, OrderFactory

__all__ = [
    "ConversationFactory",
    "FeedbackFactory",
    "ListingFactory",
    "MessageFactory",
    "NegotiationFactory",
    "OrderFactory",
    "PaymentFactory",
    "PayoutFactory",
    "PayoutLineItemFactory",
    "RefundRequestFactory",
]


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
