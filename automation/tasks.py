"""Thin django-q2 entry points of the rules and the digest (ids in, a one-line summary out)."""

from __future__ import annotations

from collections.abc import Sequence

from backoffice.background.queue import enqueue
from backoffice.background.tasks import scheduled_accounts
from backoffice.models import ReverbAccount


def run_offer_rules(account_id: int, keys: Sequence[str] | None = None) -> str:
    from . import offers

    account = ReverbAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return f"account {account_id}: skipped (gone or disabled)"
    actions = offers.run(account, keys)
    return f"{account.name}: {len(actions)} offer(s) answered or planned"


def offer_rules_all() -> str:
    """The schedule's fan-out (a safety net beside the hook after each pull of offers)."""
    from .offers import has_active_rules

    names = []
    for account in scheduled_accounts():
        if has_active_rules(account.pk):
            enqueue("automation.tasks.run_offer_rules", account.pk)
            names.append(account.name)
    return f"offer rules queued for {len(names)} account(s): {', '.join(names) or 'none'}"


def deadlines_and_digests() -> str:
    """Refill deadlines (a time-zone change, rows written before this app), then send the due digests."""
    from . import stored
    from .digest import send_due_digests

    for account in ReverbAccount.objects.filter(enabled=True):
        stored.refresh_ship_by(account)
        stored.refresh_answer_by(account)
    return send_due_digests()


def stale_stock_all() -> str:
    """Daily: every active stale-stock rule of the enabled accounts."""
    from .models import Mode, StaleStockRule
    from .prices import run_stale_stock

    counts = []
    rules = (
        StaleStockRule.objects.exclude(mode=Mode.OFF).filter(account__enabled=True).select_related("account")
    )
    for rule in rules:
        counts.append(f"{rule.name}: {len(run_stale_stock(rule))}")
    return "stale stock: " + ("; ".join(counts) or "no active rule")


def raise_alerts(model_label: str, account_id: int, keys: Sequence[str]) -> str:
    """After a mirror write: the instant alerts its rows are (automation/alerts.py)."""
    from django.apps import apps

    from . import alerts

    account = ReverbAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return f"account {account_id}: skipped (gone or disabled)"
    made = alerts.raise_for(apps.get_model(model_label), account, list(keys))
    return f"{account.name}: {made} alert(s)"


def send_alerts() -> str:
    """Every minute: deadlines at risk become alerts, then each channel's due alerts go out."""
    from . import alerts

    raised = alerts.raise_deadlines()
    sent = alerts.send_due()
    return f"alerts: {raised} deadline(s) at risk, {sent} message(s) sent"
