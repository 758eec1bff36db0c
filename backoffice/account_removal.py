"""Removing a Reverb account from the back office (`manage.py reverb_account remove`): what it deletes,
whether work still runs for it, and the deletion itself. Nothing changes on Reverb.

The mirrors and the audit trail point at their account with PROTECT, so an account is never deleted by a
stray cascade; removing it on purpose deletes those rows first, then the account (everything else of the
account goes by its CASCADE)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.db import models, router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone

from backoffice.models import BulkJob, ReconciliationReport, ReverbAccount, SyncRun

# A pull or a night's chunk marked running but silent this long lost its worker: it does not hold a removal.
STALE_AFTER = timedelta(hours=1)


def protected_links() -> list[tuple[type[models.Model], str]]:
    """(model, field name) of every PROTECT-ed foreign key to ReverbAccount (mirror models, ApiCall)."""
    return [(rel.related_model, rel.field.name) for rel in reverse_links() if rel.on_delete is models.PROTECT]


def reverse_links() -> list[Any]:
    """Every foreign key to ReverbAccount, as its reverse relation (mirrors' `related_name="+"` included)."""
    fields = ReverbAccount._meta.get_fields(include_hidden=True)
    return [f for f in fields if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)]


def _protected_by_account(field: Any) -> bool:
    return field.remote_field.on_delete is models.PROTECT and field.remote_field.model is ReverbAccount


class _PlanCollector(Collector):
    """Django's deletion collector, with the PROTECT-ed rows of the account collected as roots of their own
    (as `remove` deletes them first): the account's own collect then does not refuse on them."""

    def related_objects(self, related_model: Any, related_fields: Any, objs: Any) -> Any:
        rows = super().related_objects(related_model, related_fields, objs)
        return rows.none() if all(_protected_by_account(f) for f in related_fields) else rows


def removal_plan(account: ReverbAccount) -> dict[str, int]:
    """{model label: rows} that removing the account deletes (the account itself included), largest first."""
    collector = _PlanCollector(using=router.db_for_write(ReverbAccount))
    for model, field in protected_links():
        collector.collect(model._base_manager.filter(**{field: account}))
    collector.collect([account])
    # A row can be reached twice (a message by its conversation and by its own account): count keys once.
    keys: dict[str, set[Any]] = {}
    for model, instances in collector.data.items():
        keys.setdefault(model._meta.label, set()).update(obj.pk for obj in instances)
    for qs in collector.fast_deletes:
        keys.setdefault(qs.model._meta.label, set()).update(qs.values_list("pk", flat=True))
    counts = Counter({label: len(pks) for label, pks in keys.items()})
    return {label: n for label, n in counts.most_common() if n}


def running_work(account: ReverbAccount) -> list[str]:
    """What still runs for the account (a removal under it would fail it halfway): bulk jobs queued or
    running, pulls and a reconciliation that are running and were heard from within STALE_AFTER."""
    recent = timezone.now() - STALE_AFTER
    jobs = BulkJob.objects.filter(account=account, state__in=BulkJob.ACTIVE).count()
    pulls = SyncRun.objects.filter(
        account=account, status=SyncRun.Status.RUNNING, started_at__gte=recent
    ).count()
    nights = (
        ReconciliationReport.objects.filter(account=account, state=ReconciliationReport.State.RUNNING)
        .filter(models.Q(last_chunk_at__gte=recent) | models.Q(started_at__gte=recent))
        .count()
    )
    what = [(jobs, "bulk job(s) queued or running"), (pulls, "pull(s) running"), (nights, "reconciliation")]
    return [f"{n} {label}" for n, label in what if n]


class WorkRunning(Exception):
    """The account still has work running; the message says which."""


def remove_account(account: ReverbAccount) -> dict[str, int]:
    """Delete the account and everything of it, in one transaction, with its row locked (no new work starts
    for it meanwhile); refuses with WorkRunning while work runs. Returns {model label: rows deleted}."""
    deleted: Counter[str] = Counter()
    with transaction.atomic():
        locked = ReverbAccount.objects.select_for_update().get(pk=account.pk)
        busy = running_work(locked)
        if busy:
            raise WorkRunning(", ".join(busy))
        for model, field in protected_links():
            deleted.update(model._base_manager.filter(**{field: locked}).delete()[1])
        deleted.update(locked.delete()[1])
    return {label: n for label, n in deleted.most_common() if n}
