"""The order page as a workbench, the shipping queue, batch packing slips, bulk ship keeping typed rows on an
error, and the constant query counts of these pages (issue 12, findings 2, 4 and 8)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backoffice.models import ApiCall
from backoffice.pages.paging import PAGE_SIZE
from orders.models import Order
from orders.workbench import is_overdue, ship_by
from tests.factories import AccountFactory, OrderFactory, RefundRequestFactory
from tests.orders.helpers import resync, role_user, ship_calls, simulate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]

ADDRESS = {
    "name": "Ada Buyer",
    "street_address": "1 Fret Lane",
    "locality": "Nashville",
    "region": "TN",
    "postal_code": "37201",
    "country_code": "US",
}


def login(role: str | None, name: str = "u") -> Client:
    client = Client()
    client.force_login(role_user(name, role))
    return client


def paid(emulator, account, n: int = 1) -> list[Order]:
    numbers = [simulate(emulator, "new_order")["order_number"] for _ in range(n)]
    resync(account, "orders")
    return [Order.objects.get(account=account, order_number=x) for x in numbers]


def aware(y: int, m: int, d: int) -> datetime:
    return timezone.make_aware(datetime(y, m, d, 12))


def test_ship_by_is_three_business_days_after_payment():
    friday = OrderFactory(paid_at=aware(2026, 11, 27))  # a Friday: Mon, Tue, Wed
    assert ship_by(friday) == date(2026, 12, 2)
    tz = ZoneInfo(friday.account.time_zone or "UTC")
    assert not is_overdue(friday, datetime(2026, 12, 2, 23, 59, tzinfo=tz))
    assert is_overdue(friday, datetime(2026, 12, 3, 0, 0, 1, tzinfo=tz))
    assert ship_by(OrderFactory(paid_at=None)) is None


def test_order_page_opens_on_status_deadline_address_money_and_the_ship_button():
    order = OrderFactory(
        paid_at=timezone.now() - timedelta(days=10),
        raw={"shipping_address": ADDRESS, "buyer_email": "ada@example.com"},
        amount_product=Decimal("100.00"),
        amount_total=Decimal("110.00"),
        selling_fee=Decimal("5.00"),
        direct_checkout_fee=Decimal("3.49"),
        direct_checkout_payout=Decimal("101.51"),
    )
    html = login("Shipping").get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    top = html[: html.index('id="order-workbench"') + 6000]
    assert "Ship by" in top and "overdue" in top
    assert "1 Fret Lane" in top and "Nashville" in top and "ada@example.com" in top
    assert "101.51" in top and "Shop gets" in top and "-5.00" in top
    ship = reverse("admin:orders_order_ship", args=[order.pk])
    assert html.index(f'href="{ship}"') < html.index('id="wb-buyer"')  # the button is at the top


def test_order_page_actions_follow_the_role_and_the_refusals():
    order = OrderFactory(
        status="shipped", shipped_at=timezone.now(), tracking_code="T1", paid_at=timezone.now()
    )
    ship = reverse("admin:orders_order_ship", args=[order.pk])
    refund = reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk])
    viewer = login("Viewer", "v").get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    actions = re.search(r'id="order-actions">(.*?)</ul>', viewer, re.S).group(1)
    assert "Ship" not in actions and "Refund" not in actions
    clerk = login("Shipping", "s").get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    actions = re.search(r'id="order-actions">(.*?)</ul>', clerk, re.S).group(1)
    assert "Ship" in actions and f'href="{ship}"' not in actions  # shown, disabled: already shipped
    assert refund not in actions
    assert refund not in clerk  # nor further down the page (the old row of links under "Links")


def test_order_timeline_has_refunds_and_our_staff_actions_with_who():
    order = OrderFactory(paid_at=timezone.now() - timedelta(days=2))
    RefundRequestFactory(
        account=order.account, order=order, order_number=order.order_number, state="approved"
    )
    user = role_user("clerk", "Shipping")
    ApiCall.objects.create(
        account=order.account,
        actor=user,
        action="orders.ship",
        target_type="order",
        target_key=order.order_number,
    )
    html = login("Viewer", "v").get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    timeline = re.search(r'id="wb-timeline">(.*?)</table>', html, re.S).group(1)
    assert "Paid" in timeline and "Refund requested" in timeline
    assert "orders.ship" in timeline and "by clerk" in timeline


def _orders(n: int, **extra) -> list[Order]:
    account = AccountFactory()
    now = timezone.now()
    return [
        OrderFactory(
            account=account, paid_at=now - timedelta(days=i), raw={"shipping_address": ADDRESS}, **extra
        )
        for i in range(n)
    ]


def test_shipping_queue_lists_paid_orders_oldest_first_with_days_and_overdue():
    old = OrderFactory(paid_at=timezone.now() - timedelta(days=9), raw={"shipping_address": ADDRESS})
    new = OrderFactory(paid_at=timezone.now())
    OrderFactory(status="shipped", paid_at=timezone.now())
    OrderFactory(local_pickup=True, paid_at=timezone.now())
    html = login("Shipping").get(reverse("admin:orders_order_queue")).content.decode()
    numbers = re.findall(r'data-order="(\d+)"', html)
    assert numbers == [old.order_number, new.order_number]
    assert "9 days — overdue" in html and "Nashville, TN, US" in html
    assert 'class="tracking"' in html and "orders/queue.js" in html
    assert reverse("admin:orders_order_bulk_ship") in html  # the CSV upload is reachable


def test_dashboard_and_changelist_link_the_queue(admin_client):
    queue = reverse("admin:orders_order_queue")
    assert queue in admin_client.get(reverse("admin:index")).content.decode()
    assert queue in admin_client.get(reverse("admin:orders_order_changelist")).content.decode()


def test_queue_posts_only_typed_rows_to_the_check_page_then_one_job(
    emulator, shop, django_capture_on_commit_callbacks
):
    a, b, c = paid(emulator, shop, 3)
    client = login("Shipping")
    data = {
        "action": "preview",
        "from_queue": "1",
        "ids": f"{a.pk},{b.pk},{c.pk}",
        "send_notification": "1",
        f"provider_{a.pk}": "UPS",
        f"tracking_{a.pk}": "Q-1",
        f"provider_{b.pk}": "UPS",
        f"tracking_{b.pk}": "",
        f"provider_{c.pk}": "UPS",
        f"tracking_{c.pk}": "Q-3",
    }
    html = client.post(reverse("admin:orders_order_bulk_ship"), data).content.decode()
    assert "ship 2 orders" in html and ship_calls(emulator) == 0
    payload = re.search(r'name="payload" value="([^"]+)"', html).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:orders_order_bulk_ship"),
            {"action": "confirm", "confirmed": "yes", "payload": payload},
        )
    assert ship_calls(emulator) == 2


def check_rows(rows: dict[Order, tuple[str, str]], **extra: str) -> str:
    """POST the rows (order -> (provider, tracking)) to the bulk-ship check; the page's HTML."""
    data = {"action": "preview", "ids": ",".join(str(o.pk) for o in rows), **extra}
    for o, (provider, tracking) in rows.items():
        data[f"provider_{o.pk}"], data[f"tracking_{o.pk}"] = provider, tracking
    return login("Shipping").post(reverse("admin:orders_order_bulk_ship"), data).content.decode()


