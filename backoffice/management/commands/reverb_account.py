"""Manage Reverb accounts from the shell. The token is never a command-line argument (it would land in
shell history and the process list): it comes from REVERB_TOKEN or a hidden prompt."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, transaction
from django.db.models import ProtectedError, RestrictedError

from backoffice.account_removal import WorkRunning, removal_plan, remove_account, running_work
from backoffice.models import Currency, ReverbAccount


class Command(BaseCommand):
    help = "Add, list, enable, disable, remove and check Reverb accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        add = sub.add_parser("add", help="Add an account; the token comes from REVERB_TOKEN or a prompt.")
        add.add_argument("name")
        add.add_argument("--api-url", required=True, help="e.g. https://api.reverb.com/api")
        add.add_argument("--currency", default=Currency.USD, choices=Currency.values)
        add.add_argument("--no-check", action="store_true", help="Do not call Reverb after saving.")

        sub.add_parser("list", help="List accounts.")
        for name, text in [
            ("enable", "Enable an account."),
            ("disable", "Disable an account (it is never called)."),
            ("check", "Call Reverb's account endpoint and print the shop name."),
        ]:
            sub.add_parser(name, help=text).add_argument("name")
        token = sub.add_parser("set-token", help="Replace the token (REVERB_TOKEN or a prompt).")
        token.add_argument("name")
        url = sub.add_parser(
            "set-url", help="Point the account at another API URL; its token must be given again."
        )
        url.add_argument("name")
        url.add_argument("api_url", help="e.g. https://sandbox.reverb.com/api")
        remove = sub.add_parser("remove", help="Delete an account and its local mirrors (not on Reverb).")
        remove.add_argument("name")
        remove.add_argument(
            "--yes",
            "--noinput",
            "--no-input",
            dest="yes",
            action="store_true",
            help="Do not ask for confirmation.",
        )
        hooks = sub.add_parser("webhooks", help="List, register or remove the account's Reverb webhooks.")
        hooks.add_argument("name")
        hooks.add_argument("--register", action="store_true", help="Register every topic we handle.")
        hooks.add_argument("--unregister", action="store_true", help="Remove the registrations of ours.")
        hooks.add_argument("--base-url", help="This site's public origin, e.g. https://office.example.com")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        getattr(self, f"do_{action}")(**options)

    # actions

    def do_add(self, name: str, api_url: str, currency: str, no_check: bool, **_: Any) -> None:
        if ReverbAccount.objects.filter(name=name).exists():
            raise CommandError(f"An account named {name!r} already exists (set-token replaces its token).")
        account = ReverbAccount(name=name, api_url=api_url.rstrip("/"), currency=currency)
        self._validate(account)
        account.set_token(self._read_token())
        with transaction.atomic():
            account.save()
        self.stdout.write(self.style.SUCCESS(f"Saved account {name!r} ({account.api_url}, {currency})."))
        if not no_check:
            self._report_check(account, fail=False)
        self._start_first_pull(account)

    def _start_first_pull(self, account: ReverbAccount) -> None:
        """The first pull starts at once, as a backfill: deadline work first (backoffice/sync/backfill.py)."""
        from backoffice.background.queue import enqueue
        from backoffice.sync.backfill import needed

        if not (account.enabled and account.auto_sync):
            return
        with transaction.atomic():
            _, started = needed(account, [])
            if started:
                enqueue("backoffice.background.tasks.backfill_task", account.pk)
        if started:
            self.stdout.write(
                "First pull queued: the shipping queue, refund requests, offers and unread conversations "
                "first, then live listings, then history (progress on the dashboard)."
            )

    def do_list(self, **_: Any) -> None:
        accounts = list(ReverbAccount.objects.all())
        if not accounts:
            self.stdout.write("No Reverb accounts yet. Add one with: reverb_account add NAME --api-url URL")
            return
        width = max(len(a.name) for a in accounts)
        for a in accounts:
            state = "enabled " if a.enabled else "disabled"
            token = "token set" if a.has_token else "no token"
            self.stdout.write(f"{a.name:<{width}}  {state}  {a.currency}  {token:<9}  {a.api_url}")

    def do_enable(self, name: str, **_: Any) -> None:
        self._set_enabled(name, True)

    def do_disable(self, name: str, **_: Any) -> None:
        self._set_enabled(name, False)

    def do_set_token(self, name: str, **_: Any) -> None:
        account = self._get(name)
        account.set_token(self._read_token())
        account.save(update_fields=["token_encrypted", "updated"])
        self.stdout.write(self.style.SUCCESS(f"Token of {name!r} replaced."))
        self._report_check(account, fail=False)

    def do_set_url(self, name: str, api_url: str, **_: Any) -> None:
        account = self._get(name)
        account.api_url = api_url.rstrip("/")
        self._validate(account)
        # The old token belonged to the old host: a new URL needs the token for it (never the old one).
        account.set_token(self._read_token())
        account.save(update_fields=["api_url", "token_encrypted", "updated"])
        self.stdout.write(self.style.SUCCESS(f"Account {name!r} now uses {account.api_url}."))
        self._report_check(account, fail=False)

    def do_remove(self, name: str, yes: bool, **_: Any) -> None:
        """Says what it deletes (rows per table), then deletes after a confirmation; refuses while work runs
        for the account. Never a traceback: a failure is a CommandError with the reason."""
        account = self._get(name)
        busy = running_work(account)
        if busy:
            raise CommandError(self._busy(name, busy))
        plan = removal_plan(account)
        self.stdout.write(f"Removing {name!r} deletes these rows here (nothing is changed on Reverb):")
        for label, rows in plan.items():
            self.stdout.write(f"  {rows:>9}  {label}")
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("Not removed: no terminal to confirm on; pass --yes.")
            answer = input(f"Delete account {name!r} and all the rows above? Type 'yes': ")
            if answer.strip().lower() != "yes":
                raise CommandError("Not removed.")
        try:
            deleted = remove_account(account)
        except WorkRunning as exc:
            raise CommandError(self._busy(name, [str(exc)])) from None
        except (ProtectedError, RestrictedError, DatabaseError) as exc:
            raise CommandError(f"Not removed ({type(exc).__name__}): {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Removed account {name!r}: {sum(deleted.values())} rows in {len(deleted)} tables "
                "(nothing was changed on Reverb)."
            )
        )

    @staticmethod
    def _busy(name: str, busy: list[str]) -> str:
        return (
            f"Not removed: work is running for {name!r} ({', '.join(busy)}). Disable it first "
            f"(reverb_account disable {name}), cancel its bulk jobs or let them finish, and try again."
        )

    def do_check(self, name: str, **_: Any) -> None:
        self._report_check(self._get(name), fail=True)

    def do_webhooks(
        self, name: str, register: bool, unregister: bool, base_url: str | None, **_: Any
    ) -> None:
        from backoffice.background import webhooks

        account = self._get(name)
        if register and unregister:
            raise CommandError("Pass --register or --unregister, not both.")
        if register and not base_url:
            raise CommandError("--register needs --base-url: the public origin Reverb can reach.")
        try:
            if register:
                results = webhooks.register(account, base_url or "")
            elif unregister:
                results = webhooks.unregister(account, base_url)
            else:
                self._list_webhooks(account, base_url)
                return
        except webhooks.WebhookRegistrationRefused as exc:
            raise CommandError(str(exc)) from None
        for result in results or [webhooks.RegistrationResult("-", "nothing to remove")]:
            style = self.style.ERROR if result.outcome == "failed" else self.style.SUCCESS
            detail = f": {result.detail}" if result.detail else ""
            self.stdout.write(style(f"{result.topic:<18} {result.outcome}{detail}"))
        failed = [r for r in results if r.outcome == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} webhook call(s) failed; see above. Polling covers them.")

    def _list_webhooks(self, account: ReverbAccount, base_url: str | None) -> None:
        from backoffice.background import webhooks

        if base_url:
            self.stdout.write(f"Our URL: {webhooks.webhook_url(account, base_url)}")
        regs = webhooks.registrations(account)
        if not regs:
            self.stdout.write("No webhooks registered with Reverb (polling keeps the mirror up to date).")
        for reg in regs:
            url = str(reg.get("url", ""))
            mark = ""
            if webhooks.is_ours(url):
                current = webhooks.webhook_path(account) in url
                mark = "  (ours)" if current else "  (ours, old secret: 404s)"
            self.stdout.write(f"{reg.get('id', '?')!s:<8} {reg.get('topic', '?')!s:<18} {url}{mark}")

    # helpers

    def _get(self, name: str) -> ReverbAccount:
        try:
            return ReverbAccount.objects.get(name=name)
        except ReverbAccount.DoesNotExist:
            raise CommandError(f"No Reverb account named {name!r}.") from None

    def _validate(self, account: ReverbAccount) -> None:
        try:
            account.full_clean(exclude=["token_encrypted"])
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(problems) from None

    def _set_enabled(self, name: str, enabled: bool) -> None:
        account = self._get(name)
        account.enabled = enabled
        account.save(update_fields=["enabled", "updated"])
        self.stdout.write(self.style.SUCCESS(f"Account {name!r} {'enabled' if enabled else 'disabled'}."))

    def _read_token(self) -> str:
        token = os.environ.get("REVERB_TOKEN", "").strip()
        if token:
            return token
        if not sys.stdin.isatty():
            raise CommandError("No token: set the REVERB_TOKEN environment variable (no terminal to prompt).")
        token = getpass.getpass("Reverb personal access token (input hidden): ").strip()
        if not token:
            raise CommandError("No token given.")
        return token

    def _report_check(self, account: ReverbAccount, *, fail: bool) -> None:
        ok, message = account.verify()
        if ok:
            self.stdout.write(self.style.SUCCESS(f"{account.name}: connected to {message}."))
            summary = account.check_scopes()
            style = self.style.WARNING if account.scopes_found.get("missing") else self.style.SUCCESS
            self.stdout.write(style(f"{account.name}: {summary}"))
        elif fail:
            raise CommandError(f"{account.name}: {message}")
        else:
            self.stdout.write(
                self.style.WARNING(f"{account.name}: saved, but the connection check failed: {message}")
            )
