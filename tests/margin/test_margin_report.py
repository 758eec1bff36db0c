"""The monthly margin report (payouts/margin_report.py): its totals are the sums of its orders (page and CSV),
fees from the order where it states them else the fee schedule, orders without a known cost apart; two
shops: a member of one sees only that shop's report; the permissions it needs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.roles import BOOKKEEPER, MANAGER
from payouts.fees import OrderAmounts, Rates
from payouts.margin_report import REVERB, SCHEDULE, margin_report, orders_paid
from payouts.matching import Period
from payouts.models import FeeSchedule
from tests.factories import AccountFactory, ListingFactory, OrderFactory
from tests.payouts.test_views import read_csv
from tests.security.test_permission_matrix import staff

pytestmark = pytest.mark.django_db
D = Decimal
NOVEMBER = {"month": "2026-11"}
PAID = datetime(2026, 11, 15, 12, tzinfo=UTC)


def paid(account: Any, listing: Any, number: str, total: str, **kw: Any) -> Any:
    values = {"amount_shipping": D("20.00"), "amount_tax": D("0"), "quantity": 1, "paid_at": PAID, **kw}
    return OrderFactory(
        account=account, listing=listing, order_number=number, amount_total=D(total), title=number, **values
    )


@pytest.fixture
def shops(strict_membership: None) -> tuple[Any, Any]:
    a, b = AccountFactory(name="shop-a", token=""), AccountFactory(name="shop-b", token="")
    FeeSchedule.objects.create(account=b, selling_percent=D("6"), processing_percent=D("2.99"))
    for account, tag in ((a, "A"), (b, "B")):
        costly = ListingFactory(account=account, price=D("500"), cost=D("300.00"), title=f"{tag} amp")
        cheap = ListingFactory(account=account, price=D("100"), cost=D("40.00"), title=f"{tag} pedal")
        no_cost = ListingFactory(account=account, price=D("80"), title=f"{tag} cable")
        paid(account, costly, f"{tag}-1", "520.00")  # fees from the schedule
        paid(account, cheap, f"{tag}-2", "220.00", quantity=2, selling_fee=D("11.00"))  # Reverb's fees
        paid(account, cheap, f"{tag}-3", "120.00", direct_checkout_payout=D("108.50"))  # Reverb's payout
        paid(account, no_cost, f"{tag}-4", "100.00")  # no cost: apart
        paid(account, None, f"{tag}-5", "60.00")  # no listing here: apart
        odd = {"amount_tax": D("7.77"), "tax_responsible_party": "reverb", "bump_fee": D("3.33")}
        paid(account, cheap, f"{tag}-7", "133.37", amount_shipping=D("12.35"), **odd)  # rounding, tax, bump
        paid(account, cheap, f"{tag}-8", "0.00", amount_shipping=D("0"), direct_checkout_payout=D("0"))
        paid(account, costly, f"{tag}-6", "520.00", paid_at=datetime(2026, 12, 2, 12, tzinfo=UTC))  # Dec
    return a, b


def test_totals_are_the_sums_of_the_orders(shops) -> None:
    a, b = shops
    from orders.models import Order

    period = Period.month(2026, 11)
    report = margin_report(period, orders_paid(period, Order.objects.all(), None))
    known, unknown = report.rows_of(report.known), report.rows_of(report.unknown)
    numbers = sorted(r.order.order_number for r in known)
    assert numbers == ["A-1", "A-2", "A-3", "A-7", "A-8", "B-1", "B-2", "B-3", "B-7", "B-8"]
    assert report.unknown_count == 4
    assert sorted((r.order.order_number, r.note) for r in unknown) == [
        ("A-4", "no cost set on the listing"),
        ("A-5", "listing not in the back office"),
        ("B-4", "no cost set on the listing"),
        ("B-5", "listing not in the back office"),
    ]
    assert [(t.account, t.currency) for t in report.totals] == [("shop-a", "USD"), ("shop-b", "USD")]
    for totals in report.totals:
        mine = [r for r in known if r.order.account.name == totals.account]
        assert totals.orders == len(mine) == 5
        for name in ("revenue", "shipping", "fees", "cost", "margin"):
            assert getattr(totals, name) == sum(getattr(r, name) for r in mine), name
        assert totals.margin == totals.revenue - totals.fees - totals.cost
    rows = {r.order.order_number: r for r in known}
    # product 500 + shipping 20 = 520 under the default schedule: 5% of 520 = 26.00, 3.19% of 520 + 0.49
    assert (rows["A-1"].fees, rows["A-1"].fee_source) == (D("26.00") + D("17.08"), SCHEDULE)
    assert rows["A-1"].margin == D("500.00") - D("43.08") - D("300.00")
    # B-1: shop B's own schedule (6%, 2.99% + 0.49)
    assert rows["B-1"].fees == Rates(D("6"), D("2.99")).selling_fee(D("500"), D("20")) + D("16.04")
    # two units at the listing's cost; Reverb's fees as the order states them
    assert (rows["A-2"].cost, rows["A-2"].fee_source) == (D("80.00"), REVERB)
    assert rows["A-2"].fees == D("11.00")
    # what Reverb kept is the total less the payout
    assert rows["A-3"].fees == D("11.50") == OrderAmounts.of(rows["A-3"].order).order_fees


def test_page_and_csv_agree_with_the_report(shops, admin_client) -> None:
    html = admin_client.get(reverse("admin:payouts_margin"), NOVEMBER).content.decode()
    assert 'id="totals"' in html and 'id="unknown-cost"' in html and "at the time of this report" in html
    assert "A-1" in html and "A-6" not in html  # December's order is not November's
    rows = read_csv(admin_client.get(reverse("admin:payouts_export_margin"), NOVEMBER))
    header, body = rows[0], rows[1:]
    assert len(body) == 14
    col = {name: header.index(name) for name in ("account", "margin", "fees", "note")}
    for shop in ("shop-a", "shop-b"):
        known = [r for r in body if r[col["account"]] == shop and r[col["margin"]]]
        total = sum(D(r[col["margin"]]) for r in known)
        assert f'<td class="amount ">{total}' in html.replace("amount recon-bad", "amount ")


def test_a_member_of_one_shop_sees_only_its_report(shops) -> None:
    a, b = shops
    for role in (BOOKKEEPER, MANAGER):
        user = staff(role, f"keeper-{role}")
        b.members.add(user)
        client = Client()
        client.force_login(user)
        html = client.get(reverse("admin:payouts_margin"), NOVEMBER).content.decode()
        assert "B-1" in html and "B-4" in html and "shop-b" in html
        assert "A-1" not in html and "A-4" not in html and "shop-a" not in html
        # Choosing the other shop shows nothing of it (the form offers only the user's shops).
        forged = client.get(reverse("admin:payouts_margin"), {**NOVEMBER, "account": a.pk}).content.decode()
        assert "A-1" not in forged and "shop-a" not in forged.split('id="content-main"')[1]
        csv_rows = read_csv(client.get(reverse("admin:payouts_export_margin"), NOVEMBER))[1:]
        assert {r[0] for r in csv_rows} == {"shop-b"} and len(csv_rows) == 7


def test_a_user_without_the_view_permissions_gets_403(shops) -> None:
    user = staff(None, "someone")
    shops[1].members.add(user)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("admin:payouts_margin"), NOVEMBER).status_code == 403
    assert client.get(reverse("admin:payouts_export_margin"), NOVEMBER).status_code == 403
