"""The daily digest: to each of a shop's people (backoffice/people.py: its members and superusers), what is
overdue and what falls due today in the queues their role works on (ships orders, answers refunds, answers
offers), once a day at the account's digest hour (shop time), and only when there is something.

`send_due_digests` runs from the schedule; `manage.py send_digests` sends now (console email by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from backoffice import deadlines
from backoffice.clock import due_by_tonight_q, state_of
from backoffice.models import ReverbAccount
from backoffice.people import people_of
from backoffice.templatetags.shop_time import shop_time

from .models import AutomationSettings
from .queues import CLOCKS, Due, due_queues, rows

ROWS_SHOWN = 20
# A role's digest holds the queues it works on (not all it may view): who may act on each queue.
WORK = {"ship": "orders.ship_order", "refunds": "refunds.respond_refund", "offers": "messaging.respond_offer"}


@dataclass
class Digest:
    account: ReverbAccount
    user: Any
    queues: list[Due] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return any(q.any for q in self.queues)

    @property
    def subject(self) -> str:
        overdue = sum(q.overdue for q in self.queues)
        today = sum(q.today for q in self.queues)
        return f"[{self.account.name}] {overdue} overdue, {today} due today"

    @property
    def body(self) -> str:
        return "\n".join(self.lines) + "\n"


def _rows(key: str, account: ReverbAccount, now: datetime) -> list[tuple[datetime, str]]:
    """Overdue and due-today rows of one queue (queues.py's rows and clock), soonest first."""
    clock = CLOCKS[key]
    qs = (
        rows(key)
        .filter(due_by_tonight_q(clock.column, now, [account]), account=account)
        .order_by(clock.column, "pk")
    )
    if key == "ship":
        return [(o.ship_by, f"order {o.order_number} to {o.buyer_name}: {o.title}") for o in qs[:ROWS_SHOWN]]
    if key == "refunds":
        return [
            (r.answer_by, f"refund request {r.reverb_id} on order {r.order_number}: {r.amount} {r.currency}")
            for r in qs[:ROWS_SHOWN]
        ]
    return [
        (
            n.expiry,
            f"offer {n.last_offered_price} {n.currency} from {n.buyer_name}"
            f" on {n.listing or n.listing_reverb_id}",
        )
        for n in qs.select_related("listing")[:ROWS_SHOWN]
    ]


def build(account: ReverbAccount, user: Any, now: datetime | None = None) -> Digest:
    now = now or timezone.now()
    tz = deadlines.zone(account.time_zone)
    queues = [q for q in due_queues(None, now, [account.pk]) if user.has_perm(WORK[q.key])]
    digest = Digest(account, user, queues)
    lines = digest.lines
    lines.append(f"{account.name}: what is overdue and what falls due today ({shop_time(now, tz)}).")
    for queue in digest.queues:
        if not queue.any:
            continue
        lines += ["", f"{queue.label}: {queue.overdue} overdue, {queue.today} due today"]
        for due, text in _rows(queue.key, account, now):
            state = "OVERDUE" if state_of(due, account, now) == deadlines.OVERDUE else "today"
            lines.append(f"  - [{state}, by {shop_time(due, tz)}] {text}")
        more = queue.overdue + queue.today - ROWS_SHOWN
        if more > 0:
            lines.append(f"  ... and {more} more")
        lines.append(f"  {settings.SITE_URL.rstrip('/')}{queue.url}")
    return digest


def readers(account: ReverbAccount) -> list[Any]:
    """Who gets `account`'s digest: its people (backoffice/people.py) who work on one of its queues, each
    once. Staff of another shop, and staff of no shop, get none of it."""
    found: dict[int, Any] = {}
    for perm in WORK.values():
        found.update((user.pk, user) for user in people_of(account, perm=perm))
    return [found[pk] for pk in sorted(found)]


def send_digests(account: ReverbAccount, now: datetime | None = None) -> int:
    """Email each of `account`'s readers their digest if it has something; returns emails sent."""
    sent = 0
    for user in readers(account):
        digest = build(account, user, now)
        if digest.any:
            send_mail(digest.subject, digest.body, None, [user.email])
            sent += 1
    return sent


def due_now(setting: AutomationSettings, now: datetime) -> bool:
    """The account's digest hour has come today (shop time) and today's digest has not gone out."""
    if setting.digest_hour is None:
        return False
    local = now.astimezone(deadlines.zone(setting.account.time_zone))
    return local.hour >= setting.digest_hour and setting.digest_sent_on != local.date()


def send_due_digests(now: datetime | None = None) -> str:
    now = now or timezone.now()
    done = []
    for setting in AutomationSettings.objects.select_related("account").filter(
        digest_hour__isnull=False, account__enabled=True
    ):
        if not due_now(setting, now):
            continue
        count = send_digests(setting.account, now)
        setting.digest_sent_on = now.astimezone(deadlines.zone(setting.account.time_zone)).date()
        setting.save(update_fields=["digest_sent_on"])
        done.append(f"{setting.account.name}: {count} email(s)")
    return "digests: " + ("; ".join(done) or "none due")
