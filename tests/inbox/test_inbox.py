"""The customer-service inbox: what awaits the shop, oldest first, each linked to where it is answered."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.pages.inbox import inbox_items, kinds
from backoffice.pages.paging import PAGE_SIZE
from messaging.models import Conversation, Negotiation
from refunds.models import RefundRequest
from tests.factories import AccountFactory
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db


def fill(account, n: int) -> None:
    now = timezone.now()
    for i in range(n):
        RefundRequest.objects.create(
            account=account,
            reverb_id=f"r{i}",
            state="pending_seller_response",
            order_number=f"o{i}",
            remote_created_at=now - timedelta(hours=30 - i),
        )
        Negotiation.objects.create(
            account=account,
            reverb_id=f"n{i}",
            state="active",
            actionable=True,
            buyer_name=f"buyer{i}",
            remote_updated_at=now - timedelta(hours=20 - i),
            expires_at=now + timedelta(hours=i + 1),
        )
        Conversation.objects.create(
            account=account,
            reverb_id=f"c{i}",
            subject=f"question {i}",
            unread=True,
            last_message_at=now - timedelta(hours=10 - i),
        )


def test_inbox_lists_oldest_first_with_deadlines_and_links():
    account = AccountFactory(name="shop")
    fill(account, 2)
    RefundRequest.objects.create(account=account, reverb_id="done", state="approved")
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    html = client.get(reverse("cs_inbox")).content.decode()
    kinds = re.findall(r'data-kind="(\w+)"', html)
    assert kinds == ["refund", "refund", "offer", "offer", "conversation", "conversation"]
    assert "overdue" in html  # the first refund request is 30 hours old: its 24 hours are up
    first = RefundRequest.objects.get(reverb_id="r0")
    assert reverse("admin:refunds_refundrequest_respond", args=[first.pk]) in html
    offer = Negotiation.objects.get(reverb_id="n0")
    assert reverse("admin:messaging_negotiation_offer", args=[offer.pk]) in html
    convo = Conversation.objects.get(reverb_id="c0")
    assert reverse("admin:messaging_conversation_thread", args=[convo.pk]) in html


def test_inbox_is_linked_from_the_dashboard_and_index_and_counts_agree():
    account = AccountFactory(name="shop")
    fill(account, 1)
    RefundRequest.objects.create(account=account, reverb_id="cond", state="conditionally_approved")
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    index = client.get(reverse("admin:index")).content.decode()
    assert index.count(f'href="{reverse("cs_inbox")}"') >= 2
    queue = client.get(reverse("admin:refunds_refundrequest_queue")).content.decode()
    assert f'href="{reverse("admin:refunds_refundrequest_queue")}"' in index
    count = re.search(r'data-queue="refunds">.*?<td class="count"><a [^>]*>(\d+)</a>', index, re.S)
    assert int(count.group(1)) == queue.count("data-refund=") == 2


def test_shipping_clerk_sees_the_inbox_without_answer_buttons():
    fill(AccountFactory(name="shop"), 1)
    client = Client()
    client.force_login(role_user("ship", "Shipping"))
    html = client.get(reverse("cs_inbox")).content.decode()
    assert html.count('class="button inbox-open"') == 3
    assert ">Respond<" not in html and ">Reply<" not in html
    assert "/respond/" not in html


def test_inbox_queries_do_not_grow_with_rows():
    account = AccountFactory(name="shop")
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    fill(account, 1)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("cs_inbox"))
    RefundRequest.objects.all().delete()
    Negotiation.objects.all().delete()
    Conversation.objects.all().delete()
    fill(account, 50)
    with CaptureQueriesContext(connection) as fifty:
        assert client.get(reverse("cs_inbox")).status_code == 200
    assert len(one) == len(fifty)


def interleaved(account, n: int) -> None:
    """n of each kind, waiting since 3n, 3n-1, ... minutes ago in turn: every page holds all three kinds."""
    now = timezone.now()
    for i in range(n):
        RefundRequest.objects.create(
            account=account,
            reverb_id=f"r{i}",
            state="pending_seller_response",
            order_number=f"o{i}",
            remote_created_at=now - timedelta(minutes=3 * (n - i)),
        )
        Negotiation.objects.create(
            account=account,
            reverb_id=f"n{i}",
            state="active",
            actionable=True,
            buyer_name=f"buyer{i}",
            remote_created_at=now - timedelta(days=30),
            remote_updated_at=now - timedelta(minutes=3 * (n - i) - 1),
        )
        Conversation.objects.create(
            account=account,
            reverb_id=f"c{i}",
            subject=f"question {i}",
            unread=True,
            last_message_at=now - timedelta(minutes=3 * (n - i) - 2),
        )


# admin frame and session (7), the user's shops 1, then per kind: count 1, the first keys 1, the page's rows 1
INBOX_QUERIES = 17


@pytest.mark.parametrize("n, p", [(1, 1), (PAGE_SIZE // 3 + 20, 1), (PAGE_SIZE // 3 + 20, 2)])
def test_inbox_query_count_is_constant_per_page(n, p, django_assert_num_queries):
    interleaved(AccountFactory(name="shop"), n)
    client = Client()
    client.force_login(role_user("cs", "Customer service"))
    client.get(reverse("cs_inbox"))  # warm the session and permission caches
    with django_assert_num_queries(INBOX_QUERIES):
        response = client.get(reverse("cs_inbox"), {"p": p})
    assert response.status_code == 200 and {i.kind for i in response.context["items"]} == set(kinds())


def test_inbox_pages_keep_the_oldest_first_order_across_kinds(strict_membership):
    n = PAGE_SIZE // 3 + 20
    shop = AccountFactory(name="shop")
    interleaved(shop, n)
    interleaved(AccountFactory(name="theirs"), 2)  # another shop's items are never counted nor shown
    client = Client()
    user = role_user("cs", "Customer service")
    shop.members.add(user)
    client.force_login(user)
    first = client.get(reverse("cs_inbox"))
    second = client.get(reverse("cs_inbox"), {"p": 2})
    items = first.context["items"] + second.context["items"]
    assert len(first.context["items"]) == PAGE_SIZE and len(items) == 3 * n
    assert [i.since for i in items] == sorted(i.since for i in items)
    assert [i.kind for i in items[:3]] == ["refund", "offer", "conversation"]
    assert first.context["pager"].total == 3 * n and 'rel="next"' in first.content.decode()
    assert items == inbox_items(user)
    offers = client.get(reverse("cs_inbox"), {"kind": "offer"})
    assert [i.kind for i in offers.context["items"]] == ["offer"] * n
    assert f"Offers</strong> ({n})" in offers.content.decode()
