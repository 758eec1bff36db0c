"""Payouts and their line items: totals add up to the orders minus Reverb's fees."""

from __future__ import annotations

from decimal import Decimal

import pytest

from emulator import fees
from tests.emulator.test_orders_api import Api, live_listing_id


@pytest.fixture
def api(emulator) -> Api:
    return Api()


def _amount(money: dict) -> Decimal:
    return Decimal(money["amount"])


def test_payouts_have_no_id_only_a_line_items_link(api: Api) -> None:
    body = api.get("/my/payouts")
    assert body["total"] == 2 and "per_page" in body
    for payout in body["payouts"]:
        assert "id" not in payout  # as in the docs example
        assert payout["_links"]["line_items"]["href"].endswith("/line_items")


def test_line_items_add_up_to_each_payout(api: Api, emulator) -> None:
    emulator.reset(seed=5, size="demo")
    payouts = api.follow_all("/my/payouts", "payouts", per_page=3)
    assert len(payouts) == emulator.sizes["payouts"]
    for payout in payouts:
        items = api.follow_all(payout["_links"]["line_items"]["href"], "line_items", per_page=4)
        assert items and sum(_amount(li["total"]) for li in items) == _amount(payout["total"])
        for li in items:
            fee_total = sum(_amount(f["amount"]) for f in li["fees"])
            withheld = _amount(li["tax"]) if li["tax_responsible_party"] == "reverb" else Decimal("0")
            assert _amount(li["total"]) == _amount(li["subtotal"]) - fee_total - withheld
            order = api.get(li["_links"]["order"]["href"])
            assert _amount(li["subtotal"]) == _amount(order["total"])
            assert {f["type"] for f in li["fees"]} >= {"selling_fee", "processing_fee"}


def test_fee_rates() -> None:
    assert fees.selling_fee(Decimal("95.00"), Decimal("8.00")) == Decimal("5.15")
    assert fees.processing_fee(Decimal("103.00")) == Decimal("3.78")  # 3.19% + 0.49
    order = {
        "price": Decimal("95.00"),
        "quantity": 1,
        "shipping": Decimal("8.00"),
        "tax": Decimal("0.00"),
        "bump_fee": Decimal("0.00"),
        "tax_responsible_party": "seller",
    }
    assert fees.seller_payout(order) == Decimal("94.07")


def test_payout_simulation_pays_new_orders(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator))
    payout = api.simulate("payout")
    items = api.follow_all(f"/my/payouts/{payout['id']}/line_items", "line_items")
    assert order["order_number"] in [li["order_number"] for li in items]
    assert sum(_amount(li["total"]) for li in items) == _amount(payout["total"])
    # Nothing left to pay out.
    r = api.s.post("http://reverb.test/__emulator__/simulate/payout", json={})
    assert r.status_code == 422


def test_created_date_filter(api: Api) -> None:
    assert api.get("/my/payouts", created_end_date="2000-01-01T00:00-00:00")["total"] == 0
    assert api.get("/my/payouts", created_start_date="2000-01-01T00:00-00:00")["total"] == 2


def test_unknown_payout_404(api: Api) -> None:
    assert api.call("GET", "/my/payouts/1/line_items").status_code == 404
