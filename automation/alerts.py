"""Instant alerts: what has a clock on it, told to the people who answer it within minutes, not at the
next digest.

An event (a new offer, a refund request, a paid order, a buyer's message, a ship-by deadline at risk)
becomes one `Alert` row per channel: the email of each person who works for the shop, may act on it and
asked for that kind (Automation › My alerts), and the shop's chat webhook if it has one. The row's unique
(account, channel, kind, key) makes the next pull or webhook of the same event a no-op: never twice.
`raise_for` runs after the mirror write that brought the event (a pull or a webhook, through the engine's
`rows_written`); `send_due` (every minute) sends each channel's pending alerts as one message, at most
one every ALERT_BATCH_MINUTES, holds them through the person's quiet hours, and links each to the page
where it is answered (SITE_URL + path).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import models
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from backoffice import clock, deadlines, outbound
from backoffice.models import ReverbAccount
from backoffice.people import people_of
from backoffice.templatetags.shop_time import shop_time
from messaging.models import Conversation, Negotiation, offers_awaiting_shop
from orders.models import Order
from refunds.models import RefundRequest, awaiting_shop

from . import queues
from .models import Alert, AlertKind, AlertSubscription, AutomationSettings

log = logging.getLogger(__name__)
CHAT = "chat"
RECENT = timedelta(hours=24)  # a first pull of a shop's history raises no alert for what is older
DEADLINE_WORDS = {
    deadlines.OVERDUE: "was due to ship",
    deadlines.TODAY: "is due to ship today",
    deadlines.LATER: "must ship",
}


@dataclass(frozen=True)
class Event:
    kind: str
    key: str
    text: str
    path: str


@dataclass(frozen=True)
class Source:
    """Where one kind of alert comes from: the rows that are events now, and each row in words."""

    kind: str
    model: type[models.Model]
    permission: str  # who may answer it, among the shop's people
    pending: Callable[[], QuerySet[Any]]
    event: Callable[[Any], Event]


def _offer(n: Negotiation) -> Event:
    amount = f"{n.offered_total} {n.currency}" if n.offered_total is not None else "an offer"
    title = n.listing.title if n.listing else f"listing {n.listing_reverb_id}"
    return Event(
        AlertKind.OFFER,
        f"{n.reverb_id}:{n.offers_count}:{n.last_offered_total}",
        f"{n.buyer_name or 'A buyer'} offers {amount} for {title}",
        reverse("admin:messaging_negotiation_offer", args=[n.pk]),
    )


def _refund(r: RefundRequest) -> Event:
    return Event(
        AlertKind.REFUND,
        r.reverb_id,
        f"Refund request on order {r.order_number}: {r.amount} {r.currency} "
        f"({r.reason.replace('_', ' ') or 'no reason given'})",
        reverse("admin:refunds_refundrequest_respond", args=[r.pk]),
    )


def _paid(o: Order) -> Event:
    return Event(
        AlertKind.PAID,
        o.order_number,
        f"Order {o.order_number} paid by {o.buyer_name or 'a buyer'}: {o.title} "
        f"({o.amount_total} {o.currency})",
        reverse("admin:orders_order_change", args=[o.pk]),
    )


def _message(c: Conversation) -> Event:
    return Event(
        AlertKind.MESSAGE,
        f"{c.reverb_id}:{c.last_message_at.isoformat() if c.last_message_at else ''}",
        f"{c.other_party_name or 'A buyer'} wrote: {c.subject or 'a message'}",
        reverse("admin:messaging_conversation_thread", args=[c.pk]),
    )


def _paid_orders() -> QuerySet[Order]:
    return queues.rows("ship")


SOURCES: tuple[Source, ...] = (
    Source(AlertKind.OFFER, Negotiation, "messaging.respond_offer", offers_awaiting_shop, _offer),
    Source(AlertKind.REFUND, RefundRequest, "refunds.respond_refund", awaiting_shop, _refund),
    Source(AlertKind.PAID, Order, "orders.ship_order", _paid_orders, _paid),
    Source(
        AlertKind.MESSAGE,
        Conversation,
        "messaging.reply_message",
        lambda: Conversation.objects.filter(unread=True, missing=False),
        _message,
    ),
)
BY_MODEL = {source.model: source for source in SOURCES}


def listeners(account: ReverbAccount, kind: str, permission: str) -> list[str]:
    """The channels that get `kind` of `account`: each person of the shop who may act on it and asked for
    it by email, and the shop's chat webhook."""
    wanting = {s.user_id for s in AlertSubscription.objects.filter(by_email=True) if kind in (s.kinds or [])}
    channels = [f"user:{u.pk}" for u in people_of(account, perm=permission) if u.pk in wanting]
    if AutomationSettings.objects.filter(account=account).exclude(chat_webhook_url="").exists():
        channels.append(CHAT)
    return channels