def test_bulk_ship_with_one_bad_row_keeps_every_typed_tracking_number(emulator, shop):
    a, b = paid(emulator, shop, 2)
    html = check_rows({a: ("UPS", "KEEP-1"), b: ("Pigeon", "KEEP-2")})
    assert 'value="KEEP-1"' in html and 'value="KEEP-2"' in html and 'value="Pigeon"' in html
    row = re.search(rf'data-order="{b.order_number}">(.*?)</tr>', html, re.S).group(1)
    assert "Unknown provider" in row
    assert ship_calls(emulator) == 0


def test_queue_carrier_for_rows_without_one(emulator, shop):
    a, b = paid(emulator, shop, 2)
    html = check_rows({a: ("", "D-1"), b: ("UPS", "D-2")}, from_queue="1", default_provider="USPS")
    assert "ship 2 orders" in html and "USPS" in html and "UPS" in html


def test_batch_packing_slips_one_per_order():
    a, b = _orders(2)
    html = (
        login("Shipping")
        .get(reverse("admin:orders_order_packing_slips"), {"slip": [a.pk, b.pk]})
        .content.decode()
    )
    assert html.count('class="slip-page"') == 2 and a.order_number in html and b.order_number in html


@pytest.mark.parametrize("n", [1, 50, PAGE_SIZE + 20])
@pytest.mark.parametrize("p", [1, 2])
def test_queue_query_count_is_constant(n, p, emulator, django_assert_num_queries):
    _orders(n)
    client = login("Shipping")
    client.get(reverse("admin:orders_order_queue"))  # warm the session and permission caches
    with django_assert_num_queries(QUEUE_QUERIES):
        assert client.get(reverse("admin:orders_order_queue"), {"p": p}).status_code == 200


