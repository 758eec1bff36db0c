"""`manage.py inventory_key --account demo --name my-shop`: create an integration and print its API key
(the only time it is readable). With --revoke, revoke the named integration's key instead."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backoffice.models import ReverbAccount
from inventory.models import Integration


class Command(BaseCommand):
    help = "Create an inventory API integration for an account and print its key (or revoke one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="The Reverb account's name.")
        parser.add_argument("--name", required=True, help="The integration's name.")
        parser.add_argument("--revoke", action="store_true", help="Revoke this integration's key.")

    def handle(self, *args: Any, **opts: Any) -> None:
        account = ReverbAccount.objects.filter(name=opts["account"]).first()
        if account is None:
            raise CommandError(f"No account named {opts['account']!r}.")
        integration = Integration.objects.filter(account=account, name=opts["name"]).first()
        if opts["revoke"]:
            if integration is None:
                raise CommandError(f"No integration named {opts['name']!r}.")
            integration.revoked_at = timezone.now()
            integration.save(update_fields=["revoked_at"])
            self.stdout.write(f"revoked {integration}")
            return
        integration = integration or Integration(account=account, name=opts["name"])
        key = integration.new_key()
        integration.revoked_at = None
        integration.save()
        self.stdout.write(key)
