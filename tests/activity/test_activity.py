"""The audit trail in the admin: the global list (read-only, filterable) and each object's own activity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.models import ApiCall
from tests.factories import (
    AccountFactory,
    ConversationFactory,
    ListingFactory,
    NegotiationFactory,
    OrderFactory,
    RefundRequestFactory,
)
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db


def price_change(account, listing, user, price: str, minutes_ago: int) -> ApiCall:
    return ApiCall.objects.create(
        account=account,
        actor=user,
        action="listings.update",
        target_type="listing",
        target_key=listing.reverb_id,
        request_summary={"price": price},
        status=ApiCall.Status.SUCCESS,
        http_status=200,
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_who_changed_this_price_on_reverb_and_when():
    account = AccountFactory(name="shop")
    listing = ListingFactory(account=account)
    alice = role_user("alice", "Manager")
    bob = role_user("bob", "Customer service")
    price_change(account, listing, alice, "1000.00", 60)
    price_change(account, listing, bob, "899.00", 5)
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("admin:listings_listing_change", args=[listing.pk])).content.decode()
    activity = page[page.index('class="activity-table"') :]
    # Newest first, with who and what was sent.
    assert activity.index("bob") < activity.index("alice")
    assert "price=899.00" in activity and "listings.update" in activity
    listing_url = reverse("admin:backoffice_apicall_changelist")
    everything = client.get(
        listing_url, {"target_type": "listing", "target_key": listing.reverb_id, "actor__id__exact": bob.pk}
    ).content.decode()
    assert "price=899.00" in everything and "price=1000.00" not in everything


@pytest.mark.parametrize(
    "factory,admin_name,target_type,key",
    [
        (OrderFactory, "orders_order", "order", "order_number"),
        (RefundRequestFactory, "refunds_refundrequest", "refund_request", "reverb_id"),
        (NegotiationFactory, "messaging_negotiation", "negotiation", "reverb_id"),
        (ConversationFactory, "messaging_conversation", "conversation", "reverb_id"),
    ],
)
def test_each_object_page_shows_its_own_activity(factory, admin_name, target_type, key):
    account = AccountFactory(name="shop")
    obj = factory(account=account)
    other = factory(account=account)
    user = role_user("m", "Manager")
    for o, action in ((obj, "mine.act"), (other, "other.act")):
        ApiCall.objects.create(
            account=account, actor=user, action=action, target_type=target_type, target_key=getattr(o, key)
        )
    client = Client()
    client.force_login(user)
    page = client.get(reverse(f"admin:{admin_name}_change", args=[obj.pk])).content.decode()
    assert "mine.act" in page and "other.act" not in page


def test_the_trail_is_read_only_for_everyone():
    account = AccountFactory(name="shop")
    call = ApiCall.objects.create(account=account, action="orders.ship", target_type="order", target_key="1")
    client = Client()
    client.force_login(role_user("m", "Manager"))
    assert client.get(reverse("admin:backoffice_apicall_changelist")).status_code == 200
    page = client.get(reverse("admin:backoffice_apicall_change", args=[call.pk])).content.decode()
    assert 'name="_save"' not in page
    assert client.post(reverse("admin:backoffice_apicall_delete", args=[call.pk])).status_code == 403
    assert ApiCall.objects.filter(pk=call.pk).exists()


def test_activity_list_queries_do_not_grow_with_rows():
    account = AccountFactory(name="shop")
    listing = ListingFactory(account=account)
    users = [role_user(f"u{i}", "Manager") for i in range(3)]
    client = Client()
    client.force_login(users[0])
    url = reverse("admin:backoffice_apicall_changelist")
    price_change(account, listing, users[0], "1.00", 1)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for i in range(49):
        price_change(account, listing, users[i % 3], f"{i}.00", i + 2)
    with CaptureQueriesContext(connection) as fifty:
        assert client.get(url).status_code == 200
    assert len(one) == len(fifty)


def test_money_sent_reads_as_amount_and_currency():
    from backoffice.admin.audit import summary_text

    assert summary_text({"price": {"amount": "255.00", "currency": "USD"}, "title": "X"}) == (
        "price=255.00 USD, title=X"
    )
