"""Fixtures for the admin tests: one account and a factory per mirror model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import models

from backoffice.models import ReverbAccount
from tests.factories import (
    AccountFactory,
    ConversationFactory,
    FeedbackFactory,
    ListingFactory,
    MessageFactory,
    NegotiationFactory,
    OrderFactory,
    PaymentFactory,
    PayoutFactory,
    PayoutLineItemFactory,
    RefundRequestFactory,
)

FACTORIES: dict[str, Any] = {
    "listings.listing": ListingFactory,
    "orders.order": OrderFactory,
    "orders.payment": PaymentFactory,
    "orders.feedback": FeedbackFactory,
    "refunds.refundrequest": RefundRequestFactory,
    "messaging.conversation": ConversationFactory,
    "messaging.message": MessageFactory,
    "messaging.negotiation": NegotiationFactory,
    "payouts.payout": PayoutFactory,
    "payouts.payoutlineitem": PayoutLineItemFactory,
}


def admin_url(label: str, view: str, *args: Any) -> str:
    from django.urls import reverse

    app, model = label.split(".")
    return reverse(f"admin:{app}_{model}_{view}", args=args)


@pytest.fixture
def account(db: None) -> ReverbAccount:
    return AccountFactory(name="main-shop")


@pytest.fixture
def make() -> Callable[..., models.Model]:
    def _make(label: str, **kwargs: Any) -> models.Model:
        return FACTORIES[label](**kwargs)

    return _make
