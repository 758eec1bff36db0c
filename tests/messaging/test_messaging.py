"""Offer and conversation services against the emulator (floor, whose turn), and page permissions."""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.actions import Refused
from backoffice.models import ApiCall
from messaging.models import Conversation, Negotiation, OfferPolicy
from messaging.services import accept_offer, counter_offer, decline_offer, mark_read, reply
from tests.conftest import nothing_changes
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db
COUNTER = ("POST", "/api/my/negotiations/{negotiation_id}/counter")
ACCEPT = ("POST", "/api/my/negotiations/{negotiation_id}/accept")


def new_offer(emulator: Any, account: Any, share: str = "0.85") -> Negotiation:
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    payload = simulate(
        emulator,
        "offer",
        listing_id=listing["id"],
        price=str((Decimal(str(listing["price"])) * Decimal(share)).quantize(Decimal("0.01"))),
    )
    resync(account, "listings", "negotiations")
    return Negotiation.objects.select_related("listing").get(account=account, reverb_id=payload["id"])


def test_counter_then_refused_on_buyers_turn(emulator, shop):
    n = new_offer(emulator, shop)
    assert n.is_open and n.listing is not None
    price = (n.listing.price * Decimal("0.95")).quantize(Decimal("0.01"))
    counter_offer(n, actor=None, price=price, shipping_price="0", message="Meet me here?")
    assert not n.actionable and n.last_offered_price == price
    with nothing_changes(emulator, n):
        with pytest.raises(Refused, match="buyer's turn"):
            counter_offer(n, actor=None, price=price)
        with pytest.raises(Refused, match="buyer's turn"):
            accept_offer(n, actor=None)
    assert emulator.requests[COUNTER] == 1 and emulator.requests[ACCEPT] == 0


def test_counter_refusals(emulator, shop):
    n = new_offer(emulator, shop)
    with nothing_changes(emulator, n, n.listing):
        with pytest.raises(Refused, match="above the listing"):
            counter_offer(n, actor=None, price=n.listing.price + 1)
        with pytest.raises(Refused, match="more than 0"):
            counter_offer(n, actor=None, price="0")
        OfferPolicy.objects.update_or_create(account=shop, defaults={"floor_percent": Decimal("90")})
        with pytest.raises(Refused, match="below this shop's floor"):
            counter_offer(n, actor=None, price=(n.listing.price * Decimal("0.8")).quantize(Decimal("0.01")))
    assert emulator.requests[COUNTER] == 0


def test_floor_refuses_accepting_below_it(emulator, shop):
    n = new_offer(emulator, shop, share="0.70")
    OfferPolicy.objects.update_or_create(account=shop, defaults={"floor_percent": Decimal("80")})
    with nothing_changes(emulator, n), pytest.raises(Refused, match="below this shop's floor"):
        accept_offer(n, actor=None)
    assert emulator.requests[ACCEPT] == 0


def test_accept_and_decline(emulator, shop):
    n = new_offer(emulator, shop)
    accept_offer(n, actor=None, message="Deal")
    assert n.state == "accepted"
    with nothing_changes(emulator, n), pytest.raises(Refused, match="accepted"):
        decline_offer(n, actor=None)
    other = new_offer(emulator, shop)
    decline_offer(other, actor=None)
    assert other.state == "declined"


def test_reply_and_mark_read(emulator, shop):
    convo = Conversation.objects.filter(account=shop).first()
    assert convo is not None
    with nothing_changes(emulator, convo), pytest.raises(Refused, match="empty"):
        reply(convo, actor=None, body="   ")
    before = convo.messages.count()
    reply(convo, actor=None, body="Thanks, shipping tomorrow.")
    assert convo.messages.count() == before + 1
    assert convo.messages.order_by("sent_at", "id").last().body == "Thanks, shipping tomorrow."
    mark_read(convo, actor=None, read=False)
    assert convo.unread
    mark_read(convo, actor=None, read=True)
    assert not convo.unread


@pytest.mark.parametrize("role,status", [("Viewer", 403), ("Shipping", 403), ("Customer service", 302)])
def test_offer_and_reply_permissions(emulator, shop, role, status):
    n = new_offer(emulator, shop)
    convo = Conversation.objects.filter(account=shop).first()
    client = Client()
    client.force_login(role_user("u", role))
    with nothing_changes(emulator, n, convo) if status == 403 else contextlib.nullcontext():
        r1 = client.post(
            reverse("admin:messaging_negotiation_offer", args=[n.pk]),
            {"action": "decline", "confirmed": "yes", "once_token": "t-2"},
        )
        r2 = client.post(
            reverse("admin:messaging_conversation_thread", args=[convo.pk]),
            {"action": "reply", "body": "hello", "once_token": "t-1"},
        )
    assert (r1.status_code, r2.status_code) == (status, status)


def test_inbox_and_thread_pages(emulator, shop):
    n = new_offer(emulator, shop)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    inbox = client.get(reverse("admin:messaging_negotiation_inbox")).content.decode()
    assert n.buyer_name in inbox and "yours" in inbox
    convo = Conversation.objects.filter(account=shop).first()
    thread = client.get(reverse("admin:messaging_conversation_thread", args=[convo.pk])).content.decode()
    bodies = list(convo.messages.order_by("sent_at", "id").values_list("body", flat=True))
    positions = [thread.find(b.split("\n")[0][:30]) for b in bodies if b]
    assert positions == sorted(positions)  # oldest to newest
    changelist = client.get(reverse("admin:messaging_conversation_changelist"), {"unread__exact": "1"})
    assert changelist.status_code == 200


