"""The shop-scope filter is a list of account ids read once per request user, not a subquery: PostgreSQL's
planner then walks the (account, ...) indexes for a member as it does for a superuser."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from backoffice.access import for_user, may_use
from orders.models import Order
from tests.factories import AccountFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_a_members_filter_is_a_list_of_ids_read_once(strict_membership, django_assert_num_queries) -> None:
    mine, theirs = AccountFactory(name="mine"), AccountFactory(name="theirs")
    kept, _ = OrderFactory(account=mine), OrderFactory(account=theirs)
    user = get_user_model().objects.create_user("clerk", is_staff=True)
    mine.members.add(user)
    with django_assert_num_queries(1):  # the ids, once for this user object
        sql = str(for_user(Order.objects.all(), user).query)
        for_user(Order.objects.all(), user), may_use(user, mine), may_use(user, theirs.pk)
    assert "members" not in sql and f'"account_id" IN ({mine.pk})' in sql
    assert list(for_user(Order.objects.all(), user)) == [kept]


def test_a_membership_change_is_seen_by_the_same_user_object(strict_membership) -> None:
    mine, theirs = AccountFactory(name="mine"), AccountFactory(name="theirs")
    user = get_user_model().objects.create_user("clerk", is_staff=True)
    mine.members.add(user)
    assert may_use(user, mine) and not may_use(user, theirs)
    theirs.members.add(user)
    assert may_use(user, theirs)
    mine.members.remove(user)
    assert not may_use(user, mine)


def test_only_the_scope_lets_a_changelist_estimate_its_count(strict_membership) -> None:
    from backoffice.access import only_scoped

    mine = AccountFactory(name="mine")
    user = get_user_model().objects.create_user("clerk", is_staff=True)
    mine.members.add(user)
    scoped = for_user(Order.objects.all(), user)
    assert only_scoped(scoped) and only_scoped(scoped.order_by("-amount_total"))
    assert not only_scoped(scoped.filter(status="paid")) and not only_scoped(Order.objects.all())
    assert not only_scoped(for_user(Order.objects.filter(status="paid"), user))
