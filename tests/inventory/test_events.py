"""Events out: signed deliveries with retries, the delivery log with replay, the outbox (one sender per
endpoint, oldest first), endpoints going half-open and coming back by themselves; and the watcher that turns
mirror changes into events and Reverb sales."""

from __future__ import annotations

import hashlib
import hmac
import importlib
from datetime import timedelta
from typing import Any

import requests
from django.contrib.auth.models import Group, User
from django.core import mail
from django.utils import timezone

from backoffice.models import ReverbAccount
from inventory import events, services
from inventory.models import EventDelivery, EventEndpoint, StockIntent
from listings.models import Listing
from tests.factories import OrderFactory
from tests.inventory import receiver
from tests.inventory.conftest import inventory_listing

receiver_factory = receiver.receiver_factory  # the fixture


def endpoint_for(url: str, **extra: Any) -> tuple[EventEndpoint, str]:
    endpoint = EventEndpoint(name="shop", url=url, **extra)
    secret = endpoint.new_secret()
    endpoint.save()
    return endpoint, secret


def make_due() -> None:
    EventDelivery.objects.update(next_try_at=timezone.now() - timezone.timedelta(seconds=1))


def test_a_delivery_failing_twice_succeeds_on_the_third_try_signed(db: Any, receiver_factory: Any) -> None:
    receiver = receiver_factory([500, 503, 200])
    endpoint, secret = endpoint_for(receiver.url)
    events.emit("order.paid", None, {"order_number": "42"})
    assert events.deliver_due() == 0
    delivery = EventDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_try_at > timezone.now()
    assert events.deliver_due() == 0 and len(receiver.seen) == 1  # not due yet: backoff
    make_due()
    assert events.deliver_due() == 0
    make_due()
    assert events.deliver_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(receiver.seen) == 3
    headers, body = receiver.seen[-1]
    assert events.verify(secret, headers["X-Backoffice-Timestamp"], body, headers["X-Backoffice-Signature"])
    assert not events.verify(
        "whsec_other", headers["X-Backoffice-Timestamp"], body, headers["X-Backoffice-Signature"]
    )
    assert not events.verify(
        secret, headers["X-Backoffice-Timestamp"], body + b" ", headers["X-Backoffice-Signature"]
    )
    assert headers["X-Backoffice-Event"] == "order.paid"
    assert b'"order_number":"42"' in body
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_old_timestamps_fail_verification(db: Any) -> None:
    body = b"{}"
    old = int(timezone.now().timestamp()) - 3600
    assert not events.verify("s", str(old), body, events.sign("s", old, body))


def test_replay_sends_the_same_event_again(db: Any, receiver_factory: Any) -> None:
    receiver = receiver_factory([200, 200])
    endpoint_for(receiver.url)
    (first,) = events.emit("listing.ended", None, {"listing_id": "1"})
    events.deliver_due()
    again = events.replay(first)
    events.deliver_due()
    again.refresh_from_db()
    assert again.status == "delivered" and again.event_id == first.event_id and len(receiver.seen) == 2


def manager_of(account: ReverbAccount | None, name: str, role: str = "Manager") -> User:
    user = User.objects.create_user(name, f"{name}@example.com", "pw")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    if account is not None:
        user.reverb_accounts.add(account)
    return user


def sent_events(receiver: Any) -> list[str]:
    return [p["data"]["n"] for p in receiver.payloads() if p["data"].get("n") is not None]


