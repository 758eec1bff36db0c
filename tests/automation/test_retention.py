"""What the rules decided is a record of who did what: kept AUDIT_RETENTION_DAYS, then purged by the daily
clean-up; a plan or a price change still waiting for a person is never purged, nor a listing's last price
change (the stale-stock rule's memory of its first price)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from automation.models import Mode, PlannedAction, PriceChange, StaleStockRule
from backoffice.background import retention
from tests.factories import AccountFactory, ListingFactory, NegotiationFactory

pytestmark = pytest.mark.django_db


def test_decided_plans_go_after_the_audit_retention_waiting_and_recent_ones_stay(settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 365
    account = AccountFactory()
    negotiation = NegotiationFactory(account=account, state="accepted", offers_count=9)
    still_open = NegotiationFactory(account=account, state="active", offers_count=1)
    status = PlannedAction.Status

    def plan(number: int, state: str, days: int, on: Any = negotiation) -> PlannedAction:
        row = PlannedAction.objects.create(
            account=account,
            negotiation=on,
            offer_number=number,
            verb="decline",
            reason="r",
            mode=Mode.PLAN,
            status=state,
        )
        PlannedAction.objects.filter(pk=row.pk).update(created=timezone.now() - timedelta(days=days))
        return row

    plan(1, status.SENT, 366), plan(2, status.STALE, 366), plan(3, status.DISMISSED, 366)
    kept = {
        plan(4, status.PLANNED, 366).pk,  # waits for a person
        plan(5, status.FAILED, 364).pk,  # recent
        plan(1, status.SENT, 366, on=still_open).pk,  # says its still open offer was answered
    }
    assert retention.purge_old_records()["decided offer plans"] == 3
    assert set(PlannedAction.objects.values_list("pk", flat=True)) == kept


def test_old_price_changes_go_but_a_listings_last_and_the_planned_ones_stay(settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 365
    account = AccountFactory()
    rule = StaleStockRule.objects.create(
        account=account, name="stale", mode=Mode.ACT, percent=Decimal("10"), floor_percent=Decimal("50")
    )
    listing, other = ListingFactory(account=account), ListingFactory(account=account)

    def change(on: Any, state: str, days: int) -> PriceChange:
        row = PriceChange.objects.create(
            rule=rule,
            listing=on,
            old_price=Decimal("100"),
            new_price=Decimal("90"),
            first_price=Decimal("200"),
            status=state,
        )
        PriceChange.objects.filter(pk=row.pk).update(created=timezone.now() - timedelta(days=days))
        return row

    status = PriceChange.Status
    change(listing, status.SENT, 500), change(listing, status.FAILED, 400)
    kept = {
        change(listing, status.SENT, 366).pk,  # its listing's last: the rule's memory of the first price
        change(other, status.PLANNED, 600).pk,  # waits for a person
        change(other, status.SENT, 10).pk,  # recent
    }
    assert retention.purge_old_records()["price changes"] == 2
    assert set(PriceChange.objects.values_list("pk", flat=True)) == kept