def tell(account: ReverbAccount, kind: str, permission: str, events: list[Event]) -> int:
    """An Alert per channel per event not told before; returns the alerts created."""
    if not events:
        return 0
    channels = listeners(account, kind, permission)
    alerts = [
        Alert(
            account=account,
            user_id=int(channel.split(":")[1]) if channel != CHAT else None,
            channel=channel,
            kind=event.kind,
            key=event.key[:200],
            text=event.text[:500],
            path=event.path,
        )
        for event in events
        for channel in channels
    ]
    before = Alert.objects.count()
    Alert.objects.bulk_create(alerts, ignore_conflicts=True)  # the unique key: an event told once
    return Alert.objects.count() - before


def raise_for(model: type[models.Model], account: ReverbAccount, keys: list[str]) -> int:
    """After a mirror write of `model` rows `keys`: alerts for those that are events now and recent."""
    source = BY_MODEL.get(model)
    if source is None or not keys:
        return 0
    since = timezone.now() - RECENT
    rows = source.pending().filter(account=account, reverb_id__in=keys)
    rows = rows.filter(models.Q(remote_updated_at__gte=since) | models.Q(remote_created_at__gte=since))
    if model is Order:
        rows = rows.filter(paid_at__gte=since)
    if model is Negotiation:
        rows = rows.select_related("listing")
    return tell(account, source.kind, source.permission, [source.event(row) for row in rows])


def raise_deadlines(now: datetime | None = None) -> int:
    """Orders awaiting shipment whose ship-by is at risk (clock.at_risk_q: within ALERT_DEADLINE_HOURS,
    not passed more than a day ago): one alert per order and deadline, in the queues' words (overdue, due
    today) and the shop's time."""
    now = now or timezone.now()
    window = timedelta(hours=settings.ALERT_DEADLINE_HOURS)
    made = 0
    due = queues.rows("ship").filter(clock.at_risk_q("ship_by", now, window, RECENT), account__enabled=True)
    for account in ReverbAccount.objects.filter(pk__in=due.values("account_id")):
        rows = due.filter(account=account)
        events = [
            Event(
                AlertKind.DEADLINE,
                f"{o.order_number}:{o.ship_by.isoformat()}",
                f"Order {o.order_number} to {o.buyer_name or 'a buyer'} "
                f"{DEADLINE_WORDS.get(clock.state_of(o.ship_by, account, now) or '', 'must ship')} by "
                f"{shop_time(o.ship_by, account, now)}",
                reverse("admin:orders_order_change", args=[o.pk]),
            )
            for o in rows
        ]
        made += tell(account, AlertKind.DEADLINE, "orders.ship_order", events)
    return made


# ---- sending ----------------------------------------------------------------------------------------


