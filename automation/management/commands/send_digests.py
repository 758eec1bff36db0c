"""Send the daily digest now (whatever the hour), printed on the console with the default email setting.

python manage.py send_digests [--account NAME]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from automation.digest import send_digests
from backoffice.management.accounts import selected_accounts


class Command(BaseCommand):
    help = "Email each role's users what is overdue and what falls due today (only when there is something)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="Account name (default: every enabled account).")

    def handle(self, *args: Any, **options: Any) -> None:
        for account in selected_accounts(options["account"], verb="digested"):
            count = send_digests(account)
            self.stdout.write(f"{account.name}: {count} digest email(s) sent")
