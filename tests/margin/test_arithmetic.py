"""Fee and margin arithmetic (payouts/margin.py): Reverb's fees on price + shipping under the fee schedule,
what the shop keeps, the margin over cost and its %; the floor price is the least price leaving the margin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payouts.fees import Rates
from payouts.margin import below_cost_reason, cost_floor, floor_price, margin_of

D = Decimal
DEFAULT = Rates()  # selling 5%, processing 3.19% + 0.49


def test_fees_keeps_and_margin_at_the_default_schedule() -> None:
    m = margin_of(D("449.40"), D("420"), DEFAULT)
    # selling 5% of 449.40 = 22.47; processing 3.19% of 449.40 + 0.49 = 14.83
    assert (m.fees, m.keeps, m.margin, m.percent) == (D("37.30"), D("412.10"), D("-7.90"), D("-1.8"))
    assert m.below_cost
    assert below_cost_reason(D("449.40"), D("420"), DEFAULT) == (
        "below cost: 449.40 leaves 412.10 after fees, cost 420.00"
    )
    assert below_cost_reason(D("500"), D("420"), DEFAULT) == ""


def test_shipping_pays_fees_and_the_carrier() -> None:
    m = margin_of(D("100"), D("50"), DEFAULT, D("20"))
    # selling 5% of 120 = 6.00; processing 3.19% of 120 + 0.49 = 4.32
    assert m.fees == D("10.32")
    assert m.keeps == D("109.68")  # what Reverb pays out
    assert m.margin == D("39.68") and m.percent == D("39.7")  # the 20 shipping goes to the carrier


def test_another_schedule_and_an_unknown_cost() -> None:
    preferred = Rates(D("5.00"), D("2.99"), D("0.30"))
    m = margin_of(D("1000"), None, preferred)
    assert m.fees == D("50.00") + D("30.20") and m.margin is None and m.percent is None
    assert not m.below_cost


@pytest.mark.parametrize("cost", ["0", "1", "19.99", "420", "1234.56"])
@pytest.mark.parametrize("percent", ["0", "5", "12.5", "40"])
def test_floor_price_is_the_least_price_leaving_the_margin(cost: str, percent: str) -> None:
    price = floor_price(D(cost), D(percent), DEFAULT, D("15"))
    assert price is not None

    def leaves(p: Decimal) -> bool:
        return margin_of(p, D(cost), DEFAULT, D("15")).margin * 100 >= D(percent) * p

    assert leaves(price)
    assert price == D("0.01") or not leaves(price - D("0.01"))


def test_floor_price_when_fees_and_margin_take_everything() -> None:
    assert floor_price(D("10"), D("92"), DEFAULT) is None
    assert cost_floor(None, DEFAULT) is None  # no cost known: no floor
    floor = cost_floor(D("420"), DEFAULT, D("5"))
    assert floor is not None and floor.price == D("484.38") and floor.why == "cost 420.00 + fees + 5% margin"
    assert cost_floor(D("420"), DEFAULT).price == D("458.00")  # break-even: 458.00 leaves 420.00
