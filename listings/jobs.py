"""Bulk-job handlers (backoffice/background/jobs.py) for listing actions on many listings and the CSV import.

Each item's key is the Listing pk (the CSV import: the row's SKU). A resumed item re-reads through the
service itself: publish/end/delete check the listing's state first, and create looks the SKU up first.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from backoffice.actions import ActionError, Done
from backoffice.background.jobs import Outcome
from backoffice.models import BulkJob, BulkJobItem, ReverbAccount, SyncLogEntry

from . import costs, services
from .models import Listing


def _run(job: BulkJob, item: BulkJobItem, act: Callable[[Listing, Any], Done]) -> Outcome:
    listing = Listing.objects.select_related("account").filter(pk=item.key).first()
    if listing is None:
        return Outcome.skipped("Listing no longer in the mirror.")
    try:
        done = act(listing, job.started_by)
    except ActionError as exc:
        return (Outcome.skipped if exc.refused else Outcome.failed)(
            exc.message, field_errors=exc.field_errors
        )
    return Outcome.ok(done.message)


def push_one(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    return _run(job, item, lambda listing, actor: services.push_listing(listing, actor=actor, job=job))


def publish_one(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    return _run(job, item, lambda listing, actor: services.publish_listing(listing, actor=actor, job=job))


def end_one(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    reason = job.params.get("reason", "not_sold")
    if resumed:  # the end may have landed before the worker died: look before sending it again
        listing = Listing.objects.filter(pk=item.key).first()
        if listing is not None:
            services.reread(listing)
    return _run(
        job, item, lambda listing, actor: services.end_listing(listing, actor=actor, reason=reason, job=job)
    )


def delete_one(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    return _run(job, item, lambda listing, actor: services.delete_draft(listing, actor=actor, job=job))


def import_row(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    """One CSV row: create (or update the SKU's listing) and write the row's result to the sync log."""
    account = ReverbAccount.objects.get(pk=job.params["account_id"])
    sku = item.key
    try:
        done = services.create_listing(account, item.params["payload"], actor=job.started_by, job=job)
    except ActionError as exc:
        SyncLogEntry.objects.create(
            account=account,
            resource="listings.csv_import",
            sku=sku[:255],
            status=SyncLogEntry.Status.FAILED,
            message=f"row {item.params.get('row')}: {exc.message}",
            field_errors=exc.field_errors,
            raw=item.params["payload"],
        )
        return Outcome.failed(exc.message, field_errors=exc.field_errors)
    listing = done.obj
    if listing is not None and item.params.get("cost") is not None:  # an empty cell keeps the cost
        costs.set_cost(listing, Decimal(item.params["cost"]))
    SyncLogEntry.objects.create(
        account=account,
        resource="listings.csv_import",
        sku=sku[:255],
        reverb_id=listing.reverb_id if listing else "",
        web_url=(listing.web_url if listing else "")[:500],
        status=SyncLogEntry.Status.SUCCESS,
        message=f"row {item.params.get('row')}: {done.message}",
    )
    return Outcome.ok(done.message, reverb_id=listing.reverb_id if listing else "")


# Registered by the app's AppConfig.ready() (backoffice/background/jobs.py register_job_handlers).
JOB_HANDLERS = {
    "listings.push": push_one,
    "listings.publish": publish_one,
    "listings.end": end_one,
    "listings.delete_draft": delete_one,
    "listings.csv_import": import_row,
}
