"""Offer answers at the same moment, for real (threads on PostgreSQL against the in-process emulator):
an accept that sells a one-item listing and a rule or an approval answering another offer on it never
both land (no answer after the sale); the kill switch turned on while approvals run stops them."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from automation import offers
from automation.models import AutomationSettings, Mode, OfferRule, PlannedAction
from messaging import services
from messaging.models import Negotiation
from tests.concurrency import concurrency, errors, run_at_once
from tests.orders.helpers import resync, simulate

pytestmark = [*concurrency, pytest.mark.django_db(transaction=True)]
ANSWERS = ("accept", "decline", "counter")
ROUNDS = 6


def record_answers(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str, str, int]]:
    """(time, negotiation id, verb, status) of every offer answer the emulator handled, in the order it
    handled them (the recorder holds the emulator's own lock around each request)."""
    log: list[tuple[float, str, str, int]] = []
    handle = emulator.handle

    def recording(method: str, path: str, *args: Any) -> Any:
        with emulator.lock:
            response = handle(method, path, *args)
            parts = path.strip("/").split("/")
            if method == "POST" and parts[:3] == ["api", "my", "negotiations"] and parts[-1] in ANSWERS:
                log.append((time.monotonic(), parts[3], parts[-1], response.status))
        return response

    monkeypatch.setattr(emulator, "handle", recording)
    return log


def one_item_listing(emulator: Any, account: Any, index: int) -> dict[str, Any]:
    with emulator.lock:
        listings = sorted(emulator.store.table("listings").values(), key=lambda x: x["id"])
        listing = [x for x in listings if x.get("state") in ("live", "sold")][index % 3]
        listing.update(state="live", inventory=1)
    resync(account, "listings")
    return listing


def offer_on(emulator: Any, listing: dict[str, Any], share: str) -> str:
    price = (Decimal(str(listing["price"])) * Decimal(share)).quantize(Decimal("0.01"))
    return str(simulate(emulator, "offer", listing_id=listing["id"], price=str(price))["id"])


def test_an_accept_and_another_answer_on_a_one_item_listing_never_both_land(emulator, shop, monkeypatch):
    rule = OfferRule.objects.create(
        account=shop, name="Guitars", mode=Mode.PLAN, floor=Decimal("70"), target=Decimal("90")
    )
    log = record_answers(emulator, monkeypatch)
    for round_ in range(ROUNDS):
        listing = one_item_listing(emulator, shop, round_)
        accepted, other = offer_on(emulator, listing, "0.95"), offer_on(emulator, listing, "0.80")
        resync(shop, "negotiations")
        by_rule = round_ % 2 == 0  # even rounds: an act-mode rule; odd rounds: a person approving a plan
        OfferRule.objects.filter(pk=rule.pk).update(mode=Mode.ACT if by_rule else Mode.PLAN)
        if by_rule:
            second = partial(offers.run, shop, [other])
        else:
            (plan,) = offers.run(shop, [other])
            second = partial(offers.approve, [plan], actor=None)
        accept = partial(
            services.accept_offer, Negotiation.objects.get(account=shop, reverb_id=accepted), actor=None
        )
        outcomes = run_at_once(lambda fn: fn(), [(accept,), (second,)])
        assert not errors(outcomes), errors(outcomes)
        done = [(key, verb) for _, key, verb, status in log if status < 400 and key in (accepted, other)]
        assert (accepted, "accept") in done, (round_, done)
        after_sale = done[done.index((accepted, "accept")) + 1 :]
        assert not after_sale, f"round {round_}: answered after the sale: {after_sale}"
        ours = {int(accepted), int(other)}
        orders = [o for o in emulator.store.table("orders").values() if o.get("negotiation_id") in ours]
        assert len(orders) == 1, f"round {round_}: {len(orders)} orders for one item"


def test_the_kill_switch_turned_on_while_approvals_run_stops_them(emulator, shop, monkeypatch):
    OfferRule.objects.create(
        account=shop, name="Guitars", mode=Mode.PLAN, floor=Decimal("70"), target=Decimal("90")
    )
    with emulator.lock:
        listing = next(x for x in emulator.store.table("listings").values() if x.get("state") == "live")
        listing["inventory"] = 50
    resync(shop, "listings")
    keys = [offer_on(emulator, listing, "0.80") for _ in range(12)]
    resync(shop, "negotiations")
    planned = offers.run(shop, keys)
    assert len(planned) == 12
    log = record_answers(emulator, monkeypatch)
    first_answer = threading.Event()
    switched: list[float] = []

    def approve_all() -> Any:
        return offers.approve(list(PlannedAction.objects.filter(status="planned")), actor=None)

    def pull_the_switch() -> None:
        assert first_answer.wait(60)
        AutomationSettings.objects.update_or_create(account=shop, defaults={"rules_paused": True})
        switched.append(time.monotonic())

    watcher = threading.Thread(target=lambda: _set_on_first(log, first_answer), daemon=True)
    watcher.start()
    outcomes = run_at_once(lambda fn: fn(), [(approve_all,), (approve_all,), (pull_the_switch,)])
    watcher.join(5)
    assert errors(outcomes) and all(isinstance(e, offers.Paused) for e in errors(outcomes)), errors(outcomes)
    late = [entry for entry in log if entry[0] > switched[0]]
    assert len(late) <= 2, f"sent after the switch (beyond the two already in flight): {late}"
    statuses = list(PlannedAction.objects.values_list("status", flat=True))
    assert set(statuses) == {"planned", "sent"}, statuses  # the rest waits for a person, none failed
    assert statuses.count("sent") == len([e for e in log if e[3] < 400])


def _set_on_first(log: list[Any], event: threading.Event) -> None:
    deadline = time.monotonic() + 60
    while not log and time.monotonic() < deadline:
        time.sleep(0.001)
    event.set()


def test_the_offer_claim_is_one_holder_at_a_time_and_refuses_after_waiting(db):
    from backoffice import locks

    inside, leave = threading.Event(), threading.Event()

    def holder() -> None:
        with locks.hold("test:listing-1"), locks.hold("test:listing-1"):  # re-entrant in one thread
            inside.set()
            leave.wait(30)

    def other() -> str:
        assert inside.wait(30)
        try:
            with locks.hold("test:listing-1", wait=0.3):
                return "held"
        except locks.Busy:
            leave.set()
        with locks.hold("test:listing-1", wait=30):  # free once the holder left
            return "waited"

    outcomes = run_at_once(lambda fn: fn(), [(holder,), (other,)])
    assert not errors(outcomes) and outcomes[1].value == "waited"
