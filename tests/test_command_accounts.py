"""The account selection shared by reverb_sync, reconcile and mass_sync."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backoffice.management.accounts import selected_accounts
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_every_enabled_account_or_the_named_one() -> None:
    a, b = AccountFactory(name="a"), AccountFactory(name="b")
    AccountFactory(name="off", enabled=False)
    assert selected_accounts(None, verb="synced") == [a, b]
    assert selected_accounts("b", verb="synced") == [b]


@pytest.mark.parametrize(
    "command, verb", [("reverb_sync", "synced"), ("reconcile", "reconciled"), ("mass_sync", "synced")]
)
def test_commands_refuse_unknown_and_disabled_accounts(command: str, verb: str) -> None:
    AccountFactory(name="off", enabled=False)
    with pytest.raises(CommandError, match="no account named 'nope'"):
        call_command(command, "--account", "nope")
    with pytest.raises(CommandError, match=f"account 'off' is disabled; it is never {verb}"):
        call_command(command, "--account", "off")
    with pytest.raises(CommandError, match="no enabled account"):
        call_command(command)
