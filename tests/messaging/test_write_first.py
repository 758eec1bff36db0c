"""Writing first to a buyer from an order (issue 26): a new conversation about the order's listing, saved
replies filled with the order's placeholders, once, scoped to the user's shops, offered to who may write."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from automation.models import SavedReply
from backoffice.models import ApiCall
from messaging.models import Conversation
from orders.models import Order
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db
START = ("POST", "/api/my/conversations")


def writer(role: str = "Customer service") -> Client:
    client = Client()
    client.force_login(role_user("cs", role))
    return client


def order_without_conversation(shop: Any) -> Order:
    order = Order.objects.filter(account=shop).exclude(buyer_id="").exclude(product_id="").first()
    Conversation.objects.filter(account=shop, other_party_id=order.buyer_id).delete()
    return order


def token(html: str) -> str:
    return re.search(r'name="once_token" value="([^"]+)"', html).group(1)


def test_a_clerk_writes_first_from_an_order_with_a_saved_reply_once(emulator: Any, shop: Any) -> None:
    order = order_without_conversation(shop)
    reply = SavedReply.objects.create(
        account=shop, name="Delay notice", body="Hello {buyer_name}, order {order_number} ships Monday."
    )
    client = writer()
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    url = reverse("admin:messaging_conversation_write", args=[order.pk])
    assert "Write to the buyer" in page and url in page
    shown = client.get(f"{url}?saved_reply={reply.pk}").content.decode()
    filled = f"Hello {order.buyer_name}, order {order.order_number} ships Monday."
    assert filled in shown
    before = len(emulator.store.table("conversations"))
    data = {"body": filled, "once_token": token(shown)}
    sent = client.post(url, data)
    conversation = Conversation.objects.get(account=shop, other_party_id=order.buyer_id)
    assert sent["Location"] == reverse("admin:messaging_conversation_thread", args=[conversation.pk])
    assert len(emulator.store.table("conversations")) == before + 1
    assert conversation.messages.last().body == filled
    call = ApiCall.objects.get(action="messaging.start_conversation")
    assert (call.target_type, call.target_key) == ("order", order.order_number)
    client.post(url, data)  # sent twice (a double click): the second does nothing
    assert emulator.requests[START] == 1


def test_an_existing_conversation_is_where_one_writes(emulator: Any, shop: Any) -> None:
    order = order_without_conversation(shop)
    convo = Conversation.objects.filter(account=shop).first()
    Conversation.objects.filter(pk=convo.pk).update(
        other_party_id=order.buyer_id, listing_reverb_id=order.product_id
    )
    answer = writer().get(reverse("admin:messaging_conversation_write", args=[order.pk]))
    assert answer["Location"] == reverse("admin:messaging_conversation_thread", args=[convo.pk])


def test_who_may_not_write_sees_no_button_and_is_refused(emulator: Any, shop: Any) -> None:
    order = order_without_conversation(shop)
    viewer = writer("Viewer")
    page = viewer.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Write to the buyer" not in page
    url = reverse("admin:messaging_conversation_write", args=[order.pk])
    assert viewer.post(url, {"body": "hi"}).status_code == 403
    assert emulator.requests[START] == 0