def test_queue_is_paged_oldest_payment_first_with_the_whole_count():
    orders = _orders(PAGE_SIZE + 20)  # paid today, yesterday, ...: the oldest is the last made
    client = login("Shipping")
    first = client.get(reverse("admin:orders_order_queue"))
    second = client.get(reverse("admin:orders_order_queue"), {"p": 2})
    oldest_first = [o.pk for o in reversed(orders)]
    assert [r["order"].pk for r in first.context["rows"]] == oldest_first[:PAGE_SIZE]
    assert [r["order"].pk for r in second.context["rows"]] == oldest_first[PAGE_SIZE:]
    assert first.context["pager"].total == PAGE_SIZE + 20
    html = first.content.decode()
    assert f"{PAGE_SIZE + 20} orders to ship" in html and 'rel="next"' in html
    # every order paid 4+ days ago is overdue (3 business days), counted in the database over every page
    overdue = sum(1 for o in orders if is_overdue(o, timezone.now()))
    assert first.context["overdue"] == overdue > PAGE_SIZE
    # the scanner's form carries the page's rows: "Check" sends them to bulk ship
    ids = second.content.decode().split('name="ids" value="')[1].split('"')[0]
    assert [int(x) for x in ids.split(",")] == oldest_first[PAGE_SIZE:]


@pytest.mark.parametrize("n", [1, 50])
def test_packing_slips_query_count_is_constant(n, django_assert_num_queries):
    orders = _orders(n, order_bundle_id="B1")
    client = login("Shipping")
    url = reverse("admin:orders_order_packing_slips")
    client.get(url, {"slip": [o.pk for o in orders]})
    with django_assert_num_queries(SLIP_QUERIES):
        client.get(url, {"slip": [o.pk for o in orders]})


@pytest.mark.parametrize("n", [1, 50])
def test_order_page_query_count_is_constant(n, django_assert_num_queries):
    orders = _orders(n, order_bundle_id="B2")
    order = orders[0]
    for _ in orders:
        RefundRequestFactory(account=order.account, order=order, order_number=order.order_number)
        ApiCall.objects.create(
            account=order.account, action="orders.ship", target_type="order", target_key=order.order_number
        )
    client = login("Shipping")
    url = reverse("admin:orders_order_change", args=[order.pk])
    client.get(url)
    with django_assert_num_queries(ORDER_PAGE_QUERIES):
        client.get(url)


# the same for 1 row and 2 pages: admin frame and session, the user's shops 1, zones 1, the counts (all,
# overdue, due today: one pass) 1, the orders whose ship-by is not stored yet 1, the page's orders 1,
# provider hints 2 (the stored carrier list, the shop's mapped names), last carrier 1
QUEUE_QUERIES = 15
SLIP_QUERIES = 11  # + the user's shops, read once per request (backoffice/access.py)
ORDER_PAGE_QUERIES = 22  # + the page's own activity section (the ApiCall trail)


def test_packing_slips_form_is_a_get_without_the_csrf_token():
    """The batch packing-slip button sends a GET of the ticked slips: no CSRF token in the URL (issue 24)."""
    (order,) = _orders(1)
    html = login("Shipping").get(reverse("admin:orders_order_queue")).content.decode()
    slips_form = re.search(r'<form method="get"[^>]*id="slips-form">(.*?)</form>', html, re.S)
    assert slips_form and "csrfmiddlewaretoken" not in slips_form.group(1)
    assert 'formmethod="get"' not in html  # no GET submit inside the POST form that carries the token
    assert f'name="slip" value="{order.pk}" form="slips-form"' in html
    assert 'id="print-slips"' in html and 'form="slips-form" id="print-slips"' in html


def test_the_queue_offers_the_stored_carriers_without_asking_reverb_even_when_old(
    emulator, shop, monkeypatch
):
    """A fresh web process (nothing in its own cache) offers the carriers stored for the shop, and an old
    copy is read again by a worker, not while the clerk's page waits behind the stock drain."""
    from django.core.cache import cache
    from django.db.models import Sum

    from backoffice.background import queue
    from backoffice.models import ApiUsage
    from listings.models import ReferenceList

    paid(emulator, shop, 1)
    yesterday = timezone.now() - timedelta(days=1)
    ReferenceList.objects.create(
        account=shop, name="carriers", choices=[["Carrier Owl", "Carrier Owl"]], fetched_at=yesterday
    )
    sent: list[tuple[object, ...]] = []
    monkeypatch.setattr(queue, "enqueue", lambda path, *args, **kw: sent.append((path, *args)))
    cache.clear()
    before = ApiUsage.objects.aggregate(n=Sum("requests"))["n"]
    html = login("Shipping").get(reverse("admin:orders_order_queue")).content.decode()
    assert "Carrier Owl" in html and "UPS" in html  # the stored copy, with the documented names
    assert ApiUsage.objects.aggregate(n=Sum("requests"))["n"] == before  # nothing sent to Reverb
    assert [s[2] for s in sent] == ["carriers"]  # the worker reads it again