def in_quiet_hours(subscription: AlertSubscription, now: datetime) -> bool:
    start, end = subscription.quiet_from, subscription.quiet_until
    if start is None or end is None or start == end:
        return False
    try:
        zone = ZoneInfo(subscription.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local: time = now.astimezone(zone).time()
    return start <= local < end if start < end else local >= start or local < end


def _link(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _body(alerts: list[Alert]) -> str:
    lines = []
    for alert in alerts:
        lines += [
            f"- [{alert.account.name}] {alert.get_kind_display()}: {alert.text}",
            f"  {_link(alert.path)}",
        ]
    return "\n".join(lines)


def _claim(ids: list[int], now: datetime) -> list[Alert]:
    """Mark these pending alerts sent (compare-and-set: a second sender claims none of them)."""
    claimed = Alert.objects.filter(pk__in=ids, sent_at__isnull=True).update(sent_at=now)
    if claimed != len(ids):
        return []
    return list(Alert.objects.filter(pk__in=ids).select_related("account").order_by("created_at", "pk"))


def _unclaim(alerts: list[Alert], error: Exception) -> None:
    Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(sent_at=None, error=str(error)[:2000])


def send_due(now: datetime | None = None) -> int:
    """Send every channel's pending alerts that may go now, one message a channel. Returns messages sent."""
    now = now or timezone.now()
    sent = 0
    wait = timedelta(minutes=settings.ALERT_BATCH_MINUTES)
    pending = Alert.objects.filter(sent_at__isnull=True)
    for channel in pending.values_list("channel", flat=True).distinct():
        ids = list(pending.filter(channel=channel).order_by("created_at", "pk").values_list("pk", flat=True))
        if channel == CHAT:
            sent += _send_chats(ids, now, wait)
            continue
        subscription = AlertSubscription.objects.filter(user_id=int(channel.split(":")[1])).first()
        if subscription is None or not subscription.by_email:
            Alert.objects.filter(pk__in=ids).update(sent_at=now, error="alerts turned off")
            continue
        if subscription.sent_at and now - subscription.sent_at < wait or in_quiet_hours(subscription, now):
            continue
        alerts = _claim(ids, now)
        if not alerts:
            continue
        try:
            send_mail(_subject(alerts), _body(alerts), None, [subscription.user.email])
        except Exception as exc:  # the mail server: keep them for the next minute
            log.warning("alerts to %s not sent: %s", subscription.user, exc)
            _unclaim(alerts, exc)
            continue
        AlertSubscription.objects.filter(pk=subscription.pk).update(sent_at=now)
        sent += 1
    return sent


def _subject(alerts: list[Alert]) -> str:
    if len(alerts) == 1:
        return f"[{alerts[0].account.name}] {alerts[0].get_kind_display()}: {alerts[0].text}"[:200]
    return f"{len(alerts)} alerts: " + ", ".join(sorted({a.get_kind_display() for a in alerts}))


def _send_chats(ids: list[int], now: datetime, wait: timedelta) -> int:
    """The shop chat's pending alerts, per shop: one POST of Slack-compatible JSON ({"text": ...})."""
    sent = 0
    by_account: dict[int, list[int]] = {}
    for pk, account_id in Alert.objects.filter(pk__in=ids).values_list("pk", "account_id"):
        by_account.setdefault(account_id, []).append(pk)
    for account_id, account_ids in by_account.items():
        setting = AutomationSettings.objects.filter(account_id=account_id).first()
        if setting is None or not setting.chat_webhook_url:
            Alert.objects.filter(pk__in=account_ids).update(sent_at=now, error="no chat webhook")
            continue
        if setting.chat_sent_at and now - setting.chat_sent_at < wait:
            continue
        alerts = _claim(account_ids, now)
        if not alerts:
            continue
        try:
            post_chat(setting.chat_webhook_url, _body(alerts))
        except (requests.RequestException, ValueError, outbound.OutboundError) as exc:
            log.warning("chat alerts of account %s not sent: %s", account_id, exc)
            _unclaim(alerts, exc)
            continue
        AutomationSettings.objects.filter(pk=setting.pk).update(chat_sent_at=now)
        sent += 1
    return sent


def post_chat(url: str, text: str) -> None:
    """POST {"text": text} to an incoming webhook through backoffice/outbound.py: the address checked once
    and pinned (no private addresses unless allowed), no redirects."""
    with outbound.call("post", url, what="chat webhook", json={"text": text}, timeout=10) as response:
        if response.status_code >= 300:
            raise ValueError(f"the chat webhook answered {response.status_code}")
