"""The daily digest: content per role, nothing when nothing is due, once a day at the account's hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from automation.digest import build, send_due_digests
from automation.models import AutomationSettings
from backoffice.roles import CUSTOMER_SERVICE, MANAGER, SHIPPING
from refunds.models import RefundRequest
from tests.factories import AccountFactory, OrderFactory
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 6, 1, 14, 0, tzinfo=CHICAGO)  # Monday 14:00 shop time


def user(name: str, role: str):
    u = role_user(name, role)
    u.email = f"{name}@shop.test"
    u.save()
    return u


@pytest.fixture
def account():
    return AccountFactory(time_zone="America/Chicago", name="Strings & Things")


def overdue_order(account, number="700123"):
    return OrderFactory(
        account=account, order_number=number, title="Fender Strat", ship_by=NOW - timedelta(hours=3)
    )


def refund_due_today(account):
    return RefundRequest.objects.create(
        account=account,
        reverb_id="9001",
        state="pending_seller_response",
        order_number="700999",
        amount=Decimal("50.00"),
        currency="USD",
        answer_by=NOW + timedelta(hours=5),
    )


def test_content_per_role(account):
    overdue_order(account)
    refund_due_today(account)
    shipping, service, manager = user("ship", SHIPPING), user("cs", CUSTOMER_SERVICE), user("boss", MANAGER)
    ship_digest = build(account, shipping, NOW)
    assert "order 700123" in ship_digest.body and "OVERDUE" in ship_digest.body
    assert "refund request" not in ship_digest.body.lower()
    cs_digest = build(account, service, NOW)
    assert "refund request 9001" in cs_digest.body and "order 700123 to" not in cs_digest.body
    assert "[today, by Mon 1 Jun, 19:00 (shop time)]" in cs_digest.body
    boss = build(account, manager, NOW)
    assert "order 700123" in boss.body and "refund request 9001" in boss.body
    assert boss.subject == "[Strings & Things] 1 overdue, 1 due today"


def test_viewers_get_no_digest(account):
    overdue_order(account)
    viewer = user("viewer", "Viewer")
    assert not build(account, viewer, NOW).any


def test_no_email_when_nothing_is_due(account):
    user("ship", SHIPPING)
    user("cs", CUSTOMER_SERVICE)
    OrderFactory(account=account, ship_by=timezone.now() + timedelta(days=2))  # due later: nothing to say
    OrderFactory(account=account, ship_by=timezone.now() - timedelta(days=1), status="shipped")  # done
    call_command("send_digests")
    assert mail.outbox == []


def test_each_role_gets_only_what_it_sees(account):
    RefundRequest.objects.create(
        account=account, reverb_id="9002", state="pending_seller_response", answer_by=timezone.now()
    )
    user("ship", SHIPPING)
    user("cs", CUSTOMER_SERVICE)
    call_command("send_digests", "--account", account.name)
    assert [m.to for m in mail.outbox] == [["cs@shop.test"]]  # shipping has nothing due


def test_scheduled_once_a_day_at_the_accounts_hour(account):
    overdue_order(account)
    user("ship", SHIPPING)
    AutomationSettings.objects.create(account=account, digest_hour=15)
    send_due_digests(NOW)  # 14:00: not yet
    assert mail.outbox == []
    send_due_digests(NOW + timedelta(hours=1))
    assert len(mail.outbox) == 1
    send_due_digests(NOW + timedelta(hours=2))  # already sent today
    assert len(mail.outbox) == 1
    send_due_digests(NOW + timedelta(days=1, hours=1))
    assert len(mail.outbox) == 2


def test_the_scheduled_task_refills_deadlines_and_sends(account):
    from automation.tasks import deadlines_and_digests

    order = OrderFactory(account=account, paid_at=timezone.now() - timedelta(days=10), ship_by=None)
    refund = RefundRequest.objects.create(
        account=account, reverb_id="9003", state="pending_seller_response", remote_created_at=timezone.now()
    )
    user("ship", SHIPPING)
    AutomationSettings.objects.create(account=account, digest_hour=0)
    assert "1 email(s)" in deadlines_and_digests()
    order.refresh_from_db()
    refund.refresh_from_db()
    assert order.ship_by is not None and refund.answer_by == refund.remote_created_at + timedelta(hours=24)
    assert "order " + order.order_number in mail.outbox[0].body
