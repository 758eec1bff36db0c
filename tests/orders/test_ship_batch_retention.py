"""A bulk-ship batch only stops its confirmation (signed for PREVIEW_MAX_AGE) from being posted twice: the
daily clean-up deletes it after a day; its job stays as long as jobs do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.background import retention
from backoffice.models import BulkJob
from orders.models import ShipBatch
from orders.views import PREVIEW_MAX_AGE

pytestmark = pytest.mark.django_db


def test_spent_ship_batches_go_after_a_day_recent_ones_and_their_jobs_stay() -> None:
    assert PREVIEW_MAX_AGE < 24 * 3600  # the form a batch guards cannot be posted any more
    job = BulkJob.objects.create(kind="x", title="ship", state=BulkJob.State.SUCCEEDED)
    old = ShipBatch.objects.create(token="old", job=job)
    ShipBatch.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    recent = ShipBatch.objects.create(token="recent")
    assert retention.purge_old_records()["bulk-ship batches"] == 1
    assert list(ShipBatch.objects.values_list("pk", flat=True)) == [recent.pk]
    assert BulkJob.objects.filter(pk=job.pk).exists()
