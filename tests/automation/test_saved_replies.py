"""Saved replies: placeholders filled for the conversation, chosen in the reply box, edited before sending;
managed by Managers only."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from automation.models import SavedReply
from automation.replies import fill, values_for
from messaging.models import Conversation
from orders.models import Order
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db
BODY = "Hi {buyer_name}, order {order_number} ({listing_title}) ships today: {tracking_link}. {unknown}"


def test_fill_replaces_known_placeholders_only():
    values = {"buyer_name": "Ann", "order_number": "123", "tracking_link": "", "listing_title": "Strat"}
    assert fill(BODY, values) == "Hi Ann, order 123 (Strat) ships today: . {unknown}"


def test_values_for_a_conversation_with_its_order(emulator, shop):
    convo = Conversation.objects.filter(account=shop).select_related("listing").first()
    order = Order(order_number="555", buyer_name="B", title="T", tracking_code="1Z9", shipping_provider="UPS")
    order.raw = {"_links": {"web_tracking": {"href": "https://track.example/1Z9"}}}
    values = values_for(convo, order)
    assert values["order_number"] == "555" and values["tracking_link"] == "https://track.example/1Z9"
    assert values["buyer_name"] == convo.other_party_name
    order.raw = {}
    assert values_for(convo, order)["tracking_link"] == "UPS 1Z9"


def test_chosen_in_the_reply_box_and_edited_before_sending(emulator, shop):
    convo = Conversation.objects.filter(account=shop).select_related("listing").first()
    saved = SavedReply.objects.create(account=shop, name="Shipping today", body=BODY)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    url = reverse("admin:messaging_conversation_thread", args=[convo.pk])
    page = html.unescape(client.get(url).content.decode())
    assert "Shipping today" in page and f"Hi {convo.other_party_name}," in page  # in the chooser
    prefilled = html.unescape(client.get(url, {"saved_reply": saved.pk}).content.decode())
    textarea = prefilled.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert f"Hi {convo.other_party_name}," in textarea  # filled into the box, nothing sent yet
    before = convo.messages.count()
    edited = f"Hi {convo.other_party_name}, it ships tomorrow instead."
    token = re.search(r'name="once_token" value="([^"]+)"', prefilled).group(1)  # the form's single-use token
    assert client.post(url, {"action": "reply", "body": edited, "once_token": token}).status_code == 302
    assert convo.messages.order_by("sent_at", "id").last().body == edited
    assert convo.messages.count() == before + 1


def test_managed_by_managers_only():
    cs, manager = role_user("cs", "Customer service"), role_user("m", "Manager")
    assert cs.has_perm("automation.view_savedreply") and not cs.has_perm("automation.add_savedreply")
    assert manager.has_perm("automation.add_savedreply") and manager.has_perm("automation.change_savedreply")
