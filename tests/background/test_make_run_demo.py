"""`make run` restarts the emulator from its seed: the demo account's mirror is reset with it, and the
console says so."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backoffice.management.commands.run_backoffice import AFTER_EMULATOR_STEPS, Run, fresh_demo_mirror
from backoffice.models import ApiCall, SyncRun
from listings.models import Listing
from messaging.models import Conversation
from orders.models import Order
from tests.factories import (
    AccountFactory,
    ConversationFactory,
    ListingFactory,
    MessageFactory,
    OrderFactory,
    PayoutFactory,
    PayoutLineItemFactory,
    RefundRequestFactory,
)

pytestmark = pytest.mark.django_db


def test_the_demo_mirror_is_reset_with_the_emulator_and_the_console_says_so(settings) -> None:
    settings.WORKER_BACKEND = "none"
    demo, other = AccountFactory(name="demo"), AccountFactory(name="real shop")
    for account in (demo, other):
        order = OrderFactory(account=account)
        ListingFactory(account=account)
        RefundRequestFactory(account=account)
        MessageFactory(account=account, conversation=ConversationFactory(account=account))
        PayoutLineItemFactory(account=account, payout=PayoutFactory(account=account), order=order)
        SyncRun.objects.create(account=account, resource="orders", started_at=timezone.now())
    ApiCall.objects.create(account=demo, action="orders.ship")
    run = Run(host="127.0.0.1", port=8000, emulator_port=8765, emulator_running=True)
    fresh_demo_mirror(run)
    assert (
        not Order.objects.filter(account=demo).exists() and not Listing.objects.filter(account=demo).exists()
    )
    assert not Conversation.objects.filter(account=demo).exists()
    assert not SyncRun.objects.filter(account=demo).exists()
    assert Order.objects.filter(account=other).exists() and SyncRun.objects.filter(account=other).exists()
    assert ApiCall.objects.filter(account=demo).exists()  # the audit trail stays
    assert run.notes and "cleared" in run.notes[0] and "agree" in run.notes[0]
    assert fresh_demo_mirror in [step for _, step in AFTER_EMULATOR_STEPS]


def test_nothing_is_cleared_without_the_emulator() -> None:
    demo = AccountFactory(name="demo")
    OrderFactory(account=demo)
    fresh_demo_mirror(Run(host="127.0.0.1", port=8000, emulator_port=8765, emulator_running=False))
    assert Order.objects.filter(account=demo).exists()
