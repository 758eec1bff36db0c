"""Inventory's logs go through the daily clean-up (backoffice/background/retention.py PURGES), with their
lengths in settings: idempotency keys a week, API call records and delivered events a month, given-up events
(replayable) three months; a delivery still waiting is never purged."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backoffice.background import retention
from inventory import tasks
from inventory.models import EventDelivery, EventEndpoint, IdempotentRequest, Integration, IntegrationCall
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _aged(model: Any, row: Any, days: int) -> Any:
    model.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days))
    return row


def test_the_defaults_are_the_lengths_inventory_kept(settings: Any) -> None:
    assert (
        settings.IDEMPOTENCY_KEY_RETENTION_DAYS,
        settings.INTEGRATION_CALL_RETENTION_DAYS,
        settings.DELIVERED_EVENT_RETENTION_DAYS,
        settings.FAILED_EVENT_RETENTION_DAYS,
    ) == (7, 30, 30, 90)


def test_old_keys_and_calls_go_recent_ones_stay() -> None:
    integration = Integration.objects.create(account=AccountFactory(), name="erp", key_id="k1", key_hash="x")

    def key(name: str, days: int) -> IdempotentRequest:
        row = IdempotentRequest.objects.create(
            integration=integration, key=name, body_hash="h", status_code=200, response={}
        )
        return _aged(IdempotentRequest, row, days)

    def call(days: int) -> IntegrationCall:
        row = IntegrationCall.objects.create(
            integration=integration, method="POST", path="/", status_code=200
        )
        return _aged(IntegrationCall, row, days)

    key("old", 8), call(31)
    young_key, young_call = key("young", 6), call(29)
    done = retention.purge_old_records()
    assert (done["idempotency keys"], done["stock API call records"]) == (1, 1)
    assert list(IdempotentRequest.objects.values_list("pk", flat=True)) == [young_key.pk]
    assert list(IntegrationCall.objects.values_list("pk", flat=True)) == [young_call.pk]


def _delivery(endpoint: EventEndpoint, status: str, days: int) -> EventDelivery:
    row = EventDelivery.objects.create(
        endpoint=endpoint, event="order.paid", event_id=uuid.uuid4().hex, payload={}, status=status
    )
    return _aged(EventDelivery, row, days)


def test_delivered_events_go_after_a_month_given_up_ones_stay_replayable_waiting_ones_stay() -> None:
    endpoint = EventEndpoint.objects.create(name="hook", url="https://example.com/hook")
    status = EventDelivery.Status
    _delivery(endpoint, status.DELIVERED, 31), _delivery(endpoint, status.FAILED, 91)
    kept = {
        _delivery(endpoint, status.DELIVERED, 29).pk,
        _delivery(endpoint, status.FAILED, 89).pk,  # still replayable from its admin
        _delivery(endpoint, status.PENDING, 400).pk,  # waiting: events.expire_old gives it up first
    }
    done = retention.purge_old_records()
    assert (done["delivered events"], done["given-up events"]) == (1, 1)
    assert set(EventDelivery.objects.values_list("pk", flat=True)) == kept


def test_the_settings_set_the_lengths_and_zero_keeps(settings: Any) -> None:
    settings.FAILED_EVENT_RETENTION_DAYS = 10
    settings.DELIVERED_EVENT_RETENTION_DAYS = 0
    endpoint = EventEndpoint.objects.create(name="hook", url="https://example.com/hook")
    _delivery(endpoint, EventDelivery.Status.FAILED, 11)
    kept = _delivery(endpoint, EventDelivery.Status.DELIVERED, 5000)
    done = retention.purge_old_records()
    assert (done["delivered events"], done["given-up events"]) == (0, 1)
    assert list(EventDelivery.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_minute_tick_deletes_nothing(settings: Any) -> None:
    """The one clean-up is the daily one: the tick no longer purges on its own with its own lengths."""
    settings.WORKER_BACKEND = "none"
    endpoint = EventEndpoint.objects.create(name="hook", url="https://example.com/hook")
    _delivery(endpoint, EventDelivery.Status.DELIVERED, 31)
    tasks.tick()
    assert EventDelivery.objects.count() == 1
