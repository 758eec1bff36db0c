"""Background work of the inventory app (django-q2), started by the one-minute `tick` schedule."""

from __future__ import annotations

import logging

from backoffice.background.queue import enqueue
from backoffice.models import ReverbAccount

from . import events, feeds, services
from .models import StockFeed, StockIntent

log = logging.getLogger(__name__)
# One drain task holds its account's queue for at most this long; the next tick starts another.
DRAIN_SECONDS = 50.0


def tick() -> str:
    """Fan out: drain each account with due stock changes, watch each account's mirror for events, fetch
    the feeds that are due, and send the event deliveries that are due."""
    accounts = list(ReverbAccount.objects.filter(enabled=True))
    waiting = set(
        StockIntent.objects.filter(status=StockIntent.Status.QUEUED).values_list("account_id", flat=True)
    )
    for account in accounts:
        enqueue("inventory.tasks.watch_account", account.pk)
        if account.pk in waiting:
            services.request_drain(account.pk)
    due = feeds.due_feeds()
    for feed in due:
        enqueue("inventory.tasks.fetch_feed", feed.pk)
    enqueue("inventory.tasks.deliver_due")
    return f"{len(accounts)} account(s), {len(waiting)} with stock to send, {len(due)} feed(s) due"


def drain_account(account_id: int, seconds: float = DRAIN_SECONDS) -> str:
    """Send the account's queue (`services.request_drain` sends this task once however many ask). A drain
    already running sends it instead; one that stops for time with changes left asks for the next."""
    account = ReverbAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "no such account"
    services.drain_started(account_id)
    result = services.drain(account, seconds=seconds)
    if result.busy:
        return f"{account}: another drain is sending the queue"
    if result.left:
        services.request_drain(account_id)
    return (
        f"{account}: sent {result.sent}, skipped {result.skipped}, failed {result.failed}, left {result.left}"
    )


def watch_account(account_id: int) -> str:
    account = ReverbAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "no such account"
    return f"{account}: {events.watch(account)}"


def fetch_feed(feed_id: int) -> str:
    feed = StockFeed.objects.select_related("account").filter(pk=feed_id).first()
    if feed is None:
        return "no such feed"
    report = feeds.run(feed)
    return f"{feed}: {report.summary() if report else feed.last_error}"


def deliver_due() -> str:
    return f"{events.deliver_due()} event(s) delivered"
