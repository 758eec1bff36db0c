"""A two-shop install for the scope tests (issue 24): each shop's rows carry its own tag in every name,
title and order number (and the shop's name), so a page or a message that shows another shop's rows shows
its tag. `seed` adds the rows a pull does not make (rules, jobs, reports, stock, endpoints), so their
admins and filters have something to leak."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Concat, Left

from backoffice.access import account_path
from backoffice.models import ReverbAccount
from backoffice.roles import OUR_APPS

A_TAG = "Zanzibar"  # shop A: what a member of shop B only must never see
B_TAG = "Yellowknife"  # shop B: what a user of no shop must never see either

# Text columns that name a person, an item, an order or a shop's own setup.
MARKED = {
    "buyer_name",
    "title",
    "other_party_name",
    "sender_name",
    "author_name",
    "subject",
    "body",
    "object_label",
    "note_to_buyer",
    "name",
    "label",
    "message",
    "decline_message",
    "local_name",
    "shop_sku",
    "source_detail",
}


def seed(account: ReverbAccount, tag: str) -> None:
    """One row of each kind a pull does not make, for `account`."""
    from automation.demo import setup_demo
    from automation.models import Holiday, PlannedAction, PriceChange, SavedReply, StaleStockRule
    from backoffice.models import (
        ApiCall,
        BulkJob,
        BulkJobItem,
        ReconciliationFinding,
        ReconciliationReport,
        SyncLogEntry,
        WebhookDelivery,
    )
    from inventory.models import (
        EventDelivery,
        EventEndpoint,
        Integration,
        StockFeed,
        StockIntent,
        StockSyncEntry,
    )
    from listings.models import Listing
    from messaging.models import Negotiation, OfferPolicy
    from orders.models import Order, ShippingProviderMapping, SkuMapping
    from payouts.models import FeeSchedule

    setup_demo(account)  # the offer rule and the digest settings
    OfferPolicy.objects.get_or_create(account=account)
    FeeSchedule.objects.get_or_create(account=account)
    stale = StaleStockRule.objects.create(
        account=account, name="stale stock", percent=Decimal("5"), floor_percent=Decimal("70")
    )
    Holiday.objects.create(account=account, date=date(2026, 12, 25), name="closed")
    SavedReply.objects.create(account=account, name="thanks", body="Thank you for your message.")
    listing = Listing.objects.filter(account=account).order_by("pk").first()
    order = Order.objects.filter(account=account).order_by("pk").first()
    negotiation = Negotiation.objects.filter(account=account).order_by("pk").first()
    assert listing and order and negotiation, "the shop has listings, orders and offers"
    PlannedAction.objects.get_or_create(
        negotiation=negotiation,
        offer_number=negotiation.offers_count or 1,
        defaults={
            "account": account,
            "verb": "decline",
            "reason": "scope test",
            "mode": "plan",
            "message": "We cannot accept this offer.",
        },
    )
    PriceChange.objects.create(
        rule=stale,
        listing=listing,
        old_price=Decimal("100"),
        new_price=Decimal("95"),
        first_price=Decimal("100"),
    )
    Integration.objects.create(account=account, name="erp", key_id=f"k-{uuid.uuid4().hex[:8]}", key_hash="x")
    StockIntent.objects.create(
        account=account, listing=listing, sku=listing.sku or "sku", quantity=1, source="person"
    )
    StockFeed.objects.create(account=account, name="warehouse feed")
    endpoint = EventEndpoint.objects.create(account=account, name="hook", url="https://example.com/hook")
    EventDelivery.objects.create(
        endpoint=endpoint,
        event="order.paid",
        event_id=uuid.uuid4().hex,
        payload={"order_number": order.order_number, "buyer_name": f"{tag} payload"},
        last_error=f"{tag} receiver down",
    )
    StockSyncEntry.objects.create(account=account, resource="stock.in", status="failed", message="bad")
    SyncLogEntry.objects.create(account=account, resource="orders", status="failed", message="bad")
    report = ReconciliationReport.objects.create(account=account, state="attention")
    ReconciliationFinding.objects.create(
        report=report,
        resource="orders",
        object_key=order.reverb_id,
        object_label="order",
        action=ReconciliationFinding.Action.LEFT_FOR_PERSON,
        reason=f"{tag}: changed on both sides",
    )
    job = BulkJob.objects.create(kind="test.nothing", title="a job", account=account, total=1)
    BulkJobItem.objects.create(job=job, position=0, key=str(order.pk), label="order")
    ApiCall.objects.create(
        account=account,
        action="ship",
        target_type="order",
        target_key=order.reverb_id,
        message=f"{tag}: shipped",
    )
    WebhookDelivery.objects.create(account=account, topic="orders/updated", body=f'{{"note": "{tag}"}}')
    ShippingProviderMapping.objects.create(account=account, local_name="carrier", provider="UPS")
    SkuMapping.objects.create(account=account, reverb_sku=listing.sku or "sku", shop_sku="shelf")
    # Background tasks of the shop: rows that name no account, their result names the shop.
    from django.utils import timezone
    from django_q.models import OrmQ, Task
    from django_q.signing import SignedPackage

    now = timezone.now()
    for success in (True, False):
        Task.objects.create(
            id=uuid.uuid4().hex,
            name=f"{tag}-task-{success}",
            func="backoffice.background.tasks.sync_account_task",
            args=(account.pk,),
            result=f"{tag} Music: 3 pulled",
            started=now,
            stopped=now,
            success=success,
        )
    package = {"id": uuid.uuid4().hex, "name": f"{tag}-queued", "func": "x", "args": (account.pk,)}
    OrmQ.objects.create(key="default", payload=SignedPackage.dumps(package), lock=now)


def mark(account: ReverbAccount, tag: str) -> None:
    """Put `tag` in the shop's name and in every MARKED column and order number of its rows."""
    ReverbAccount.objects.filter(pk=account.pk).update(name=f"{tag} Music")
    account.refresh_from_db()
    for model in apps.get_models():
        path = account_path(model)
        if model._meta.app_label not in OUR_APPS or path is None or model is ReverbAccount:
            continue
        changes: dict[str, Any] = {}
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField) or field.choices:
                continue
            if field.name in MARKED:
                changes[field.name] = Concat(Value(f"{tag} "), F(field.name))
            elif field.name == "order_number":  # kept joinable: every row of the shop gets the same prefix
                changes[field.name] = Concat(Value(tag), F(field.name))
            else:
                continue
            if isinstance(field, models.CharField) and field.max_length:
                changes[field.name] = Left(changes[field.name], field.max_length)
        if changes:
            model._base_manager.filter(**{path: account.pk}).update(**changes)
