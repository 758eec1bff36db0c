"""Instant alerts (issue 26): an event from a pull reaches, within minutes and once, the people of that shop
who asked for it and may answer it, batched, held through quiet hours, and the shop's chat webhook."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from automation import alerts
from automation.models import Alert, AlertKind, AlertSubscription, AutomationSettings
from backoffice.sync.runner import sync_resource
from messaging.models import Negotiation
from tests.orders.helpers import simulate


def person(name: str, role: str, *accounts: Any, kinds: list[str], **settings: Any) -> User:
    user = User.objects.create_user(name, f"{name}@shop.example", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    for account in accounts:
        account.members.add(user)
    AlertSubscription.objects.create(user=user, kinds=kinds, **settings)
    return user


@pytest.fixture
def pull(django_capture_on_commit_callbacks: Any) -> Any:
    """A pull whose after-commit work (the alerts task, inline) runs, as it does after a real commit."""

    def run(account: Any, resource: str, **options: Any) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            sync_resource(account, resource, **options)

    return run


def new_offer(emulator: Any, account: Any, pull: Any) -> Negotiation:
    listing = next(x for x in emulator.store.table("listings").values() if x["state"] == "live")
    payload = simulate(emulator, "offer", listing_id=listing["id"])
    pull(account, "negotiations")
    return Negotiation.objects.get(account=account, reverb_id=str(payload["id"]))


def test_a_new_offer_reaches_the_shops_people_who_asked_once(
    shop: Any, other_shop: Any, emulator: Any, strict_membership: None, settings: Any, pull: Any
) -> None:
    settings.WORKER_BACKEND = "inline"
    clerk = person("clerk", "Customer service", shop, kinds=[AlertKind.OFFER])
    person("other-clerk", "Customer service", other_shop, kinds=[AlertKind.OFFER])  # another shop
    person("shipper", "Shipping", shop, kinds=[AlertKind.OFFER])  # may not answer offers
    person("quiet", "Customer service", shop, kinds=[AlertKind.REFUND])  # asked for refunds only
    offer = new_offer(emulator, shop, pull)
    pull(shop, "negotiations", full=True)  # the same event again: told once
    told = Alert.objects.filter(kind=AlertKind.OFFER)
    assert [a.channel for a in told] == [f"user:{clerk.pk}"]
    assert told.get().path == reverse("admin:messaging_negotiation_offer", args=[offer.pk])
    assert alerts.send_due() == 1
    (email,) = mail.outbox
    assert email.to == [clerk.email] and "offers" in email.body
    assert f"{settings.SITE_URL}{told.get().path}" in email.body
    assert alerts.send_due() == 0 and len(mail.outbox) == 1  # sent once


def test_alerts_are_gathered_into_one_message_every_few_minutes(
    shop: Any, emulator: Any, strict_membership: None, settings: Any, pull: Any
) -> None:
    settings.WORKER_BACKEND = "inline"
    settings.ALERT_BATCH_MINUTES = 5
    person("clerk", "Customer service", shop, kinds=[AlertKind.OFFER])
    new_offer(emulator, shop, pull)
    now = timezone.now()
    assert alerts.send_due(now) == 1
    new_offer(emulator, shop, pull)
    new_offer(emulator, shop, pull)
    assert alerts.send_due(now + timedelta(minutes=1)) == 0  # too soon after the last one
    assert alerts.send_due(now + timedelta(minutes=6)) == 1
    assert len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("2 alerts")


def test_quiet_hours_hold_alerts_until_they_end(shop: Any, strict_membership: None) -> None:
    user = person(
        "night", "Customer service", shop, kinds=[AlertKind.OFFER], quiet_from=time(22), quiet_until=time(7)
    )
    sub = user.alerts
    at = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert alerts.in_quiet_hours(sub, at) and alerts.in_quiet_hours(sub, at + timedelta(hours=7))
    assert not alerts.in_quiet_hours(sub, at + timedelta(hours=8))
    Alert.objects.create(
        account=shop, user=user, channel=f"user:{user.pk}", kind="offer", key="k", text="t", path="/admin/"
    )
    assert alerts.send_due(at) == 0 and alerts.send_due(at + timedelta(hours=8)) == 1


def test_a_paid_order_at_risk_of_missing_its_ship_by_is_told_to_shipping(
    shop: Any, strict_membership: None, settings: Any
) -> None:
    from orders.models import Order

    shipper = person("shipper", "Shipping", shop, kinds=[AlertKind.DEADLINE])
    order = (
        Order.objects.filter(account=shop, status="paid").first()
        or Order.objects.filter(account=shop).first()
    )
    soon = timezone.now() + timedelta(hours=2)
    Order.objects.filter(pk=order.pk).update(status="paid", shipped_at=None, local_pickup=False, ship_by=soon)
    assert alerts.raise_deadlines() == 1 and alerts.raise_deadlines() == 0
    alert = Alert.objects.get(kind=AlertKind.DEADLINE)
    assert alert.channel == f"user:{shipper.pk}" and order.order_number in alert.text


def test_the_shop_chat_gets_one_slack_style_post(
    shop: Any, emulator: Any, strict_membership: None, settings: Any, pull: Any
) -> None:
    settings.WORKER_BACKEND = "inline"
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the receiver is on loopback
    posts: list[dict[str, Any]] = []

    class Chat(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        AutomationSettings.objects.update_or_create(
            account=shop, defaults={"chat_webhook_url": f"http://127.0.0.1:{server.server_port}/hook"}
        )
        new_offer(emulator, shop, pull)
        assert alerts.send_due() == 1
    finally:
        server.shutdown()
    assert len(posts) == 1 and "New offer" in posts[0]["text"]
    assert Alert.objects.get(channel="chat").sent_at is not None


def test_a_person_sets_their_own_alerts(shop: Any, strict_membership: None) -> None:
    user = User.objects.create_user("viewer", "v@shop.example", "pw", is_staff=True)
    client = Client()
    client.force_login(user)
    url = reverse("admin:automation_alert_mine")
    assert "My alerts" in client.get(reverse("admin:index")).content.decode()
    bad = client.post(url, {"kinds": ["offer"], "by_email": "on", "time_zone": "Mars/Base"})
    assert "Unknown time zone" in bad.content.decode()
    client.post(url, {"kinds": ["offer", "paid"], "by_email": "on", "time_zone": "Europe/London"})
    assert AlertSubscription.objects.get(user=user).kinds == ["offer", "paid"]
