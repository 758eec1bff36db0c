"""Browser test (issue 15): a Manager sets an offer rule in plan mode, a buyer's offer arrives, the planned
counter appears in the planned list, the Manager approves it and the emulator has the counter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from automation.models import OfferRule, PlannedAction
from messaging.models import Negotiation
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db(transaction=True)
COUNTER = ("POST", "/api/my/negotiations/{negotiation_id}/counter")


def test_manager_plans_then_approves_a_counter(page, live_server, admin_login, emulator, shop, settings: Any):
    settings.WORKER_BACKEND = "inline"  # the pull of offers wakes the rules at once
    admin_login(page, live_server, role_user("boss", "Manager"))
    page.goto(f"{live_server.url}/admin/automation/offerrule/add/")
    page.select_option("select[name=account]", str(shop.pk))
    page.fill("input[name=name]", "Counter at 90%")
    page.select_option("select[name=mode]", "plan")
    page.fill("input[name=floor]", "70")
    page.fill("input[name=target]", "90")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    rule = OfferRule.objects.get(name="Counter at 90%")
    assert rule.mode == "plan"

    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    price = (Decimal(str(listing["price"])) * Decimal("0.80")).quantize(Decimal("0.01"))
    offer = simulate(emulator, "offer", listing_id=listing["id"], price=str(price))
    resync(shop, "negotiations")
    negotiation = Negotiation.objects.get(account=shop, reverb_id=offer["id"])
    action = PlannedAction.objects.get(negotiation=negotiation)
    target = (Decimal(str(listing["price"])) * Decimal("0.90")).quantize(Decimal("0.01"))
    assert (action.verb, action.price, action.status) == ("counter", target, "planned")
    assert emulator.requests[COUNTER] == 0

    page.goto(f"{live_server.url}/admin/automation/plannedaction/?status__exact=planned")
    row = page.locator("#result_list tr", has_text=f"Counter at {target}")
    assert row.count() == 1
    row.locator("button.approve-one").click()
    page.wait_for_selector("#will-send-each")  # the confirmation first: nothing sent yet
    assert emulator.requests[COUNTER] == 0 and f"Counter at {target}" in page.inner_text("#will-send-each")
    page.click("#confirm-yes")
    page.wait_for_selector(".messagelist")
    assert "1 sent to Reverb" in page.locator(".messagelist").inner_text()
    last = emulator.store.table("negotiations")[int(offer["id"])]["offers"][-1]
    assert (last["initiator"], last["price"]) == ("seller", target)
    action.refresh_from_db()
    assert action.status == "sent" and emulator.requests[COUNTER] == 1


def test_saved_reply_fills_the_reply_box_for_editing(page, live_server, admin_login, emulator, shop):
    from automation.models import SavedReply
    from messaging.models import Conversation

    convo = Conversation.objects.filter(account=shop).first()
    saved = SavedReply.objects.create(account=shop, name="Thanks", body="Thanks {buyer_name}!")
    admin_login(page, live_server, role_user("cs", "Customer service"))
    page.goto(f"{live_server.url}/admin/messaging/conversation/{convo.pk}/thread/")
    page.select_option("#saved-reply", str(saved.pk))
    box = page.locator("#reply-form textarea")
    assert box.input_value() == f"Thanks {convo.other_party_name}!"  # filled under the CSP, nothing sent
    box.fill(f"Thanks {convo.other_party_name}, it ships today.")
    page.click("#reply-form input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert convo.messages.order_by("sent_at", "id").last().body.endswith("it ships today.")
