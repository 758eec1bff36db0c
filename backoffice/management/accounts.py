"""Which accounts a management command works on (reverb_sync, reconcile, mass_sync)."""

from __future__ import annotations

from django.core.management.base import CommandError

from backoffice.models import ReverbAccount


def selected_accounts(name: str | None, *, verb: str) -> list[ReverbAccount]:
    """The named account, which must exist and be enabled, or else every enabled account (at least one).
    `verb` completes "a disabled account is never ...", e.g. "synced"."""
    if name:
        account = ReverbAccount.objects.filter(name=name).first()
        if account is None:
            raise CommandError(f"no account named {name!r}")
        if not account.enabled:
            raise CommandError(f"account {name!r} is disabled; it is never {verb}")
        return [account]
    accounts = list(ReverbAccount.objects.filter(enabled=True))
    if not accounts:
        raise CommandError("no enabled account; add one with `manage.py reverb_account`")
    return accounts
