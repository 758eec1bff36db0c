"""The refund queue and the offers page at a big shop's size: 100 a page (backoffice/pages/paging.py), in
their deadline order across pages, and the same queries whatever the rows (a per-row read fails here)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backoffice.pages.paging import PAGE_SIZE
from tests.factories import AccountFactory, NegotiationFactory, RefundRequestFactory
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db

REFUNDS = "admin:refunds_refundrequest_queue"
OFFERS = "admin:messaging_negotiation_inbox"
# admin frame and session (8 with the session save), the user's shops, then a count and the page's rows (with
# their orders or listings and shops joined): nothing per row
PAGE_QUERIES = {REFUNDS: 10, OFFERS: 10}


def refunds(account, n: int) -> list:
    """n open requests (each with its order), the first to answer made last."""
    now = timezone.now()
    return [
        RefundRequestFactory(account=account, answer_by=now + timedelta(hours=n - i), remote_created_at=now)
        for i in range(n)
    ]


def offers(account, n: int) -> list:
    """n active offers (each on its listing), the first to expire made last."""
    now = timezone.now()
    return [NegotiationFactory(account=account, expires_at=now + timedelta(hours=n - i)) for i in range(n)]


MAKE = {REFUNDS: refunds, OFFERS: offers}


def manager_of(account) -> Client:
    client = Client()
    user = role_user("manager", "Manager")
    account.members.add(user)
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", [REFUNDS, OFFERS])
@pytest.mark.parametrize("n, p", [(1, 1), (PAGE_SIZE + 20, 1), (PAGE_SIZE + 20, 2)])
def test_query_count_is_constant_per_page(url, n, p, strict_membership, django_assert_num_queries):
    shop = AccountFactory(name="shop")
    MAKE[url](shop, n)
    client = manager_of(shop)
    client.get(reverse(url))  # warm the session and permission caches
    with django_assert_num_queries(PAGE_QUERIES[url]):
        assert client.get(reverse(url), {"p": p}).status_code == 200


@pytest.mark.parametrize("url", [REFUNDS, OFFERS])
def test_pages_keep_the_deadline_order_and_the_whole_count(url, strict_membership):
    shop = AccountFactory(name="shop")
    made = MAKE[url](shop, PAGE_SIZE + 20)
    MAKE[url](AccountFactory(name="theirs"), 3)  # another shop's rows are never counted nor shown
    client = manager_of(shop)
    first, second = client.get(reverse(url)), client.get(reverse(url), {"p": 2})
    row = (lambda r: r[0].pk) if url == REFUNDS else (lambda r: r.pk)
    shown = [row(r) for r in first.context["rows"]] + [row(r) for r in second.context["rows"]]
    assert len(first.context["rows"]) == PAGE_SIZE
    assert shown == [m.pk for m in reversed(made)]  # the first deadline first, over both pages
    assert first.context["pager"].total == PAGE_SIZE + 20
    html = first.content.decode()
    assert 'rel="next"' in html and f"{PAGE_SIZE + 20} " in html
