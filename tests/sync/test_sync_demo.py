"""End to end: sync the emulator's seeded shop and compare mirror == emulator for every resource."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.sync.runner import sync_account
from emulator import core
from emulator.guesses import VARIANTS
from listings.models import Listing
from messaging.models import Conversation, Message, Negotiation
from orders.models import Feedback, Order, Payment
from payouts.models import Payout, PayoutLineItem
from refunds.models import RefundRequest
from tests.factories import AccountFactory
from tests.sync.test_engine import writes

pytestmark = pytest.mark.django_db


def amount(money):
    return Decimal(money["amount"]) if money else None


def mirror(model, *fields):
    return {row[0]: row[1:] for row in model.objects.filter(missing=False).values_list("reverb_id", *fields)}


def payout_key(payload):
    return re.search(r"/payouts/([^/]+)/line_items", payload["_links"]["line_items"]["href"]).group(1)


def assert_mirror_matches(emulator):
    def state(name):
        return emulator.state(name)[name]

    assert mirror(Listing, "sku", "state", "price", "inventory") == {
        str(x["id"]): (x["sku"], x["state"]["slug"], amount(x["price"]), x["inventory"])
        for x in state("listings")
    }
    assert mirror(Order, "status", "amount_total", "buyer_name", "product_id") == {
        # an order cancelled before payment has no total (API-NOTES 16.2.3)
        x["order_number"]: (x["status"], amount(x.get("total")), x["buyer_name"], x["product_id"])
        for x in state("orders")
    }
    assert mirror(Payment, "order_number", "amount") == {
        str(x["id"]): (x["order_number"], amount(x["amount"])) for x in state("payments")
    }
    assert mirror(Feedback, "rating", "order_number") == {
        str(x["id"]): (x["rating"], x["order_number"]) for x in state("feedback")
    }
    assert mirror(RefundRequest, "state", "amount", "order_number") == {
        str(x["id"]): (x["state"], amount(x["amount"]), x["order"]["order_number"])
        for x in state("refund_requests")
    }
    assert mirror(Conversation, "unread", "other_party_name") == {
        str(x["id"]): (x["unread"], x["other_party"]["name"]) for x in state("conversations")
    }
    assert mirror(Message, "conversation_reverb_id", "body") == {
        str(m["id"]): (str(c["id"]), m["body"]) for c in state("conversations") for m in c["messages"]
    }
    # /my/listings/negotiations lists active negotiations only (API-NOTES 10.1).
    assert mirror(Negotiation, "state", "last_offered_price") == {
        str(x["id"]): (x["state"], amount(x["last_offered_price"]["original"]))
        for x in state("negotiations")
        if x["state"] == "active"
    }
    assert mirror(Payout, "total") == {payout_key(x): (amount(x["total"]),) for x in state("payouts")}
    assert mirror(PayoutLineItem, "order_number", "amount_total") == {
        f"{re.search(r'/payouts/([^/]+)/', x['_links']['payout']['href']).group(1)}:{x['order_number']}": (
            x["order_number"],
            amount(x["total"]),
        )
        for x in state("line_items")
    }


def test_demo_shop_sync_mirrors_the_emulator_then_writes_nothing(emulator):
    account = AccountFactory()
    runs = sync_account(account)
    assert [r.status for r in runs] == ["success"] * 8, [(r.resource, r.error) for r in runs]
    assert all(r.fetched for r in runs), [r.summary() for r in runs]
    assert_mirror_matches(emulator)

    # Links where Reverb links objects; none invented.
    assert (
        Order.objects.filter(listing__isnull=False).count()
        == Order.objects.filter(product_id__in=Listing.objects.values("reverb_id")).count()
        > 0
    )
    assert not RefundRequest.objects.filter(order__isnull=True).exists()
    assert not Message.objects.filter(conversation__isnull=True).exists()
    assert not PayoutLineItem.objects.filter(payout__isnull=True).exists()

    with CaptureQueriesContext(connection) as ctx:
        again = sync_account(account)
    assert writes(ctx.captured_queries) == []
    assert sum(r.created + r.updated + r.missing + r.failed for r in again) == 0
    assert all(r.children == [] for r in again)  # no detail/line-item fetches for unchanged parents


@pytest.mark.parametrize("variant", VARIANTS)
def test_guessed_shapes_mirror_in_either_variant(emulator, variant):
    """Conversations, messages, payments and payout line items have no live source (API-NOTES 16.6):
    the sync must mirror the emulator's second plausible shape of each as well as its first."""
    emulator.variant = variant
    account = AccountFactory()
    runs = sync_account(account)
    assert [r.status for r in runs] == ["success"] * 8, [(r.resource, r.error) for r in runs]
    store = emulator.store
    assert mirror(Payment, "order_number") == {
        str(p["id"]): (p["order_number"],) for p in store.table("payments").values()
    }
    assert mirror(Message, "body") == {
        str(m["id"]): (m["body"],) for c in store.table("conversations").values() for m in c["messages"]
    }
    assert mirror(Conversation, "other_party_name") == {
        str(c["id"]): (f"{c['buyer']['first_name']} {c['buyer']['last_name']}",)
        for c in store.table("conversations").values()
    }
    assert sorted(PayoutLineItem.objects.values_list("order_number", flat=True)) == sorted(
        li["order_number"] for li in store.table("line_items").values()
    )
    assert not PayoutLineItem.objects.filter(fees__isnull=True).exists()


def test_incremental_sync_picks_up_remote_changes(emulator):
    account = AccountFactory()
    sync_account(account)
    order = emulator.state("orders")["orders"][0]
    with emulator.lock:
        core.SIMULATIONS["order_changed"](
            emulator, {"order_number": order["order_number"], "status": "received"}
        )
        core.SIMULATIONS["message"](emulator, {"body": "Do you ship to Canada?"})
    runs = {r.resource: r for r in sync_account(account, ["orders", "conversations"])}
    assert runs["orders"].since is not None and runs["orders"].updated == 1
    assert runs["conversations"].created == 1 and runs["conversations"].children[0].created == 1
    assert Order.objects.get(order_number=order["order_number"]).status == "received"
    assert_mirror_matches(emulator)


def test_reverb_sync_command(emulator, capsys):
    account = AccountFactory(name="demo")
    call_command("reverb_sync", "--account", "demo", "--resource", "listings", "orders")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("demo listings: fetched=") and out[0].endswith(" ok")
    assert out[1].startswith("demo orders: fetched=")
    assert "requests=1" in out[1]
    account.enabled = False
    account.save()
    with pytest.raises(CommandError, match="disabled"):
        call_command("reverb_sync", "--account", "demo")


def test_sync_with_faults_still_mirrors_the_shop(emulator, monkeypatch):
    from backoffice.reverb.client import ReverbClient
    from emulator.faults import Faults

    monkeypatch.setattr(ReverbClient, "_delay", staticmethod(lambda attempt, error: 0.0))
    emulator.faults = Faults(rate_5xx=0.25, rate_429=0.1, retry_after=0, seed=7)
    account = AccountFactory()
    runs = sync_account(account)
    assert all(r.ok for r in runs), [(r.resource, r.error) for r in runs]
    emulator.faults = Faults()
    assert_mirror_matches(emulator)
