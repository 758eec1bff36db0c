"""Run the nightly reconciliation now and print a summary per account.

python manage.py reconcile [--account NAME] [--resource listings orders ...] [--no-email] [--all-history]

Like a night (the recent months complete, tonight's share of older history), chunk after chunk in this
process; --all-history checks every date at once (and ends the rolling sweep).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.management.accounts import selected_accounts
from backoffice.sync import registry
from backoffice.sync.reconcile import COUNT_NAMES, reconcile_account, summary_line


class Command(BaseCommand):
    help = "Reconcile the mirrors with Reverb now (complete scans that repair the mirror) and report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="Account name (default: every enabled account).")
        parser.add_argument(
            "--resource",
            nargs="+",
            choices=registry.order(),
            metavar="RESOURCE",
            help=f"Only these resources: {' '.join(registry.order())} (default: all).",
        )
        parser.add_argument("--no-email", action="store_true", help="Do not send the summary email.")
        parser.add_argument(
            "--all-history",
            action="store_true",
            help="Check all older history now, not tonight's share of it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = selected_accounts(options["account"], verb="reconciled")
        failed = []
        for account in accounts:
            report = reconcile_account(
                account,
                resources=options["resource"],
                notify=not options["no_email"],
                all_history=options["all_history"],
            )
            self.stdout.write(summary_line(report))
            if report.older_share is not None:
                self.stdout.write(
                    f"  older history checked: {100 * report.older_share:.0f}% ({report.older_range})"
                )
            for resource, counts in report.counts.items():
                numbers = " ".join(f"{name}={counts.get(name, 0)}" for name in COUNT_NAMES)
                self.stdout.write(f"  {resource}: {numbers}")
            if report.error:
                self.stderr.write(f"  error: {report.error}")
            if report.emailed:
                self.stdout.write("  summary emailed")
            if report.state == report.State.FAILED:
                failed.append(account.name)
        if failed:
            raise CommandError(f"reconciliation failed: {', '.join(failed)}")
