"""Mass sync as a bulk job: one item per top-level resource, single-flight per account.

`start_mass_sync(account, user=...)` refuses (JobAlreadyRunning, carrying the running job) while another
mass sync of the account is queued or running; the database's partial unique constraint backs that up
against two requests racing. The handler pulls one resource through the sync engine; a pull is
idempotent (upsert with hash-skip), so an item resumed after a crash simply runs again.
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from backoffice.background.jobs import ItemSpec, Outcome, create_job
from backoffice.models import BulkJob, BulkJobItem
from backoffice.sync import registry
from backoffice.sync.runner import AccountDisabled, sync_resource

KIND = "backoffice.mass_sync"


def start_mass_sync(
    account: Any, *, user: Any = None, full: bool = True, backend: str | None = None
) -> BulkJob:
    """Create the account's mass sync job (one item per resource); it starts once the transaction
    commits. Raises JobAlreadyRunning if one is already queued or running, AccountDisabled if the
    account is disabled."""
    if not account.enabled:
        raise AccountDisabled(f"account {account.name!r} is disabled; it is never synced")
    items = [ItemSpec(key=name, label=name.replace("_", " ").capitalize()) for name in registry.order()]
    scope = "full" if full else "changes since the last sync"
    return create_job(
        KIND,
        title=f"Mass sync of {account.name} ({scope})",
        items=items,
        account=account,
        user=user,
        params={"full": full},
        single_flight=True,
        backend=backend,
    )


def _run_url(run_pk: int) -> str:
    try:
        return reverse("admin:backoffice_syncrun_change", args=[run_pk])
    except NoReverseMatch:  # pragma: no cover - the SyncRun admin is always registered
        return ""


def sync_one_resource(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    """Pull one resource. Safe to repeat after a crash (resumed): pulls only write what Reverb says."""
    account = job.account
    if account is None:
        return Outcome.failed("The job has no account.")
    run = sync_resource(account, item.key, full=bool(job.params.get("full", True)))
    again = " (run again after an interrupted attempt)" if resumed else ""
    counts = (
        f"{run.fetched} fetched, {run.created} created, {run.updated} updated, "
        f"{run.unchanged} unchanged, {run.missing} marked missing, {run.failed} failed, "
        f"{run.requests} requests"
    )
    result = {
        "sync_run": run.pk,
        "url": _run_url(run.pk),
        "fetched": run.fetched,
        "created": run.created,
        "updated": run.updated,
        "missing": run.missing,
        "failed": run.failed,
    }
    if run.error:
        return Outcome.failed(f"{run.error} ({counts}){again}", **result)
    return Outcome.ok(f"{counts}{again}", **result)


# Registered by the app's AppConfig.ready() (backoffice/background/jobs.py register_job_handlers).
JOB_HANDLERS = {
    KIND: sync_one_resource,
}
