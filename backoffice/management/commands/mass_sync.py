"""Start a mass sync (a single-flight bulk job) per account.

python manage.py mass_sync [--account NAME] [--changes-only] [--now]

Without --now the job goes to the workers (settings.WORKER_BACKEND) and this prints its admin page; with
--now it runs here. An account whose mass sync is already queued or running is refused with that job.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.background.jobs import JobAlreadyRunning, job_url
from backoffice.background.mass_sync import start_mass_sync
from backoffice.management.accounts import selected_accounts


class Command(BaseCommand):
    help = "Start a mass sync (every resource) per account, as a bulk job with per-resource results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="Account name (default: every enabled account).")
        parser.add_argument(
            "--changes-only", action="store_true", help="Incremental pulls instead of complete scans."
        )
        parser.add_argument("--now", action="store_true", help="Run the job in this process.")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = selected_accounts(options["account"], verb="synced")
        refused = []
        for account in accounts:
            try:
                job = start_mass_sync(
                    account, full=not options["changes_only"], backend="inline" if options["now"] else None
                )
            except JobAlreadyRunning as exc:
                refused.append(account.name)
                self.stderr.write(f"{account.name}: refused, {exc} at {job_url(exc.job)}")
                continue
            except Exception as exc:  # e.g. a disabled account
                raise CommandError(f"{account.name}: {exc}") from exc
            job.refresh_from_db()
            self.stdout.write(
                f"{account.name}: {job.title} {job.get_state_display().lower()}: {job.succeeded} succeeded, "
                f"{job.failed} failed, {job.total} items; {job_url(job)}"
            )
        if refused:
            raise CommandError(f"a mass sync is already running for {', '.join(refused)}")
