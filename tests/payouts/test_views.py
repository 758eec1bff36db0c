"""The payout page, the reconciliation report and the CSV exports through Django's test client."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from backoffice.models import ReverbAccount
from orders.models import Order
from payouts.models import Payout, PayoutLineItem
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
ALL = {"start": "2025-01-01", "end": "2026-12-31"}


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def staff(*codenames: str) -> User:
    user = User.objects.create_user("clerk", password="password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def make_payout(account: ReverbAccount, lines: int, *, tag: str) -> Payout:
    payout = Payout.objects.create(
        account=account,
        reverb_id=f"P{tag}",
        total=Decimal("91.32") * lines,
        currency="USD",
        remote_created_at=timezone.now(),
    )
    for n in range(lines):
        order = Order.objects.create(
            account=account,
            reverb_id=f"{tag}{n}",
            order_number=f"{tag}{n}",
            status="shipped",
            paid_at=timezone.now() - timedelta(days=2),
            amount_total=Decimal("100.00"),
            amount_shipping=Decimal("0.00"),
            amount_tax=Decimal("0.00"),
            selling_fee=Decimal("5.00"),
            direct_checkout_fee=Decimal("3.68"),
            currency="USD",
        )
        PayoutLineItem.objects.create(
            account=account,
            reverb_id=f"L{tag}{n}",
            payout=payout,
            payout_reverb_id=payout.reverb_id,
            order=order,
            order_number=order.order_number,
            amount_product=Decimal("100.00"),
            amount_shipping=Decimal("0.00"),
            amount_tax=Decimal("0.00"),
            fees=Decimal("8.68"),
            amount_total=Decimal("91.32"),
            currency="USD",
        )
    return payout


def test_payout_page_lists_line_items_against_their_orders(shop, admin_client) -> None:
    line = PayoutLineItem.objects.select_related("order", "payout").first()
    url = reverse("admin:payouts_payout_reconcile", args=[line.payout_id])
    html = admin_client.get(url).content.decode()
    assert "adds up" in html
    assert f'href="/admin/orders/order/{line.order_id}/change/"' in html
    assert "differs" not in html.split('id="payout-sum"')[1].split("</p>")[0]

    PayoutLineItem.objects.filter(pk=line.pk).update(fees=line.fees + Decimal("2.00"))
    html = admin_client.get(url).content.decode()
    assert "fees differ from the fee schedule" in html
    assert "differ from the fees stated on the order" in html
    # The change page links to it, the changelist has a column for it.
    change = admin_client.get(reverse("admin:payouts_payout_change", args=[line.payout_id])).content.decode()
    assert url in change
    assert url in admin_client.get(reverse("admin:payouts_payout_changelist")).content.decode()


@pytest.mark.parametrize("lines", [1, 12])
def test_payout_page_query_count_is_constant(admin_client, django_assert_num_queries, lines) -> None:
    payout = make_payout(AccountFactory(), lines, tag="x")
    url = reverse("admin:payouts_payout_reconcile", args=[payout.pk])
    admin_client.get(url)
    # session, user, payout 3; line items + orders, refunds, fee schedule 3; the session renewed
    # (SESSION_SAVE_EVERY_REQUEST: savepoint, update, release) 3.
    with django_assert_num_queries(9):
        html = admin_client.get(url).content.decode()
    assert html.count('class="module payout-line"') == lines
    assert "adds up" in html and 'class="recon-diff"' not in html


def test_a_payout_that_does_not_add_up(admin_client) -> None:
    payout = make_payout(AccountFactory(), 2, tag="y")
    Payout.objects.filter(pk=payout.pk).update(total=Decimal("200.00"))
    html = admin_client.get(reverse("admin:payouts_payout_reconcile", args=[payout.pk])).content.decode()
    assert "differs by 17.36" in html


def test_report_page_answers_the_bookkeepers_question(shop, admin_client) -> None:
    url = reverse("admin:payouts_reconciliation")
    html = admin_client.get(url, ALL).content.decode()
    assert 'id="findings"' in html and 'id="totals"' in html
    assert "every fee matches the fee schedule" in html
    assert "not paid out" in html  # the seeded shop has a paid order in no payout
    assert (
        reverse("admin:payouts_export_orders") in html and reverse("admin:payouts_export_line_items") in html
    )
    # Month picker and account filter.
    order = Order.objects.filter(payout_line_items__isnull=False).first()
    html = admin_client.get(url, {"month": f"{order.paid_at:%Y-%m}", "account": shop.pk}).content.decode()
    assert f"{order.paid_at:%Y-%m}-01 to" in html
    other = AccountFactory(name="other")
    html = admin_client.get(url, {**ALL, "account": other.pk}).content.decode()
    assert "Nothing to report for this period." in html
    html = admin_client.get(url, {"month": "2026-13"}).content.decode()
    assert "Invalid period" in html


def test_report_and_exports_need_view_permissions(shop, client) -> None:
    client.force_login(staff("view_reverbaccount"))
    assert client.get(reverse("admin:payouts_reconciliation")).status_code == 403
    assert client.get(reverse("admin:payouts_export_orders")).status_code == 403
    assert client.get(reverse("admin:payouts_export_line_items")).status_code == 403
    client.logout()
    client.force_login(User.objects.get(username="clerk"))
    User.objects.get(username="clerk").user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "view_payout", "view_payoutlineitem"])
    )
    client.force_login(User.objects.get(username="clerk"))
    assert client.get(reverse("admin:payouts_reconciliation")).status_code == 200
    assert client.get(reverse("admin:payouts_export_orders"), ALL).status_code == 200


def test_orders_csv(shop, admin_client) -> None:
    rows = read_csv(admin_client.get(reverse("admin:payouts_export_orders"), ALL))
    header, body = rows[0], rows[1:]
    paid = Order.objects.filter(paid_at__isnull=False).order_by("paid_at")
    assert [r[header.index("order number")] for r in body] == [o.order_number for o in paid]
    line = PayoutLineItem.objects.select_related("order").first()
    (row,) = [r for r in body if r[header.index("order number")] == line.order_number]
    assert row[header.index("payout id")] == line.payout_reverb_id
    assert Decimal(row[header.index("paid out")]) == line.amount_total
    assert Decimal(row[header.index("total")]) == line.order.amount_total
    assert row[header.index("account")] == "shop"


def test_line_items_csv(shop, admin_client) -> None:
    rows = read_csv(admin_client.get(reverse("admin:payouts_export_line_items"), ALL))
    header, body = rows[0], rows[1:]
    assert len(body) == PayoutLineItem.objects.count()
    for row in body:
        line = PayoutLineItem.objects.get(reverb_id=row[header.index("line item id")])
        assert Decimal(row[header.index("fees")]) == line.fees
        assert Decimal(row[header.index("paid out")]) == line.amount_total
    assert read_csv(
        admin_client.get(
            reverse("admin:payouts_export_line_items"), {"start": "2001-01-01", "end": "2001-01-31"}
        )
    ) == [header]


def test_csv_neutralises_formulas_and_rejects_bad_ranges(admin_client) -> None:
    account = AccountFactory()
    Order.objects.create(
        account=account,
        reverb_id="1",
        order_number="1",
        buyer_name="=HYPERLINK(1)",
        paid_at=timezone.now(),
        amount_total=Decimal("1"),
    )
    today = timezone.localdate()
    rows = read_csv(
        admin_client.get(
            reverse("admin:payouts_export_orders"), {"start": today.isoformat(), "end": today.isoformat()}
        )
    )
    assert rows[1][rows[0].index("buyer")] == "'=HYPERLINK(1)"
    bad = admin_client.get(
        reverse("admin:payouts_export_orders"), {"start": "2026-02-01", "end": "2026-01-01"}
    )
    assert bad.status_code == 400


def test_changelists_link_the_report_and_exports(admin_client) -> None:
    for name in ("admin:payouts_payout_changelist", "admin:payouts_payoutlineitem_changelist"):
        html = admin_client.get(reverse(name)).content.decode()
        assert reverse("admin:payouts_reconciliation") in html
        assert reverse("admin:payouts_export_line_items") in html


def test_orders_csv_carries_the_shop_sku_from_the_sku_mapping(admin_client) -> None:
    from orders.models import SkuMapping

    account, other = AccountFactory(), AccountFactory()
    today = timezone.localdate()
    for n, acc in enumerate((account, other)):
        Order.objects.create(
            account=acc,
            reverb_id=str(n),
            order_number=str(n),
            sku="REV-1",
            paid_at=timezone.now(),
            amount_total=Decimal("1"),
        )
    SkuMapping.objects.create(account=account, reverb_sku="REV-1", shop_sku="SHOP-42")
    rows = read_csv(
        admin_client.get(
            reverse("admin:payouts_export_orders"), {"start": today.isoformat(), "end": today.isoformat()}
        )
    )
    header = rows[0]
    shop_sku = {r[header.index("order number")]: r[header.index("shop SKU")] for r in rows[1:]}
    assert shop_sku == {"0": "SHOP-42", "1": ""}  # mappings are per account


def test_orders_changelist_links_the_export(admin_client) -> None:
    html = admin_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert reverse("admin:payouts_export_orders") in html
    assert reverse("admin:payouts_reconciliation") in html
