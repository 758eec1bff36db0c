"""Bulk-job handlers of automation (registered by AutomationConfig.ready): the price edit's one job."""

from __future__ import annotations

from decimal import Decimal

from backoffice.background.jobs import Outcome
from backoffice.models import BulkJob, BulkJobItem
from listings.models import Listing

from .prices import JOB_KIND, set_and_push


def change_price(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    listing = Listing.objects.select_related("account").filter(pk=item.key).first()
    if listing is None:
        return Outcome.skipped("Listing no longer in the mirror.")
    new = Decimal(item.params["new"])
    if resumed and listing.price == new:
        return Outcome.ok("Already at the new price.")
    return set_and_push(listing, Decimal(item.params["old"]), new, actor=job.started_by, job=job)


JOB_HANDLERS = {JOB_KIND: change_price}
