"""Pull Reverb data into the local mirrors and print one summary line per resource.

python manage.py reverb_sync [--account NAME] [--resource listings orders ...] [--full]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.management.accounts import selected_accounts
from backoffice.sync import registry
from backoffice.sync.runner import sync_account


class Command(BaseCommand):
    help = "Pull listings, orders, refunds, messages, offers and payouts from Reverb into the mirrors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="Account name (default: every enabled account).")
        parser.add_argument(
            "--resource",
            nargs="+",
            choices=registry.order(),
            metavar="RESOURCE",
            help=f"Only these resources: {' '.join(registry.order())} (default: all, in that order).",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="Complete scans, also for orders and refunds; marks rows absent from Reverb missing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = selected_accounts(options["account"], verb="synced")
        failed = []
        for account in accounts:
            for run in sync_account(account, options["resource"], full=options["full"]):
                self.stdout.write(run.summary())
                for child in getattr(run, "children", []):  # messages, payout line items
                    self.stdout.write("  " + child.summary())
                if not run.ok:
                    self.stderr.write(f"  error: {run.error}")
                    failed.append(f"{account.name} {run.resource}")
        if failed:
            raise CommandError(f"sync failed: {', '.join(failed)}")
