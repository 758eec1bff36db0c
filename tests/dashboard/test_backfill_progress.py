"""The dashboard shows each first pull's progress and its honest time left: requests left at the account's
paced rate, and "today's work complete" once the deadline lists are whole (issue 28)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User

from backoffice.models import Backfill
from backoffice.sync.backfill import _step
from backoffice.sync.engine import HISTORY, TODAY
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def steps(shipping_pages_read: int) -> list[dict[str, Any]]:
    shipping = _step("orders", "orders awaiting shipment", TODAY, "walk", 0)
    shipping.update(opened=True, pages=shipping_pages_read, total_pages=100, requests=shipping_pages_read)
    shipping["done"] = shipping_pages_read == 100
    history = _step("orders", "orders, newest first", HISTORY, "stream", 0)
    history.update(opened=True, pages=1, total_pages=1201, requests=1)
    return [shipping, history]


def test_the_time_left_for_todays_work_then_for_the_rest(admin_client: Any, settings: Any) -> None:
    settings.REVERB_RATE_PER_SECOND, settings.BACKFILL_SHARE = 1.0, 1.0
    account = AccountFactory(name="big-shop")
    row = Backfill.objects.create(account=account, steps=steps(40), requests=41)

    html = admin_client.get("/admin/").content.decode()
    assert 'id="backfill-' in html and "big-shop: first pull" in html
    # 60 pages of the shipping queue left at 1 request/s: a minute.
    assert "still reading today's work: about a minute left" in html
    assert "the queues below are not complete yet" in html
    assert "Everything: about 21 minutes" in html  # 60 + 1200 requests

    row.steps = steps(100)
    row.today_done_at = row.started_at
    row.requests = 101
    row.save()
    html = admin_client.get("/admin/").content.decode()
    assert "today's work complete" in html and "Now reading history" in html
    assert "1200 left, about 20 minutes at 1 request/s" in html


def test_a_shops_first_pull_shows_only_to_its_people(client: Any, strict_membership: None) -> None:
    mine = AccountFactory(name="mine")
    theirs = AccountFactory(name="theirs")
    Backfill.objects.create(account=mine, steps=steps(1))
    Backfill.objects.create(account=theirs, steps=steps(1))
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    mine.members.add(user)
    client.force_login(user)
    html = client.get("/admin/").content.decode()
    assert 'data-account="mine"' in html and 'data-account="theirs"' not in html
