"""Events out: signed deliveries with retries, the delivery log with replay, endpoints disabled after
repeated failures; and the watcher that turns mirror changes into events and Reverb sales."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.utils import timezone

from backoffice.models import ReverbAccount
from inventory import events, services
from inventory.models import EventDelivery, EventEndpoint, StockIntent
from listings.models import Listing
from tests.factories import OrderFactory
from tests.inventory.conftest import inventory_listing


class Receiver:
    """A loopback HTTP server answering the given status codes in turn, recording each request."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        self.seen: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.seen.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else b"nope")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(codes: list[int]) -> Receiver:
        made.append(Receiver(codes))
        return made[-1]

    yield make
    for r in made:
        r.close()


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


def test_endpoint_is_disabled_after_repeated_failures_with_a_notice(
    db: Any, receiver_factory: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(events, "DISABLE_AFTER", 3)
    manager = User.objects.create_user("boss", "boss@example.com", "pw")
    manager.groups.add(Group.objects.get_or_create(name="Manager")[0])
    receiver = receiver_factory([500] * 10)
    endpoint, _ = endpoint_for(receiver.url)
    for n in range(3):
        events.emit("order.shipped", None, {"n": n})
    events.deliver_due()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_at and "3 failed attempts" in endpoint.disabled_reason
    assert mail.outbox and "boss@example.com" in mail.outbox[0].to and endpoint.url in mail.outbox[0].body
    assert events.emit("order.shipped", None, {}) == []  # a disabled endpoint gets nothing new


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
