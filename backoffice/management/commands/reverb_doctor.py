"""`python manage.py reverb_doctor ACCOUNT [--capture DIR]`: compare a real shop's answers with what the
product reads (GET requests only, one page per resource), and keep a redacted capture of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from backoffice.management.accounts import selected_accounts
from backoffice.sync import doctor


class Command(BaseCommand):
    help = "Read one page of every resource from Reverb and report how it differs from what we expect."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="the account's name")
        parser.add_argument(
            "--capture",
            default=None,
            help="folder for the redacted capture (default: reverb-capture-ACCOUNT-YYYYMMDD-HHMM)",
        )
        parser.add_argument("--no-capture", action="store_true", help="report only, write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        (account,) = selected_accounts(options["account"], verb="called")
        examination = doctor.examine(account.client())
        findings = examination.findings
        for finding in findings:
            for line in finding.lines():
                self.stdout.write(line)
        differing = [f.resource for f in findings if f.differs]
        self.stdout.write(
            f"{len(differing)} of {len(findings)} resources differ from the emulator"
            + (f": {', '.join(differing)}" if differing else "")
        )
        if options["no_capture"]:
            return
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        folder = Path(options["capture"] or f"reverb-capture-{account.name}-{stamp}")
        doctor.write_capture(
            folder, examination, {"account": account.name, "api_url": account.api_url, "taken": stamp}
        )
        self.stdout.write(f"Capture (personal data replaced, ids kept): {folder}")