def test_an_outage_keeps_the_events_and_the_endpoint_comes_back_by_itself(
    db: Any, receiver_factory: Any, settings: Any
) -> None:
    settings.ADMINS = [("Ops", "ops@example.com")]
    receiver = receiver_factory([500] * 25)  # down for 25 attempts (minutes of 500s), then well again
    endpoint, _ = endpoint_for(receiver.url)
    events.emit("order.paid", None, {"n": 0})
    rounds = 0
    while len(receiver.seen) < 25:
        events.emit("order.paid", None, {"n": rounds + 1})  # raised while it is down
        events.deliver_due()
        make_due()
        rounds += 1
    endpoint.refresh_from_db()
    # Each attempt counted once; one request per round: only the oldest delivery probes (no flood).
    assert endpoint.consecutive_failures == 25 == rounds
    assert endpoint.enabled and endpoint.down_since is not None and "HTTP 500" in endpoint.down_reason
    assert set(EventDelivery.objects.values_list("status", flat=True)) == {"pending"}  # nothing given up
    assert len(mail.outbox) == 1 and "ops@example.com" in mail.outbox[0].to  # told once
    assert endpoint.url in mail.outbox[0].body
    events.deliver_due()  # the receiver is back: the probe succeeds and the backlog follows
    endpoint.refresh_from_db()
    assert (endpoint.down_since, endpoint.consecutive_failures) == (None, 0)
    assert set(EventDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert sent_events(receiver)[25:] == list(range(rounds + 1))  # all of them, oldest first, once each
    assert len(mail.outbox) == 2 and "back" in mail.outbox[1].subject


def test_the_people_responsible_are_told_when_an_endpoint_goes_down(
    db: Any, receiver_factory: Any, settings: Any, account: ReverbAccount
) -> None:
    settings.ADMINS = [("Ops", "ops@example.com")]
    other = ReverbAccount.objects.create(name="other", api_url=account.api_url)
    User.objects.create_superuser("root", "root@example.com", "pw")
    manager_of(account, "boss")
    manager_of(other, "elsewhere")  # another shop's Manager: not theirs
    manager_of(account, "looker", role="Viewer")  # cannot fix an endpoint
    receiver = receiver_factory([500] * 25)
    endpoint_for(receiver.url, account=account)
    events.emit("order.paid", account, {})
    for _ in range(25):
        events.deliver_due()
        make_due()
    (notice,) = mail.outbox  # once
    assert sorted(notice.to) == ["boss@example.com", "ops@example.com", "root@example.com"]


def test_a_person_disabled_endpoint_stays_disabled(db: Any, receiver_factory: Any, admin_client: Any) -> None:
    receiver = receiver_factory([])
    endpoint, _ = endpoint_for(receiver.url)
    events.emit("order.paid", None, {"n": 1})
    admin_client.post(
        f"/admin/inventory/eventendpoint/{endpoint.pk}/change/",
        {
            "name": "shop",
            "url": receiver.url,
            "events": [],
            "deliveries-TOTAL_FORMS": 0,
            "deliveries-INITIAL_FORMS": 0,
        },
    )
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_at and endpoint.down_since is None
    assert events.emit("order.paid", None, {"n": 2}) == []  # nothing is made for it
    assert events.deliver_due() == 0 and receiver.seen == []
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    EventEndpoint.objects.filter(pk=endpoint.pk).update(enabled=True)  # a person turns it on again
    assert events.deliver_due() == 1 and sent_events(receiver) == [1]


def test_deliveries_waiting_longer_than_the_retention_are_given_up(
    db: Any, receiver_factory: Any, settings: Any
) -> None:
    settings.EVENT_RETENTION_DAYS = 2
    receiver = receiver_factory([])
    endpoint_for(receiver.url)
    events.emit("order.paid", None, {"n": 1})
    events.emit("order.paid", None, {"n": 2})
    first = EventDelivery.objects.order_by("id").first()
    EventDelivery.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2, hours=1))
    assert events.deliver_due() == 1 and sent_events(receiver) == [2]
    first.refresh_from_db()
    assert first.status == "failed" and "2 days" in first.last_error


