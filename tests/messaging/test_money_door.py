"""The money door for offers (issue 24): every answer goes through the confirmation kit, which shows exactly
what will be sent and is never shown for an answer that would be refused; typed values survive an error;
nothing reaches the emulator before "Yes"; new accounts get a default floor a Manager can change."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from messaging.defaults import DEFAULT_FLOOR_PERCENT
from messaging.models import Conversation, Negotiation, OfferPolicy
from tests.conftest import nothing_changes
from tests.factories import AccountFactory
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db
COUNTER = ("POST", "/api/my/negotiations/{negotiation_id}/counter")
ACCEPT = ("POST", "/api/my/negotiations/{negotiation_id}/accept")
DECLINE = ("POST", "/api/my/negotiations/{negotiation_id}/decline")


def synth_offer(
    emulator: Any, account: Any, list_price: str = "535.00", offered: str = "449.40"
) -> Negotiation:
    """The case seen in use: a 535 synth, the buyer offers 449.40 (84 % of list price)."""
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    listing["price"] = Decimal(list_price)
    payload = simulate(emulator, "offer", listing_id=listing["id"], price=offered)
    resync(account, "listings", "negotiations")
    return Negotiation.objects.select_related("listing").get(account=account, reverb_id=payload["id"])


def clerk() -> Client:
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    return client


def token(html: str) -> str:
    return re.search(r'name="once_token" value="([^"]+)"', html).group(1)


def url_of(n: Negotiation) -> str:
    return reverse("admin:messaging_negotiation_offer", args=[n.pk])


@pytest.mark.parametrize(
    "price,error",
    [
        ("10.00", "not above the buyer&#x27;s offer"),  # 10.00 on a 535 synth offered 449.40
        ("449.40", "not above the buyer&#x27;s offer"),
        ("600.00", "above the listing&#x27;s price"),
    ],
)
def test_a_bad_counter_is_refused_before_the_confirmation_and_keeps_what_was_typed(
    emulator, shop, price, error
):
    n = synth_offer(emulator, shop)
    client = clerk()
    with nothing_changes(emulator, n):
        page = client.post(url_of(n), {"action": "counter", "price": price, "message": "Hi there"})
    html = page.content.decode()
    assert page.status_code == 200 and 'id="confirm-form"' not in html and "Yes, counter" not in html
    assert html.count(error) == 1  # the error once, on the form
    assert f'name="price" value="{price}"' in html and "Hi there</textarea>" in html  # typed values kept
    assert emulator.requests[COUNTER] == 0


def test_a_counter_below_the_floor_is_refused_before_the_confirmation(emulator, shop):
    n = synth_offer(emulator, shop, offered="300.00")
    OfferPolicy.objects.update_or_create(account=shop, defaults={"floor_percent": Decimal("80")})
    with nothing_changes(emulator, n):
        html = clerk().post(url_of(n), {"action": "counter", "price": "400.00"}).content.decode()
    assert "below this shop&#x27;s floor of 428.00 USD (80 % of list price)" in html
    assert 'id="confirm-form"' not in html and 'name="price" value="400.00"' in html


def test_the_counter_confirmation_shows_exactly_what_is_sent_then_yes_sends_it_once(emulator, shop):
    n = synth_offer(emulator, shop)
    client = clerk()
    with nothing_changes(emulator, n):
        asked = client.post(url_of(n), {"action": "counter", "price": "500.00", "shipping_price": "0"})
    html = asked.content.decode()
    assert 'id="confirm-form"' in html and "Yes, counter at 500.00 USD" in html
    assert "500.00 USD (93.5 % of list price)" in html  # amount, currency, percent of list price
    assert "449.40 USD (84.0 % of list price) + shipping 95.00 USD = 544.40 USD in all" in html  # the offer
    assert "Total the buyer would pay" in html and "374.50 USD (70 % of list price)" in html  # the floor
    data = {"action": "counter", "price": "500.00", "shipping_price": "0.00", "confirmed": "yes"}
    done = client.post(url_of(n), {**data, "once_token": token(html)})
    assert done.status_code == 302 and emulator.requests[COUNTER] == 1
    again = client.post(url_of(n), {**data, "once_token": token(html)}, follow=True)
    # Sent again (a reload): refused on the form before the token is even spent; nothing sent twice.
    assert "buyer&#x27;s turn" in again.content.decode() and emulator.requests[COUNTER] == 1


def test_going_back_from_the_counter_confirmation_keeps_the_typed_price(emulator, shop):
    n = synth_offer(emulator, shop)
    with nothing_changes(emulator, n):
        back = clerk().post(url_of(n), {"action": "counter", "price": "510.00", "back": "1"})
    assert 'name="price" value="510.00"' in back.content.decode()


def test_accepting_below_the_floor_is_refused_before_the_confirmation(emulator, shop):
    n = synth_offer(emulator, shop, offered="300.00")  # 56 % of list price, under the default 70 % floor
    with nothing_changes(emulator, n):
        html = clerk().post(url_of(n), {"action": "accept", "message": "Deal"}).content.decode()
    assert "below this shop&#x27;s floor" in html and 'id="confirm-form"' not in html
    assert "Deal</textarea>" in html and emulator.requests[ACCEPT] == 0


def test_accept_confirmation_shows_the_total_and_percent(emulator, shop):
    n = synth_offer(emulator, shop)
    with nothing_changes(emulator, n):
        html = clerk().post(url_of(n), {"action": "accept"}).content.decode()
    assert "Yes, sell for 544.40 USD" in html and "84.0 % of list price" in html


def test_decline_with_a_message_is_confirmed_then_sent_in_the_buyers_conversation(emulator, shop):
    n = synth_offer(emulator, shop)
    convo = Conversation.objects.filter(account=shop).first()
    Conversation.objects.filter(pk=convo.pk).update(
        listing_reverb_id=n.listing_reverb_id, other_party_id=n.buyer_id
    )
    client = clerk()
    data = {"action": "decline", "message": "Sorry, not this low."}
    with nothing_changes(emulator, n):
        asked = client.post(url_of(n), data).content.decode()
    assert "Yes, decline the offer and send the message" in asked and "Sorry, not this low." in asked
    done = client.post(url_of(n), {**data, "confirmed": "yes", "once_token": token(asked)})
    assert done.status_code == 302 and emulator.requests[DECLINE] == 1
    assert convo.messages.order_by("sent_at", "id").last().body == "Sorry, not this low."


def test_decline_with_a_message_but_no_conversation_starts_one_after_the_confirmation(emulator, shop):
    n = synth_offer(emulator, shop)
    Conversation.objects.filter(account=shop, other_party_id=n.buyer_id).delete()
    before = len(emulator.store.table("conversations"))
    client = clerk()
    data = {"action": "decline", "message": "Bye"}
    with nothing_changes(emulator, n):
        asked = client.post(url_of(n), data).content.decode()
    assert 'id="confirm-form"' in asked and "or a new one" in asked
    client.post(url_of(n), {**data, "confirmed": "yes", "once_token": token(asked)})
    assert emulator.requests[DECLINE] == 1
    assert len(emulator.store.table("conversations")) == before + 1  # POST /my/conversations


def test_decline_with_a_message_to_a_buyer_reverb_did_not_name_is_refused_first(emulator, shop):
    n = synth_offer(emulator, shop)
    Negotiation.objects.filter(pk=n.pk).update(buyer_id="")
    n.refresh_from_db()
    with nothing_changes(emulator, n):
        html = clerk().post(url_of(n), {"action": "decline", "message": "Bye"}).content.decode()
    assert "did not say who this buyer is" in html and 'id="confirm-form"' not in html


def test_a_new_account_gets_the_default_floor_a_manager_can_change():
    account = AccountFactory()
    policy = OfferPolicy.objects.get(account=account)
    assert policy.floor_percent == DEFAULT_FLOOR_PERCENT == Decimal("70")
    url = reverse("admin:messaging_offerpolicy_change", args=[policy.pk])
    manager = Client()
    manager.force_login(role_user("boss", "Manager"))
    assert manager.post(url, {"account": account.pk, "floor_percent": "65"}).status_code == 302
    policy.refresh_from_db()
    assert policy.floor_percent == Decimal("65")
    clerk_client = Client()
    clerk_client.force_login(role_user("cs", "Customer service"))
    assert clerk_client.post(url, {"account": account.pk, "floor_percent": "10"}).status_code == 403


@pytest.mark.parametrize("role", ["Viewer", "Bookkeeper"])
def test_read_only_roles_see_no_answer_buttons(emulator, shop, role):
    n = synth_offer(emulator, shop)
    client = Client()
    client.force_login(role_user("ro", role))
    html = client.get(url_of(n)).content.decode()
    if client.get(url_of(n)).status_code == 200:
        assert 'id="counter-form"' not in html and 'id="accept-form"' not in html
    with nothing_changes(emulator, n):
        forged = client.post(url_of(n), {"action": "counter", "price": "500.00", "confirmed": "yes"})
    assert forged.status_code == 403
