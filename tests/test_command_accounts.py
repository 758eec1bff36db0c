"""The account selection shared by reverb_sync, reconcile and mass_sync; reverb_account remove."""

from __future__ import annotations

from io import StringIO
from typing import Any

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


# ---- reverb_account remove (issue 24: a ProtectedError once the account had mirrored data) ----


def mirror_rows(account: Any) -> dict[str, int]:
    """Rows of the account in every model that points at it (mirrors, audit, runs, jobs...)."""
    from backoffice.account_removal import reverse_links

    counts = {}
    for rel in reverse_links():
        n = rel.related_model._base_manager.filter(**{rel.field.name: account}).count()
        if n:
            counts[rel.related_model._meta.label] = n
    return counts


def remove(*args: str) -> str:
    out = StringIO()
    call_command("reverb_account", "remove", *args, stdout=out)
    return out.getvalue()


def test_remove_deletes_the_account_and_its_mirrors_after_saying_what(shop: Any) -> None:
    from backoffice.models import ApiCall, ReverbAccount
    from listings.models import Listing
    from orders.models import Order

    ApiCall.objects.create(account=shop, action="listings.publish")
    other = AccountFactory(name="other")
    ApiCall.objects.create(account=other, action="listings.publish")
    before = mirror_rows(shop)
    listings = Listing.objects.filter(account=shop).count()
    orders = Order.objects.filter(account=shop).count()
    assert listings and orders and before["backoffice.ApiCall"] == 1

    out = remove(shop.name, "--yes")
    assert f"{listings:>9}  listings.Listing" in out and f"{orders:>9}  orders.Order" in out
    assert "        1  backoffice.ApiCall" in out and "        1  backoffice.ReverbAccount" in out
    assert f"Removed account {shop.name!r}" in out and "Traceback" not in out
    assert not ReverbAccount.objects.filter(pk=shop.pk).exists()
    assert mirror_rows(shop) == {}
    assert ApiCall.objects.filter(account=other).count() == 1  # another shop's rows stay


def test_the_plan_counts_what_the_removal_deletes(shop: Any) -> None:
    from backoffice.account_removal import removal_plan, remove_account

    plan = removal_plan(shop)
    assert plan["backoffice.ReverbAccount"] == 1 and len(plan) > 5
    assert remove_account(shop) == plan


def test_remove_without_a_terminal_says_what_and_refuses(shop: Any) -> None:
    from listings.models import Listing

    out = StringIO()
    with pytest.raises(CommandError, match="pass --yes"):
        call_command("reverb_account", "remove", shop.name, stdout=out)
    assert "listings.Listing" in out.getvalue()
    assert Listing.objects.filter(account=shop).exists()


@pytest.mark.parametrize("answer, removed", [("no", False), ("yes", True)])
def test_remove_asks_on_a_terminal(
    shop: Any, monkeypatch: pytest.MonkeyPatch, answer: str, removed: bool
) -> None:
    from backoffice.models import ReverbAccount

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: answer)
    if removed:
        remove(shop.name)
    else:
        with pytest.raises(CommandError, match="Not removed"):
            remove(shop.name)
    assert ReverbAccount.objects.filter(pk=shop.pk).exists() is not removed


def test_remove_refuses_while_work_runs_for_the_account(shop: Any) -> None:
    from backoffice.models import BulkJob, ReverbAccount

    running = BulkJob.State.RUNNING
    job = BulkJob.objects.create(kind="listings.publish", title="t", account=shop, state=running)
    with pytest.raises(CommandError, match=r"work is running .*1 bulk job.*reverb_account disable"):
        remove(shop.name, "--yes")
    assert ReverbAccount.objects.filter(pk=shop.pk).exists()
    BulkJob.objects.filter(pk=job.pk).update(state=BulkJob.State.SUCCEEDED)
    remove(shop.name, "--yes")
    assert not ReverbAccount.objects.filter(pk=shop.pk).exists()