def test_a_refused_delivery_is_tried_exactly_the_documented_number_of_times(
    db: Any, receiver_factory: Any
) -> None:
    receiver = receiver_factory([400] * 50)
    endpoint_for(receiver.url)
    events.emit("order.paid", None, {"n": 1})
    events.emit("order.paid", None, {"n": 2})  # waits behind the first
    assert events.MAX_ATTEMPTS == 6 == len(events.RETRY_DELAYS) + 1  # README: "given up after 6 attempts"
    delays = []
    for _ in range(20):
        before = timezone.now()
        events.deliver_due()
        first = EventDelivery.objects.order_by("id").first()
        if first.status != "pending":
            break
        delays.append(first.next_try_at - before)
        make_due()
    assert first.attempts == 6 and first.status == "failed" and first.last_status_code == 400
    assert [round(d.total_seconds() / 30) * 30 for d in delays] == [
        d.total_seconds() for d in events.RETRY_DELAYS
    ]  # the backoff, one delay between each two attempts
    events.deliver_due()  # then the next one goes
    assert sent_events(receiver) == [1] * 6 + [2]


def test_the_signature_covers_the_timestamp_and_the_body(db: Any, receiver_factory: Any) -> None:
    receiver = receiver_factory([])
    _, secret = endpoint_for(receiver.url)
    events.emit("order.paid", None, {"n": 1})
    events.deliver_due()
    ((headers, body),) = receiver.seen
    ts = headers["X-Backoffice-Timestamp"]
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Backoffice-Signature"] == f"sha256={expected}"
    assert events.verify(secret, ts, body, f"sha256={expected}")
    assert not events.verify(secret, str(int(ts) - 1), body, f"sha256={expected}")  # another time
    assert not events.verify(secret, ts, body + b" ", f"sha256={expected}")


