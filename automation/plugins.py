"""What automation adds to the core (from AutomationConfig.ready()): the one clock's deadlines in the inbox
and its overdue / due-today queues on the dashboard, the clean-up of sent alerts and of decided plans and
price changes, the demo's offer rule. What automation adds to the pages of the apps below it, from
AutomationConfig.ready(): the price edit action and the margin box of the listings pages (listings/slots.py),
the saved replies of the reply box and the margin of the offer page (messaging/slots.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, F, OuterRef, QuerySet
from django.template.loader import render_to_string

from backoffice.background import schedules
from backoffice.background.retention import PURGES, Purge, older_than
from backoffice.background.schedules import Spec
from backoffice.demo import SEEDS
from backoffice.pages import inbox
from backoffice.pages.dashboard import QUEUES, Queue
from listings.slots import LISTING_ACTIONS, LISTING_PAGE_PANELS
from messaging.slots import OFFER_PAGE_PANELS, SAVED_REPLIES

from .demo import setup_demo
from .models import Alert, PlannedAction, PriceChange
from .price_edit import change_prices
from .queues import due_queues, offers_with_expiry, state_of
from .replies import for_conversation
from .templatetags import margin


def deadline_queues(user: Any, now: datetime) -> list[Queue]:
    """What is overdue and due today per queue with a deadline: 1 query for the accounts + 1 per queue."""
    queues = []
    for due in due_queues(user, now):
        queues.append(Queue(f"{due.key}-overdue", f"{due.label}: overdue", due.overdue, due.url))
        queues.append(Queue(f"{due.key}-today", f"{due.label}: due today", due.today, due.today_url))
    return queues


def old_alerts(now: datetime) -> QuerySet[Alert] | None:
    """Instant alerts once sent or given up, after ALERT_RETENTION_DAYS (0 keeps them)."""
    return older_than(now, "ALERT_RETENTION_DAYS", Alert.objects.filter(sent_at__isnull=False), "created_at")


def old_planned_actions(now: datetime) -> QuerySet[PlannedAction] | None:
    """What a rule planned for an offer, once decided (sent, failed, dismissed, stale): a record of who did
    what, kept AUDIT_RETENTION_DAYS. A plan still waiting for a person is never purged, nor one for an offer
    the mirror still shows open (it is what says that offer was answered: offers.py `_unanswered`)."""
    decided = PlannedAction.objects.exclude(status=PlannedAction.Status.PLANNED)
    closed = decided.exclude(negotiation__state="active", negotiation__offers_count=F("offer_number"))
    return older_than(now, "AUDIT_RETENTION_DAYS", closed, "created")


def old_price_changes(now: datetime) -> QuerySet[PriceChange] | None:
    """The stale-stock rule's lowerings, once pushed or failed, after AUDIT_RETENTION_DAYS. A planned one
    waits for a person; a listing's newest stays as the rule's memory (its first price, the floor's base)."""
    newer = PriceChange.objects.filter(
        rule=OuterRef("rule"), listing=OuterRef("listing"), created__gt=OuterRef("created")
    )
    done = [PriceChange.Status.SENT, PriceChange.Status.FAILED]
    superseded = PriceChange.objects.filter(Exists(newer), status__in=done)
    return older_than(now, "AUDIT_RETENTION_DAYS", superseded, "created")


def listing_margin_box(context: Any, listing: Any) -> str:
    return render_to_string("automation/margin_box.html", margin.listing_margin(listing))


def offer_margin_box(context: Any, negotiation: Any) -> str:
    return render_to_string("automation/margin_box.html", margin.offer_margin(negotiation))


# Rules and deadlines: offer rules also run after each pull of offers; this is the net.
SCHEDULES = (
    Spec("offer rules", "automation.tasks.offer_rules_all", 5),
    Spec("deadlines and daily digests", "automation.tasks.deadlines_and_digests", 15),
    Spec("stale-stock price rules", "automation.tasks.stale_stock_all", 1440),
    Spec("instant alerts", "automation.tasks.send_alerts", 1),
)


def plug_in() -> None:
    for spec in SCHEDULES:
        schedules.SCHEDULES.add(spec, key=spec.name)
    # The refund's answer-by; an offer's expiry, 48 h after it was made when Reverb sends none.
    inbox.DEADLINES.add(inbox.Deadline(lambda r: r.answer_by or r.respond_by, state_of), key="refund")
    inbox.DEADLINES.add(
        inbox.Deadline(lambda n: getattr(n, "expiry", None) or n.expires_at, state_of, offers_with_expiry),
        key="offer",
    )
    QUEUES.add(deadline_queues, key="automation")
    PURGES.add(Purge("alerts", old_alerts), key="alerts")
    PURGES.add(Purge("decided offer plans", old_planned_actions), key="planned-actions")
    PURGES.add(Purge("price changes", old_price_changes), key="price-changes")
    SEEDS.add(setup_demo, key="automation")  # an offer rule in plan mode
    LISTING_ACTIONS.add(change_prices, key="automation.change_prices")
    LISTING_PAGE_PANELS.add(listing_margin_box, key="automation.margin")
    SAVED_REPLIES.add(for_conversation, key="automation.saved_replies")
    OFFER_PAGE_PANELS.add(offer_margin_box, key="automation.margin")
