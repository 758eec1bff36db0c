"""What inventory keeps of its logs, purged by the daily clean-up (backoffice/background/retention.py, added
to its PURGES from plugins.py; settings in days, 0 keeps forever):

- IDEMPOTENCY_KEY_RETENTION_DAYS: the first answer to an Idempotency-Key (a client retries within minutes; a
  claim being answered is in its request's transaction, not yet visible here);
- INTEGRATION_CALL_RETENTION_DAYS: the records of the stock API's calls;
- DELIVERED_EVENT_RETENTION_DAYS / FAILED_EVENT_RETENTION_DAYS: outbound event deliveries once delivered, or
  given up (replayable from their admin until then), counted from the event. A pending one is never purged:
  inventory/events.py gives it up after EVENT_RETENTION_DAYS.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from backoffice.background.retention import Purge, older_than

from .models import EventDelivery, IdempotentRequest, IntegrationCall


def old_idempotency_keys(now: datetime) -> QuerySet[IdempotentRequest] | None:
    return older_than(now, "IDEMPOTENCY_KEY_RETENTION_DAYS", IdempotentRequest.objects.all(), "created_at")


def old_integration_calls(now: datetime) -> QuerySet[IntegrationCall] | None:
    return older_than(now, "INTEGRATION_CALL_RETENTION_DAYS", IntegrationCall.objects.all(), "created_at")


def old_delivered_events(now: datetime) -> QuerySet[EventDelivery] | None:
    delivered = EventDelivery.objects.filter(status=EventDelivery.Status.DELIVERED)
    return older_than(now, "DELIVERED_EVENT_RETENTION_DAYS", delivered, "created_at")


def old_failed_events(now: datetime) -> QuerySet[EventDelivery] | None:
    given_up = EventDelivery.objects.filter(status=EventDelivery.Status.FAILED)
    return older_than(now, "FAILED_EVENT_RETENTION_DAYS", given_up, "created_at")


PURGES = (
    Purge("idempotency keys", old_idempotency_keys),
    Purge("stock API call records", old_integration_calls),
    Purge("delivered events", old_delivered_events),
    Purge("given-up events", old_failed_events),
)
