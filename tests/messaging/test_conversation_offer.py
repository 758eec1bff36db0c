"""An offer to the buyer from a conversation about a listing (issue 26, "write first"): Reverb's conversation
offer through the money door: checked as a counter (above 0, not above the list price, not below the floor)
before the confirmation shows it, nothing sent before "Yes", sent once, recorded, offered to who may answer
offers; the new negotiation reaches the mirror."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.actions import Refused
from backoffice.models import ApiCall
from messaging.models import Conversation, Negotiation, OfferPolicy
from messaging.services import offer_in_conversation
from tests.conftest import nothing_changes
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db
OFFER = ("POST", "/api/conversations/{conversation_id}/offer")


def conversation_about_synth(emulator: Any, account: Any, list_price: str = "535.00") -> Conversation:
    """A buyer asks about a 535 synth (the shop's default floor: 70 %, 374.50)."""
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    listing["price"] = Decimal(list_price)
    made = simulate(emulator, "message", listing_id=listing["id"], body="Any wiggle room on this?")
    resync(account, "listings", "conversations")
    return Conversation.objects.get(account=account, reverb_id=str(made["id"]))


def clerk(role: str = "Customer service") -> Client:
    client = Client()
    client.force_login(role_user("cs", role))
    return client


def token(html: str) -> str:
    return re.search(r'name="once_token" value="([^"]+)"', html).group(1)


def url_of(convo: Conversation) -> str:
    return reverse("admin:messaging_conversation_offer", args=[convo.pk])


# ---- the service ----


def test_the_service_sends_the_offer_once_audited_and_mirrors_the_new_negotiation(emulator, shop):
    convo = conversation_about_synth(emulator, shop)
    n = offer_in_conversation(convo, actor=None, price="480.00", message="480 shipped?")
    assert emulator.requests[OFFER] == 1
    assert (
        n is not None
        and n.buyer_id == convo.other_party_id
        and n.listing_reverb_id == convo.listing_reverb_id
    )
    assert (n.state, n.actionable, n.last_offered_price) == ("active", False, Decimal("480.00"))
    call = ApiCall.objects.get(action="messaging.conversation_offer")
    assert call.status == ApiCall.Status.SUCCESS and (call.target_type, call.target_key) == (
        "conversation",
        convo.reverb_id,
    )
    assert call.request_summary["price"] == "480.00"
    # An open offer with this buyer on this listing now: a second is refused before anything is sent.
    with pytest.raises(Refused, match="already an open offer"), nothing_changes(emulator):
        offer_in_conversation(convo, actor=None, price="470.00")
    assert emulator.requests[OFFER] == 1


@pytest.mark.parametrize(
    "price,reason",
    [
        ("0", "The offer price must be more than 0."),
        ("535.01", "above the listing's price"),
        ("300.00", "below this shop's floor of 374.50"),
    ],
)
def test_the_service_refuses_what_a_counter_would_refuse(emulator, shop, price, reason):
    convo = conversation_about_synth(emulator, shop)
    with pytest.raises(Refused, match=re.escape(reason)), nothing_changes(emulator):
        offer_in_conversation(convo, actor=None, price=price)
    assert emulator.requests[OFFER] == 0
    assert ApiCall.objects.get(action="messaging.conversation_offer").status == ApiCall.Status.REFUSED


def test_the_service_rechecks_the_listing_on_reverb_before_sending(emulator, shop):
    convo = conversation_about_synth(emulator, shop)
    emulator.store.table("listings")[int(convo.listing_reverb_id)]["state"] = "ended"  # ended on Reverb
    with pytest.raises(Refused, match="no longer live"):
        offer_in_conversation(convo, actor=None, price="480.00")
    assert emulator.requests[OFFER] == 0


# ---- the page: the money door ----


def test_the_confirmation_shows_listing_list_price_percent_and_floor_and_nothing_is_sent_before_yes(
    emulator, shop
):
    convo = conversation_about_synth(emulator, shop)
    client = clerk()
    thread = client.get(reverse("admin:messaging_conversation_thread", args=[convo.pk])).content.decode()
    assert url_of(convo) in thread  # the conversation page offers it
    form = client.get(url_of(convo)).content.decode()
    assert (
        'id="conversation-offer-form"' in form
        and "535.00 USD" in form
        and "374.50 USD (70 % of list price)" in form
    )
    with nothing_changes(emulator):
        asked = client.post(url_of(convo), {"price": "481.50", "shipping_price": "0", "message": "Deal?"})
    html = asked.content.decode()
    assert 'id="confirm-form"' in html and "Yes, offer 481.50 USD" in html
    assert f"{convo.listing.title}, list price 535.00 USD" in html
    assert "481.50 USD (90.0 % of list price)" in html and "374.50 USD (70 % of list price)" in html
    assert "Total the buyer would pay" in html and "Deal?" in html
    # A forged "yes" without the page's single-use token sends nothing.
    with nothing_changes(emulator):
        client.post(url_of(convo), {"price": "481.50", "confirmed": "yes"})
    assert emulator.requests[OFFER] == 0
    data = {"price": "481.50", "shipping_price": "0.00", "message": "Deal?", "confirmed": "yes"}
    done = client.post(url_of(convo), {**data, "once_token": token(html)})
    assert done.status_code == 302 and emulator.requests[OFFER] == 1
    assert done["Location"] == reverse("admin:messaging_conversation_thread", args=[convo.pk])
    assert (
        Negotiation.objects.filter(account=shop, buyer_id=convo.other_party_id, state="active").count() == 1
    )
    again = client.post(url_of(convo), {**data, "once_token": token(html)}, follow=True)  # a double submit
    assert again.status_code == 200 and emulator.requests[OFFER] == 1


def test_a_double_submit_of_the_yes_sends_once_even_before_the_offer_is_mirrored(emulator, shop, monkeypatch):
    convo = conversation_about_synth(emulator, shop)
    monkeypatch.setattr("messaging.services.open_offer", lambda offer: None)  # as if no pull had brought it
    client = clerk()
    html = client.post(url_of(convo), {"price": "480.00"}).content.decode()
    data = {"price": "480.00", "confirmed": "yes", "once_token": token(html)}
    assert client.post(url_of(convo), data).status_code == 302
    client.post(url_of(convo), data)
    assert emulator.requests[OFFER] == 1


@pytest.mark.parametrize(
    "price,error",
    [
        ("600.00", "above the listing&#x27;s price 535.00 USD"),
        ("300.00", "below this shop&#x27;s floor of 374.50 USD (70 % of list price)"),
    ],
)
def test_a_bad_amount_is_refused_on_the_form_with_what_was_typed(emulator, shop, price, error):
    convo = conversation_about_synth(emulator, shop)
    with nothing_changes(emulator, convo):
        html = clerk().post(url_of(convo), {"price": price, "message": "Hi"}).content.decode()
    assert error in html and 'id="confirm-form"' not in html
    assert f'name="price" value="{price}"' in html and "Hi</textarea>" in html
    assert emulator.requests[OFFER] == 0


def test_no_floor_set_the_floor_line_says_so(emulator, shop):
    convo = conversation_about_synth(emulator, shop)
    OfferPolicy.objects.filter(account=shop).update(floor_percent=None)
    html = clerk().post(url_of(convo), {"price": "100.00"}).content.decode()
    assert 'id="confirm-form"' in html and "none set" in html


def test_a_conversation_about_no_listing_offers_nothing(emulator, shop):
    made = simulate(emulator, "message", body="Do you buy gear?")
    resync(shop, "conversations")
    convo = Conversation.objects.get(account=shop, reverb_id=str(made["id"]))
    client = clerk()
    assert (
        url_of(convo)
        not in client.get(reverse("admin:messaging_conversation_thread", args=[convo.pk])).content.decode()
    )
    html = client.get(url_of(convo)).content.decode()
    assert "not about a listing" in html and 'id="conversation-offer-form"' not in html
    with nothing_changes(emulator):
        client.post(url_of(convo), {"price": "10.00"})


@pytest.mark.parametrize("role", ["Viewer", "Bookkeeper", "Shipping"])
def test_who_may_not_answer_offers_may_not_make_one(emulator, shop, role):
    convo = conversation_about_synth(emulator, shop)
    client = clerk(role)
    thread = client.get(reverse("admin:messaging_conversation_thread", args=[convo.pk]))
    assert url_of(convo) not in thread.content.decode()
    assert client.get(url_of(convo)).status_code == 403
    with nothing_changes(emulator):
        assert client.post(url_of(convo), {"price": "480.00", "confirmed": "yes"}).status_code == 403
