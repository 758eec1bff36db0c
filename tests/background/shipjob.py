"""A bulk job handler that ships orders on Reverb, for the crash proof (kind = this module's path, so a
worker process imports this module, which registers it).

The rule every write handler follows: when `resumed` (a worker died while handling the item), re-read
Reverb first; if the write already happened, record it as done instead of sending it again.
CRASH_TEST_PAUSE_AFTER_WRITE (seconds) makes the worker sleep after the write and before the runner records
the item, so the test can kill it exactly there.
"""

from __future__ import annotations

import os
import time

from backoffice.background.jobs import Outcome, register_job_handlers
from backoffice.models import BulkJob, BulkJobItem

KIND = "tests.background.shipjob"


def ship(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    client = job.account.client()
    if resumed:
        order = client.get_order(item.key)
        if order.get("shipped_at") or order.get("status") == "shipped":
            return Outcome.ok("Already shipped (found on Reverb after an interrupted attempt).", resumed=True)
    client.ship_order(
        item.key, provider="UPS", tracking_number=item.params["tracking"], send_notification=False
    )
    pause = float(os.environ.get("CRASH_TEST_PAUSE_AFTER_WRITE", "0"))
    if pause:
        time.sleep(pause)
    return Outcome.ok("Shipped.")


JOB_HANDLERS = {
    KIND: ship,
}
register_job_handlers(JOB_HANDLERS)  # a test module, not an app: registers when imported