REPLY = ("POST", "/api/my/conversations/{conversation_id}/messages")


@pytest.mark.parametrize("which", ["shop", "other_shop"])
def test_reply_goes_through_the_conversations_own_account(emulator, other_emulator, shop, other_shop, which):
    """Two accounts, each on its own Reverb: a reply (service and page) reaches only its own account's."""
    account, own, foreign = {
        "shop": (shop, emulator, other_emulator),
        "other_shop": (other_shop, other_emulator, emulator),
    }[which]
    convo = Conversation.objects.filter(account=account).first()
    assert convo is not None
    reply(convo, actor=None, body="From the service.")
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    response = client.post(
        reverse("admin:messaging_conversation_thread", args=[convo.pk]),
        {"action": "reply", "body": "From the page.", "once_token": "t-2"},
    )
    assert response.status_code == 302
    assert (own.requests[REPLY], foreign.requests[REPLY]) == (2, 0)
    remote = own.store.table("conversations")[int(convo.reverb_id)]
    assert [m["body"] for m in remote["messages"]][-2:] == ["From the service.", "From the page."]
    assert list(convo.messages.order_by("sent_at", "id").values_list("body", flat=True))[-2:] == [
        "From the service.",
        "From the page.",
    ]
    assert set(ApiCall.objects.filter(action="messaging.reply").values_list("account_id", flat=True)) == {
        account.pk
    }


def test_subject_opens_the_thread_with_reply_box_and_marks_it_read(emulator, shop):
    convo = Conversation.objects.filter(account=shop).first()
    mark_read(convo, actor=None, read=False)
    assert convo.unread
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    listing = client.get(reverse("admin:messaging_conversation_changelist")).content.decode()
    thread_url = reverse("admin:messaging_conversation_thread", args=[convo.pk])
    assert f'href="{thread_url}"' in listing
    assert reverse("admin:messaging_conversation_change", args=[convo.pk]) not in listing
    page = client.get(thread_url).content.decode()
    assert page.index('id="thread"') < page.index('id="reply-form"')
    convo.refresh_from_db()
    assert not convo.unread
    stored = {str(k): v for k, v in emulator.store.table("conversations").items()}
    assert stored[convo.reverb_id]["read"] is True
    call = ApiCall.objects.get(action="messaging.mark_read", actor__username="cs")
    assert call.status == ApiCall.Status.SUCCESS


def test_viewer_opening_a_thread_changes_nothing(emulator, shop):
    convo = Conversation.objects.filter(account=shop).first()
    mark_read(convo, actor=None, read=False)
    client = Client()
    client.force_login(role_user("v", "Viewer"))
    with nothing_changes(emulator, convo):
        assert client.get(reverse("admin:messaging_conversation_thread", args=[convo.pk])).status_code == 200


def test_offer_amounts_are_item_plus_shipping_equals_total_on_every_page(emulator, shop):
    n = new_offer(emulator, shop)
    Negotiation.objects.filter(pk=n.pk).update(
        last_offered_price=Decimal("100.00"), last_offered_shipping=Decimal("15.00"), last_offered_total=None
    )
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    pages = [
        client.get(reverse("admin:messaging_negotiation_inbox")),
        client.get(reverse("admin:messaging_negotiation_offer", args=[n.pk])),
        client.get(reverse("admin:index")),
        client.get(reverse("cs_inbox")),
    ]
    for response in pages[:3]:
        html = response.content.decode()
        assert "item <strong>100.00</strong> + shipping 15.00 = total <strong>115.00" in html
        assert f"list price {n.listing.price:.2f}" in html
    assert "115.00" in pages[3].content.decode()


def test_offer_on_a_sold_listing_asks_for_nothing(emulator, shop):
    n = new_offer(emulator, shop)
    n.listing.__class__.objects.filter(pk=n.listing.pk).update(state="sold")
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    offer = client.get(reverse("admin:messaging_negotiation_offer", args=[n.pk])).content.decode()
    assert "listing sold" in offer and 'id="accept-form"' not in offer and 'id="counter-form"' not in offer
    inbox = client.get(reverse("admin:messaging_negotiation_inbox")).content.decode()
    row = re.search(rf'data-negotiation="{n.reverb_id}">(.*?)</tr>', inbox, re.S).group(1)
    assert "listing sold" in row and ">Respond<" not in row
    offer_url = reverse("admin:messaging_negotiation_offer", args=[n.pk])
    assert f'href="{offer_url}"' not in client.get(reverse("cs_inbox")).content.decode()


def test_accepting_asks_first_showing_what_the_buyer_pays(emulator, shop):
    n = new_offer(emulator, shop)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    url = reverse("admin:messaging_negotiation_offer", args=[n.pk])
    with nothing_changes(emulator, n):
        asked = client.post(url, {"action": "accept", "message": "Deal"})
    page = asked.content.decode()
    assert asked.status_code == 200 and f"Yes, sell for {n.offered_total}" in page
    assert emulator.requests[ACCEPT] == 0
    done = client.post(url, {"action": "accept", "message": "Deal", "confirmed": "yes", "once_token": "t-1"})
    assert done.status_code == 302 and emulator.requests[ACCEPT] == 1
    n.refresh_from_db()
    assert n.state == "accepted"
