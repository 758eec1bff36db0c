"""Events out under overlap, for real (PostgreSQL, threads, a loopback receiver): concurrent delivery runs
send each event once, oldest first per endpoint; an outage loses nothing, each attempt counts once, and
the endpoint comes back by itself. Time is driven by moving the deliveries' next try, not by sleeping."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from inventory import events
from inventory.models import EventDelivery, EventEndpoint
from tests.concurrency import concurrency, errors, run_at_once
from tests.factories import AccountFactory, OrderFactory
from tests.inventory import receiver

pytestmark = concurrency
receiver_factory = receiver.receiver_factory  # the fixture


def endpoint_for(url: str, name: str) -> EventEndpoint:
    endpoint = EventEndpoint(name=name, url=url)
    endpoint.new_secret()
    endpoint.save()
    return endpoint


def numbers(rec: Any) -> list[int]:
    return [p["data"]["n"] for p in rec.payloads()]


@pytest.fixture(autouse=True)
def no_worker(settings: Any) -> None:
    settings.WORKER_BACKEND = "none"  # the tests run deliver_due themselves, at the same time


@pytest.mark.django_db(transaction=True)
def test_a_slow_receiver_gets_each_event_once_oldest_first(receiver_factory: Any) -> None:
    slow, other = receiver_factory([], delay=1.5), receiver_factory([], delay=1.0)
    endpoint_for(slow.url, "slow")
    endpoint_for(other.url, "other")
    for n in range(4):
        events.emit("order.paid", None, {"n": n})
    outcomes = run_at_once(events.deliver_due, [(), (), ()])
    assert errors(outcomes) == []
    assert sum(o.value for o in outcomes) == 8
    assert numbers(slow) == [0, 1, 2, 3] and numbers(other) == [0, 1, 2, 3]  # once each, oldest first
    assert set(EventDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


@pytest.mark.django_db(transaction=True)
def test_an_outage_loses_nothing_and_the_endpoint_comes_back_by_itself(
    receiver_factory: Any, settings: Any
) -> None:
    settings.ADMINS = [("Ops", "ops@example.com")]
    failing = 12
    rec = receiver_factory([500] * failing, delay=0.2)  # down, then well again
    endpoint = endpoint_for(rec.url, "shop")
    raised = 0
    for _ in range(failing + 5):
        events.emit("order.paid", None, {"n": raised})  # raised while it is down: kept
        raised += 1
        assert errors(run_at_once(events.deliver_due, [(), (), ()])) == []
        EventDelivery.objects.filter(status="pending").update(next_try_at=timezone.now())  # time passes
        if events.DOWN_AFTER <= len(rec.seen) < failing:  # half-open: enabled, down, counted once each
            endpoint.refresh_from_db()
            assert endpoint.enabled and endpoint.down_since is not None
            assert endpoint.consecutive_failures == len(rec.seen)
        if EventDelivery.objects.filter(status="pending").count() == 0:
            break
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.down_since is None and endpoint.consecutive_failures == 0
    assert set(EventDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert numbers(rec)[failing:] == list(range(raised))  # every event once, oldest first
    assert set(numbers(rec)[:failing]) == {0}  # only the oldest probed while it was down
    # Each attempt counted once: the endpoint went down once and came back once.
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["Event endpoint down", "Event endpoint back"]
    first = EventDelivery.objects.order_by("id").first()
    assert first.attempts == failing + 1


@pytest.mark.django_db(transaction=True)
def test_two_watchers_of_one_account_raise_an_event_once() -> None:
    account = AccountFactory(name="watched")
    endpoint_for("http://127.0.0.1:9/unused", "shop")
    events.watch(account)  # the baseline
    for n in range(5):
        OrderFactory(account=account, order_number=f"77{n}", status="paid", last_synced_at=timezone.now())
    assert errors(run_at_once(events.watch, [(account,), (account,), (account,)])) == []
    paid = list(EventDelivery.objects.filter(event="order.paid").values_list("payload__data__order_number"))
    assert sorted(paid) == [(f"77{n}",) for n in range(5)]  # each order's event once
