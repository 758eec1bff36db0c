"""One clock: "overdue" and "due today" mean the same on the dashboard, the shipping queue, the order page,
the inbox, the digest and the alerts, on a shop whose midnight is not the server's (Chicago, 23:30 on a
Monday: already Tuesday in UTC)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from automation.alerts import raise_deadlines
from automation.digest import build
from automation.models import Alert, AlertKind, AlertSubscription
from automation.queues import due_queues
from backoffice import deadlines
from backoffice.pages.dashboard import work_queues
from backoffice.pages.inbox import inbox_items
from backoffice.roles import MANAGER
from backoffice.templatetags.shop_time import shop_time
from tests.factories import AccountFactory, OrderFactory, RefundRequestFactory
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 6, 1, 23, 30, tzinfo=CHICAGO)  # Monday 23:30 shop time = Tuesday 04:30 UTC


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


@pytest.fixture
def shop():
    account = AccountFactory(time_zone="America/Chicago", name="Night Owl Music")
    orders = {
        "overdue": local(2026, 6, 1, 23, 0),  # passed half an hour ago
        "today": local(2026, 6, 1, 23, 59, 59),  # the end of the shop's Monday
        "after-midnight": local(2026, 6, 2, 0, 30),  # Tuesday in the shop; "today" in UTC
        "tomorrow": local(2026, 6, 2, 23, 59, 59),
    }
    for n, (name, due) in enumerate(orders.items()):
        OrderFactory(
            account=account,
            order_number=f"80000{n}",
            buyer_name=f"Buyer {n}",
            title=name,
            ship_by=due,
            paid_at=due - timedelta(days=3),
        )
    RefundRequestFactory(
        account=account, order=None, order_number="9501", reverb_id="501", answer_by=local(2026, 6, 1, 22, 0)
    )  # overdue
    RefundRequestFactory(
        account=account, order=None, order_number="9502", reverb_id="502", answer_by=local(2026, 6, 1, 23, 45)
    )  # today
    RefundRequestFactory(
        account=account, order=None, order_number="9503", reverb_id="503", answer_by=local(2026, 6, 2, 1, 0)
    )  # tomorrow
    return account


@pytest.fixture
def manager():
    user = role_user("boss", MANAGER)
    user.email = "boss@shop.test"
    user.save()
    return user


def test_dashboard_queue_order_page_inbox_digest_and_alerts_agree(shop, manager, monkeypatch, settings):
    settings.ALERT_DEADLINE_HOURS = 4
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW.astimezone(ZoneInfo("UTC")))
    client = Client()
    client.force_login(manager)

    # The definition: one count per queue.
    counts = {q.key: (q.overdue, q.today) for q in due_queues(manager, NOW)}
    assert counts["ship"] == (1, 1) and counts["refunds"] == (1, 1)

    # The dashboard shows those counts.
    dash = {q.key: q.count for q in work_queues(manager).queues}
    assert (dash["ship-overdue"], dash["ship-today"]) == counts["ship"]
    assert (dash["refunds-overdue"], dash["refunds-today"]) == counts["refunds"]
    assert dash["ship"] == 4  # every order awaiting shipment, the queue's own rows

    # The shipping queue marks the same rows.
    page = client.get(reverse("admin:orders_order_queue")).content.decode()
    marks = {
        number: mark
        for mark, number in re.findall(r'<tr class="queue-row ?([a-z-]*)" data-order="(\d+)"', page)
    }
    assert marks == {"800000": "overdue", "800001": "due-today", "800002": "", "800003": ""}
    assert "1 overdue</strong>, 1 due today" in page
    assert "by Mon 1 Jun, 23:59 (shop time)" in page and "by Tue 2 Jun, 00:30 (shop time)" in page

    # The order page says the same.
    from orders.models import Order

    for number, words in (("800000", "— overdue"), ("800001", "— due today"), ("800002", "</span>")):
        order = Order.objects.get(order_number=number)
        html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
        ship_by = re.search(r'id="ship-by">(.*?)</span>', html, re.S).group(0)
        assert words in ship_by and "(shop time)" in ship_by
        if number == "800002":
            assert "overdue" not in ship_by and "due today" not in ship_by

    # The inbox: the refund requests' states.
    states = {i.what.split(":")[0]: i.state for i in inbox_items(manager) if i.kind == "refund"}
    assert sorted(states.values()) == sorted([deadlines.OVERDUE, deadlines.TODAY, deadlines.LATER])
    assert sum(1 for s in states.values() if s == deadlines.OVERDUE) == counts["refunds"][0]

    # The digest: the same counts, the same rows.
    digest = build(shop, manager, NOW)
    assert digest.subject == "[Night Owl Music] 2 overdue, 2 due today"
    assert "order 800000" in digest.body and "order 800001" in digest.body
    assert "order 800002" not in digest.body and "order 800003" not in digest.body
    assert re.search(r"\[OVERDUE, by Mon 1 Jun, 23:00 \(shop time\)\] order 800000", digest.body)
    assert re.search(r"\[today, by Mon 1 Jun, 23:59 \(shop time\)\] order 800001", digest.body)

    # The alerts: at risk within 4 hours, told in the same words and the shop's time.
    AlertSubscription.objects.create(user=manager, kinds=[AlertKind.DEADLINE])
    raise_deadlines(NOW)
    texts = sorted(Alert.objects.filter(kind=AlertKind.DEADLINE).values_list("text", flat=True))
    assert texts == [
        "Order 800000 to Buyer 0 was due to ship by Mon 1 Jun, 23:00 (shop time)",
        "Order 800001 to Buyer 1 is due to ship today by Mon 1 Jun, 23:59 (shop time)",
        "Order 800002 to Buyer 2 must ship by Tue 2 Jun, 00:30 (shop time)",
    ]


def test_shop_time_reads_in_the_shops_zone_and_names_another_year():
    when = datetime(2026, 12, 14, 23, 0, tzinfo=ZoneInfo("UTC"))
    now = datetime(2026, 12, 1, tzinfo=ZoneInfo("UTC"))
    account = AccountFactory.build(time_zone="America/Chicago")
    assert shop_time(when, account, now) == "Mon 14 Dec, 17:00 (shop time)"
    assert shop_time(when, "Europe/London", now) == "Mon 14 Dec, 23:00 (shop time)"
    assert shop_time(when, account, datetime(2027, 1, 2, tzinfo=ZoneInfo("UTC"))) == (
        "Mon 14 Dec 2026, 17:00 (shop time)"
    )
    assert shop_time(None, account) == ""


def test_changelists_show_ship_by_and_answer_by_in_shop_time(shop, manager):
    client = Client()
    client.force_login(manager)
    orders = client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "Mon 1 Jun, 23:59 (shop time)" in orders and "2026-06-01" not in orders
    refunds = client.get(reverse("admin:refunds_refundrequest_changelist")).content.decode()
    assert "Mon 1 Jun, 22:00 (shop time)" in refunds