def test_a_second_worker_during_a_slow_send_sends_nothing_twice(
    db: Any, receiver_factory: Any, monkeypatch: Any
) -> None:
    receiver = receiver_factory([])
    endpoint_for(receiver.url)
    for n in range(3):
        events.emit("order.paid", None, {"n": n})
    real_post = requests.Session.post
    second: list[int] = []

    def slow_post(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not second:  # while the first send waits for the receiver, another worker's turn comes
            second.append(-1)
            second[0] = events.deliver_due()
        return real_post(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", slow_post)
    events.deliver_due()
    ids = [p["id"] for p in receiver.payloads()]
    assert second == [0] and len(ids) == 3 == len(set(ids))
    assert sent_events(receiver) == [0, 1, 2]


def test_a_listings_events_leave_after_the_order_that_caused_them(
    account: ReverbAccount, emulator: Any, receiver_factory: Any
) -> None:
    receiver = receiver_factory([])
    endpoint_for(receiver.url)
    listing = inventory_listing(account)
    assert events.watch(account) == {}  # the baseline
    OrderFactory(
        account=account,
        order_number="9101",
        status="paid",
        listing=listing,
        product_id=listing.reverb_id,
        quantity=listing.inventory,
        sku=listing.sku,
        last_synced_at=timezone.now(),
    )
    Listing.objects.filter(pk=listing.pk).update(state="sold_out", inventory=0, last_synced_at=timezone.now())
    events.watch(account)
    events.deliver_due()
    assert [p["event"] for p in receiver.payloads()] == ["order.paid", "listing.sold_out", "stock.changed"]


def test_endpoints_get_only_their_events_and_account(db: Any, account: ReverbAccount) -> None:
    other = ReverbAccount.objects.create(name="other", api_url=account.api_url)
    endpoint_for("http://127.0.0.1:9/a", events=["order.paid"], account=account)
    assert len(events.emit("order.paid", account, {})) == 1
    assert events.emit("order.shipped", account, {}) == []
    assert events.emit("order.paid", other, {}) == []


def test_watcher_raises_events_and_applies_reverb_sales(account: ReverbAccount, emulator: Any) -> None:
    endpoint_for("http://127.0.0.1:9/all")
    listing = inventory_listing(account)
    services.set_stock(account, [{"sku": listing.sku, "quantity": 5}], source="api")
    services.drain(account)
    assert events.watch(account) == {}  # the first look is a baseline
    OrderFactory(  # not linked to its listing yet: found by its product id
        account=account,
        order_number="9001",
        status="paid",
        product_id=listing.reverb_id,
        quantity=2,
        sku=listing.sku,
        last_synced_at=timezone.now(),
    )
    shipped = OrderFactory(account=account, order_number="9002", status="paid", last_synced_at=timezone.now())
    # Reverb lowered its quantity for the sale: the shop hears it as a stock change on Reverb too.
    Listing.objects.filter(pk=listing.pk).update(inventory=3, last_synced_at=timezone.now())
    counts = events.watch(account)
    assert counts == {"sales": 1, "order.paid": 2, "stock.changed": 1}
    assert StockIntent.objects.get().quantity == 3
    assert events.watch(account) == {}  # seen once
    shipped.status = "shipped"
    shipped.last_synced_at = timezone.now()
    shipped.save()
    Listing.objects.filter(pk=listing.pk).update(state="sold_out", inventory=0, last_synced_at=timezone.now())
    counts = events.watch(account)
    assert counts == {"order.shipped": 1, "listing.sold_out": 1, "stock.changed": 1}
    assert set(EventDelivery.objects.values_list("event", flat=True)) == {
        "order.paid",
        "order.shipped",
        "listing.sold_out",
        "stock.changed",
    }


def test_the_admin_shows_a_down_endpoint_and_probes_it_on_request(
    db: Any, receiver_factory: Any, admin_client: Any
) -> None:
    receiver = receiver_factory([503] * 3)
    endpoint, _ = endpoint_for(receiver.url)
    events.emit("order.paid", None, {"n": 1})
    for n in range(3):
        if n:
            make_due()
        events.deliver_due()
    assert events.deliver_due() == 0 and len(receiver.seen) == 3  # the next probe is minutes away
    assert "Down: probing by itself" in admin_client.get("/admin/inventory/eventendpoint/").content.decode()
    admin_client.post(
        "/admin/inventory/eventendpoint/", {"action": "probe_now", "_selected_action": [endpoint.pk]}
    )
    assert events.deliver_due() == 1 and len(receiver.seen) == 4
    assert "Up" in admin_client.get("/admin/inventory/eventendpoint/").content.decode()


def test_endpoints_the_old_code_disabled_by_itself_become_half_open(db: Any) -> None:
    from django.apps import apps

    migration = importlib.import_module("inventory.migrations.0003_event_outbox_half_open")
    since = timezone.now() - timedelta(hours=1)
    by_itself, _ = endpoint_for(
        "http://127.0.0.1:9/a",
        enabled=False,
        disabled_at=since,
        disabled_reason="20 failed attempts in a row; last: HTTP 500",
    )
    by_a_person, _ = endpoint_for("http://127.0.0.1:9/b", enabled=False, disabled_at=since)
    migration.half_open_the_self_disabled(apps, None)
    by_itself.refresh_from_db()
    by_a_person.refresh_from_db()
    assert by_itself.enabled and by_itself.down_since == since and not by_itself.disabled_at
    assert not by_a_person.enabled and by_a_person.down_since is None


def test_a_receiver_at_a_private_address_is_refused_unless_allowed(
    db: Any, receiver_factory: Any, settings: Any
) -> None:
    """Deliveries go out through the one outbound helper (backoffice/outbound.py), as feeds and chat do:
    a loopback receiver gets nothing unless OUTBOUND_ALLOW_PRIVATE; the attempt recorded, the event kept."""
    settings.OUTBOUND_ALLOW_PRIVATE = False
    rec = receiver_factory([200])
    endpoint_for(rec.url)
    events.emit("order.paid", None, {"n": 1})
    assert events.deliver_due() == 0 and rec.seen == []
    delivery = EventDelivery.objects.get()
    assert delivery.status == "pending" and "private or loopback" in delivery.last_error
    settings.OUTBOUND_ALLOW_PRIVATE = True
    make_due()
    assert events.deliver_due() == 1 and len(rec.seen) == 1
