"""A clerk's day with instant alerts (issue 26): a buyer makes an offer, the next pull raises an alert, the
clerk's email links to the offer page, and the clerk answers the offer from there through the money door."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from automation import alerts
from automation.models import AlertKind, AlertSubscription
from messaging.models import Negotiation
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db(transaction=True)
ACCEPT = ("POST", "/api/my/negotiations/{negotiation_id}/accept")


def test_a_clerk_gets_an_offer_alert_and_answers_it_from_its_link(
    page: Any, live_server: Any, admin_login: Any, emulator: Any, shop: Any, settings: Any
) -> None:
    settings.WORKER_BACKEND = "inline"  # the alerts task runs when the pull's write commits
    settings.SITE_URL = live_server.url
    clerk = role_user("cs", "Customer service")
    clerk.email = "cs@shop.example"
    clerk.save()
    AlertSubscription.objects.create(user=clerk, kinds=[AlertKind.OFFER])
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    offered = str(round(float(listing["price"]) * 0.9, 2))  # above the default 70 % floor
    payload = simulate(emulator, "offer", listing_id=listing["id"], price=offered)
    resync(shop, "negotiations")
    assert alerts.send_due() == 1
    (email,) = mail.outbox
    assert email.to == ["cs@shop.example"] and "New offer" in email.body
    link = re.search(rf"{re.escape(live_server.url)}(/admin/\S+)", email.body).group(1)

    admin_login(page, live_server, clerk)
    page.goto(f"{live_server.url}{link}")
    offer = Negotiation.objects.get(account=shop, reverb_id=str(payload["id"]))
    assert f"/admin/messaging/negotiation/{offer.pk}/offer/" == link
    page.click("#accept-form input[type=submit]")
    assert "Yes, sell for" in page.input_value("#confirm-yes")
    assert emulator.requests[ACCEPT] == 0
    page.click("#confirm-yes")
    page.wait_for_selector("#offer-inbox")
    assert emulator.requests[ACCEPT] == 1
