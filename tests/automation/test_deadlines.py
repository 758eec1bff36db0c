"""Deadlines: business days across a weekend, a holiday and a daylight-saving change; the stored columns
filled on sync; overdue / due today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from automation.models import Holiday
from backoffice import deadlines

CHICAGO = ZoneInfo("America/Chicago")
UTC = ZoneInfo("UTC")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def test_ship_by_on_weekdays_is_the_third_business_day_end():
    # Paid Monday 2026-06-01 10:00 Chicago: Tue, Wed, Thu -> Thursday 23:59:59 Chicago.
    assert deadlines.ship_by(local(2026, 6, 1, 10), CHICAGO) == local(2026, 6, 4, 23, 59, 59)


def test_ship_by_skips_the_weekend():
    # Paid Thursday: Fri, (Sat, Sun skipped), Mon, Tue.
    assert deadlines.ship_by(local(2026, 6, 4, 9), CHICAGO) == local(2026, 6, 9, 23, 59, 59)
    # Paid on Saturday: Mon, Tue, Wed.
    assert deadlines.ship_by(local(2026, 6, 6, 12), CHICAGO) == local(2026, 6, 10, 23, 59, 59)


def test_ship_by_skips_the_accounts_holidays():
    holidays = {date(2026, 6, 5), date(2026, 6, 8)}  # Friday and Monday off
    assert deadlines.ship_by(local(2026, 6, 4, 9), CHICAGO, holidays) == local(2026, 6, 11, 23, 59, 59)


def test_ship_by_uses_the_shops_local_date_of_payment():
    # 03:00 UTC on Tuesday is still Monday evening in Chicago: the count starts from Monday.
    paid = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
    assert deadlines.ship_by(paid, CHICAGO) == local(2026, 6, 4, 23, 59, 59)


def test_ship_by_across_the_daylight_saving_change():
    # US DST ends Sunday 2026-11-01: paid Friday Oct 30 (CDT, UTC-5) -> Mon, Tue, Wed Nov 4 (CST, UTC-6).
    due = deadlines.ship_by(local(2026, 10, 30, 16), CHICAGO)
    assert due.astimezone(CHICAGO).replace(tzinfo=None) == datetime(2026, 11, 4, 23, 59, 59)
    assert due == datetime(2026, 11, 5, 5, 59, 59, tzinfo=UTC)  # -6 h, not the -5 h of the payment day
    # And into summer time (Sunday 2026-03-08): paid Friday Mar 6 (CST) -> Wed Mar 11 (CDT, UTC-5).
    assert deadlines.ship_by(local(2026, 3, 6, 16), CHICAGO) == datetime(2026, 3, 12, 4, 59, 59, tzinfo=UTC)


def test_answer_by_and_offer_expiry():
    opened = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert deadlines.answer_by(opened) == opened + timedelta(hours=24)
    assert deadlines.answer_by(None) is None
    expires = datetime(2026, 3, 9, tzinfo=UTC)
    assert deadlines.offer_expiry(expires, opened) == expires
    assert deadlines.offer_expiry(None, opened) == opened + timedelta(hours=48)
    assert deadlines.offer_expiry(None, None) is None


def test_due_state_in_the_shops_day():
    now = local(2026, 6, 1, 20)  # 20:00 Chicago = 01:00 UTC the next day
    assert deadlines.due_state(local(2026, 6, 1, 19), now, CHICAGO) == deadlines.OVERDUE
    assert deadlines.due_state(local(2026, 6, 1, 23, 59, 59), now, CHICAGO) == deadlines.TODAY
    assert deadlines.due_state(local(2026, 6, 2, 0, 0, 1), now, CHICAGO) == deadlines.LATER
    assert deadlines.due_state(None, now, CHICAGO) is None


# ---- stored columns, filled when the mirror writes --------------------------------------------------------


@pytest.mark.django_db
def test_sync_fills_ship_by_and_answer_by_and_holidays_refill(emulator, shop):
    from orders.models import Order
    from refunds.models import RefundRequest

    paid = Order.objects.filter(account=shop, paid_at__isnull=False)
    assert paid.exists() and not paid.filter(ship_by__isnull=True).exists()
    tz = deadlines.zone(shop.time_zone)
    order = paid.filter(status="paid").order_by("pk").first() or paid.order_by("pk").first()
    assert order.ship_by == deadlines.ship_by(order.paid_at, tz)
    refunds = RefundRequest.objects.filter(account=shop, remote_created_at__isnull=False)
    for refund in refunds:
        assert refund.answer_by == refund.remote_created_at + timedelta(hours=24)

    waiting = Order.objects.filter(account=shop, status="paid", paid_at__isnull=False).first()
    if waiting is None:
        pytest.skip("the tiny shop has no order waiting to ship")
    before = waiting.ship_by
    local_day = waiting.paid_at.astimezone(tz).date()
    next_business = deadlines.add_business_days(local_day, 1)
    Holiday.objects.create(account=shop, date=next_business, name="Closed")
    waiting.refresh_from_db()
    assert waiting.ship_by > before
    Holiday.objects.filter(account=shop).delete()
    waiting.refresh_from_db()
    assert waiting.ship_by == before


@pytest.mark.django_db
def test_due_queues_count_overdue_and_today_in_each_shops_day(django_assert_num_queries):
    from automation.queues import due_queues
    from tests.factories import AccountFactory, OrderFactory

    now = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)  # Monday 21:00 in Chicago, already Tuesday in UTC
    chicago = AccountFactory(time_zone="America/Chicago")
    london = AccountFactory(time_zone="Europe/London")
    OrderFactory(account=chicago, ship_by=now - timedelta(minutes=1))  # overdue
    OrderFactory(account=chicago, ship_by=local(2026, 6, 1, 23, 59, 59))  # due today in Chicago
    OrderFactory(account=chicago, ship_by=local(2026, 6, 2, 23, 59, 59))  # tomorrow in Chicago
    OrderFactory(account=london, ship_by=datetime(2026, 6, 2, 22, 59, 59, tzinfo=UTC))  # today in London
    OrderFactory(account=london, ship_by=now - timedelta(days=2), status="shipped")  # not waiting
    with django_assert_num_queries(4):
        queues = {q.key: q for q in due_queues(None, now)}
    assert (queues["ship"].overdue, queues["ship"].today) == (1, 2)
    assert (queues["refunds"].overdue, queues["refunds"].today) == (0, 0)
    only_chicago = {q.key: q for q in due_queues(None, now, [chicago.pk])}
    assert (only_chicago["ship"].overdue, only_chicago["ship"].today) == (1, 1)


@pytest.mark.django_db
def test_dashboard_deadline_queues_link_to_their_rows(admin_client):
    from django.utils import timezone

    from automation.queues import due_queues
    from tests.factories import AccountFactory, OrderFactory

    account = AccountFactory(time_zone="America/Chicago")
    late = OrderFactory(account=account, ship_by=timezone.now() - timedelta(hours=1))
    later = OrderFactory(account=account, ship_by=timezone.now() + timedelta(days=3))
    for queue in due_queues(None):
        for url in (queue.url, queue.today_url):
            assert admin_client.get(url).status_code == 200, url
    ship = next(q for q in due_queues(None) if q.key == "ship")
    page = admin_client.get(ship.url).content.decode()
    assert late.order_number in page and later.order_number not in page
    dashboard = admin_client.get("/admin/").content.decode()
    assert 'data-queue="ship-overdue"' in dashboard and 'data-queue="refunds-today"' in dashboard


@pytest.mark.django_db
def test_offer_changelist_shows_and_sorts_by_expiry_with_the_fallback(admin_client):
    from django.utils import timezone

    from messaging.models import Negotiation
    from tests.factories import AccountFactory

    account = AccountFactory()
    created = timezone.now() - timedelta(hours=1)
    told = timezone.now() + timedelta(hours=5)
    Negotiation.objects.create(account=account, reverb_id="1", state="active", expires_at=told)
    Negotiation.objects.create(account=account, reverb_id="2", state="active", remote_created_at=created)
    rows = list(
        admin_client.get("/admin/messaging/negotiation/?o=8")
        .context["cl"]
        .result_list.values_list("reverb_id", "expiry")
    )
    assert rows == [("1", told), ("2", created + timedelta(hours=48))]


@pytest.mark.django_db
def test_a_pull_reads_the_holidays_once_a_minute_and_a_saved_one_at_once(django_assert_num_queries):
    """Pages of orders fill ship-by from the holidays read in the last minute (one query, not one a page);
    a holiday saved in this process is seen by the next page (the refill puts other processes' right)."""
    from automation import stored
    from tests.factories import AccountFactory

    account = AccountFactory()
    paid_at = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # a Monday
    page = [{"paid_at": paid_at, "shipping_method": "shipped"}]
    with django_assert_num_queries(1):
        stored.fill_ship_by(account, page)
    first = page[0]["ship_by"]
    with django_assert_num_queries(0):  # the next pages in the minute
        for _ in range(3):
            stored.fill_ship_by(account, [dict(page[0])])
    tz = deadlines.zone(account.time_zone)
    closed = deadlines.add_business_days(paid_at.astimezone(tz).date(), 1)
    Holiday.objects.create(account=account, date=closed, name="Closed")
    again = [{"paid_at": paid_at, "shipping_method": "shipped"}]
    stored.fill_ship_by(account, again)
    assert again[0]["ship_by"] > first
