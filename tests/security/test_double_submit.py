"""Issue 16 item 5: a form that creates on Reverb is single-use, and one SKU is created once even when two
requests race (the claim on account + SKU)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice import once
from backoffice.actions import Refused
from backoffice.models import ApiCall, ReverbAccount
from listings import services
from listings.models import Listing
from tests.factories import EXCELLENT, AccountFactory

pytestmark = pytest.mark.django_db

URL = "admin:listings_listing_create"


def on_reverb(emulator: Any, sku: str) -> list[dict[str, Any]]:
    return [row for row in emulator.store.tables["listings"].values() if row.get("sku") == sku]


def form(account: ReverbAccount, token: str, **extra: str) -> dict[str, Any]:
    data = {
        "account": account.pk,
        "sku": "DUP-1",
        "make": "Gibson",
        "model": "SG",
        "condition": EXCELLENT,
        "price": "900",
        "offers_enabled": "on",
        once.FIELD: token,
    }
    data.update(extra)
    return data


def token_of(client: Client, url: str = "") -> str:
    page = client.get(url or reverse(URL)).content.decode()
    found = re.search(r'name="once_token" value="([^"]+)"', page)
    assert found, "the create form carries a single-use token"
    return found.group(1)


def test_the_same_create_form_sent_twice_creates_one_listing(admin_client: Client, emulator: Any) -> None:
    account = AccountFactory()
    token = token_of(admin_client)
    first = admin_client.post(reverse(URL), form(account, token))
    assert first.status_code == 302
    second = admin_client.post(reverse(URL), form(account, token), follow=True)
    assert "already sent" in second.content.decode()
    assert len(on_reverb(emulator, "DUP-1")) == 1
    assert ApiCall.objects.filter(action="listings.create").count() == 1
    assert Listing.objects.filter(sku="DUP-1").count() == 1
    # The second answer leads to what the first made.
    made = reverse("admin:listings_listing_change", args=[Listing.objects.get().pk])
    assert second.redirect_chain[-1][0] == made


def test_a_create_form_without_a_token_creates_nothing(admin_client: Client, emulator: Any) -> None:
    account = AccountFactory()
    response = admin_client.post(reverse(URL), form(account, ""))
    assert response.status_code == 302
    assert on_reverb(emulator, "DUP-1") == []
    assert not ApiCall.objects.filter(action="listings.create").exists()


def test_a_refused_create_gives_the_token_back(admin_client: Client, emulator: Any) -> None:
    account = AccountFactory()
    token = token_of(admin_client)
    refused = admin_client.post(reverse(URL), form(account, token, make=""))
    assert refused.status_code == 200
    done = admin_client.post(reverse(URL), form(account, token))
    assert done.status_code == 302
    assert len(on_reverb(emulator, "DUP-1")) == 1


def test_a_sku_being_created_elsewhere_is_not_created_again(emulator: Any, admin_user: Any) -> None:
    account = AccountFactory()
    data = {
        "sku": "RACE-1",
        "make": "Gibson",
        "model": "SG",
        "condition": {"uuid": EXCELLENT},
        "price": {"amount": "900", "currency": "USD"},
    }
    with once.claim(f"listings.create:{account.pk}:RACE-1"), pytest.raises(Refused, match="being created"):
        services.create_listing(account, data, actor=admin_user)
    assert on_reverb(emulator, "RACE-1") == []
    # Once the other request is done, the claim is free again (and the SKU lookup runs first).
    services.create_listing(account, data, actor=admin_user)
    services.create_listing(account, data, actor=admin_user)
    assert len(on_reverb(emulator, "RACE-1")) == 1


# ---- the other forms that send something Reverb does not dedupe: a reply, a seller refund ----


def send_twice(user: Any, url: str, data: dict[str, str]) -> Client:
    """Load the form (or, for a confirmed form, its confirmation page), send it, send it again with the same
    token: the second is told it was sent."""
    client = Client()
    client.force_login(user)
    if data.get("confirmed") == "yes":
        unconfirmed = {k: v for k, v in data.items() if k != "confirmed"}
        page = client.post(url, unconfirmed).content.decode()
        token = re.search(r'name="once_token" value="([^"]+)"', page).group(1)
    else:
        token = token_of(client, url)
    data = {**data, once.FIELD: token}
    assert client.post(url, data).status_code == 302
    again = client.post(url, data, follow=True)
    assert "already sent" in again.content.decode()
    return client


def test_a_reply_sent_twice_is_sent_once(emulator: Any, shop: Any) -> None:
    from messaging.models import Conversation
    from tests.orders.helpers import role_user

    convo = Conversation.objects.filter(account=shop).first()
    url = reverse("admin:messaging_conversation_thread", args=[convo.pk])
    client = send_twice(
        role_user("cs", "Customer service"), url, {"action": "reply", "body": "Only once, please."}
    )
    remote = emulator.store.table("conversations")[int(convo.reverb_id)]
    assert [m["body"] for m in remote["messages"]].count("Only once, please.") == 1
    assert client.post(url, {"action": "reply", "body": "No token"}).status_code == 302
    remote = emulator.store.table("conversations")[int(convo.reverb_id)]
    assert "No token" not in [m["body"] for m in remote["messages"]]


def test_a_seller_refund_sent_twice_is_sent_once(emulator: Any, shop: Any) -> None:
    from orders.models import Order
    from refunds.models import RefundRequest
    from tests.orders.helpers import resync, role_user, simulate

    number = simulate(emulator, "new_order")["order_number"]
    resync(shop, "orders")
    order = Order.objects.get(account=shop, order_number=number)
    url = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    send_twice(
        role_user("cs", "Customer service"), url, {"reason": "other", "amount": "1.00", "confirmed": "yes"}
    )
    sent = ApiCall.objects.filter(action="refunds.request").exclude(status=ApiCall.Status.REFUSED)
    assert sent.count() == 1
    assert RefundRequest.objects.filter(order_number=number).count() <= 1


def test_a_page_older_than_a_week_sends_nothing_and_says_why(
    admin_client: Client, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = AccountFactory()
    token = token_of(admin_client)
    real_time = once.time.time
    monkeypatch.setattr(once.time, "time", lambda: real_time() + once.TOKEN_LIFETIME.total_seconds() + 60)
    response = admin_client.post(reverse(URL), form(account, token), follow=True)
    assert "more than a week old" in response.content.decode()
    assert on_reverb(emulator, "DUP-1") == []
    # Its key was never taken, and a fresh page goes through.
    assert not once.OnceKey.objects.filter(key__endswith=token).exists()
    monkeypatch.setattr(once.time, "time", real_time)
    assert admin_client.post(reverse(URL), form(account, token_of(admin_client))).status_code == 302
    assert len(on_reverb(emulator, "DUP-1")) == 1
