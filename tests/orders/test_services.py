"""Order services against the emulator: success, each refusal (recorded, nothing sent), lost responses."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.actions import Refused, ReverbRefused
from backoffice.models import ApiCall
from orders.models import Feedback, Order
from orders.services import leave_buyer_feedback, mark_picked_up, picked_up_refusal, ship_order, ship_refusal
from tests.conftest import nothing_changes
from tests.orders.helpers import record_bodies, resync, ship_calls, simulate

pytestmark = pytest.mark.django_db


def new_order(emulator: Any, account: Any, **params: Any) -> Order:
    payload = simulate(emulator, "new_order", **params)
    resync(account, "orders")
    return Order.objects.get(account=account, order_number=payload["order_number"])


def test_ship_sends_once_and_writes_back(emulator, shop):
    order = new_order(emulator, shop)
    assert not ship_refusal(order)
    ship_order(order, actor=None, provider="UPS", tracking_number=" 1Z999 ")
    order.refresh_from_db()
    assert (order.status, order.shipping_provider, order.tracking_code) == ("shipped", "UPS", "1Z999")
    assert order.shipped_at is not None
    assert emulator.store.table("orders")[order.order_number]["shipping_code"] == "1Z999"
    call = ApiCall.objects.get(action="orders.ship", target_key=order.order_number)
    assert call.status == ApiCall.Status.SUCCESS and "[REDACTED]" in call.curl
    assert ship_calls(emulator) == 1


@pytest.mark.parametrize(
    "params,tracking,provider,expected",
    [
        ({"paid": False}, "T1", "UPS", "Only paid orders"),
        ({"local_pickup": True}, "T1", "UPS", "local pickup"),
        ({}, "T1", "  ", "shipping provider is required"),
        ({}, "  ", "UPS", "tracking number is required"),
    ],
)
def test_ship_refusals_send_nothing(emulator, shop, params, tracking, provider, expected):
    order = new_order(emulator, shop, **params)
    with nothing_changes(emulator, order), pytest.raises(Refused, match=expected):
        ship_order(order, actor=None, provider=provider, tracking_number=tracking)
    assert ship_calls(emulator) == 0
    assert ApiCall.objects.get(target_key=order.order_number).status == ApiCall.Status.REFUSED


def test_ship_twice_with_same_tracking_sends_once(emulator, shop):
    order = new_order(emulator, shop)
    ship_order(order, actor=None, provider="USPS", tracking_number="9400")
    with nothing_changes(emulator, order), pytest.raises(Refused) as info:
        ship_order(order, actor=None, provider="USPS", tracking_number="9400")
    assert info.value.already_done
    assert ship_calls(emulator) == 1


def test_lost_response_is_confirmed_by_rereading(emulator, shop):
    order = new_order(emulator, shop)
    emulator.faults.rate_lost_write = 1.0
    ship_order(order, actor=None, provider="FedEx", tracking_number="FX1")
    emulator.faults.rate_lost_write = 0.0
    order.refresh_from_db()
    assert order.tracking_code == "FX1" and order.status == "shipped"
    assert ship_calls(emulator) == 1
    assert ApiCall.objects.get(action="orders.ship").status == ApiCall.Status.UNKNOWN


def test_stale_mirror_shipped_elsewhere_is_refreshed(emulator, shop):
    order = new_order(emulator, shop)
    simulate(emulator, "order_changed", order_number=order.order_number, status="shipped")
    emulator.store.table("orders")[order.order_number]["shipped_at"] = emulator.store.now()
    with pytest.raises(ReverbRefused):
        ship_order(order, actor=None, provider="UPS", tracking_number="NEW")
    order.refresh_from_db()
    assert order.status == "shipped"  # the mirror now knows


def test_mark_picked_up(emulator, shop):
    order = new_order(emulator, shop, local_pickup=True)
    assert not picked_up_refusal(order) and ship_refusal(order)
    mark_picked_up(order, actor=None)
    order.refresh_from_db()
    assert order.status == "picked_up"


def test_mark_picked_up_refused_for_shipped_method(emulator, shop):
    order = new_order(emulator, shop)
    with nothing_changes(emulator, order), pytest.raises(Refused, match="local pickup"):
        mark_picked_up(order, actor=None)
    assert emulator.requests[("POST", "/api/my/orders/selling/{order_number}/mark_picked_up")] == 0


def test_buyer_feedback(emulator, shop):
    order = new_order(emulator, shop)
    ship_order(order, actor=None, provider="UPS", tracking_number="FB1")
    order.refresh_from_db()
    assert order.needs_feedback_for_buyer
    with nothing_changes(emulator, order):
        with pytest.raises(Refused, match="1 to 5"):
            leave_buyer_feedback(order, actor=None, rating=6, message="great")
        with pytest.raises(Refused, match="message"):
            leave_buyer_feedback(order, actor=None, rating=5, message="  ")
    leave_buyer_feedback(order, actor=None, rating=5, message="Great buyer")
    order.refresh_from_db()
    assert not order.needs_feedback_for_buyer
    assert Feedback.objects.get(account=shop, order_number=order.order_number).rating == 5
    with nothing_changes(emulator, order), pytest.raises(Refused, match="does not ask"):
        leave_buyer_feedback(order, actor=None, rating=5, message="again")


@pytest.mark.parametrize("notify", [False, True])
def test_ship_sends_the_notification_choice(emulator, shop, monkeypatch, notify):
    order = new_order(emulator, shop)
    sent = record_bodies(emulator, monkeypatch)
    ship_order(order, actor=None, provider="UPS", tracking_number="N1", send_notification=notify)
    (body,) = [data for method, path, data in sent if method == "POST" and path.endswith("/ship")]
    assert body["send_notification"] is notify


def test_already_shipped_refusals_name_the_shipment(emulator, shop):
    order = new_order(emulator, shop)
    ship_order(order, actor=None, provider="USPS", tracking_number="9400")
    order.refresh_from_db()
    assert ship_refusal(order) == "Already shipped (USPS 9400)."
    assert ship_refusal(order, "9400") == "Already shipped with tracking number 9400."
    with pytest.raises(Refused) as same:
        ship_order(order, actor=None, provider="USPS", tracking_number="9400")
    assert same.value.message == "Already shipped with tracking number 9400." and same.value.already_done
    with pytest.raises(Refused) as other:
        ship_order(order, actor=None, provider="UPS", tracking_number="OTHER")
    assert other.value.message == "Already shipped (USPS 9400)." and not other.value.already_done
    assert ship_calls(emulator) == 1


def test_an_unknown_provider_goes_to_reverb_whose_answer_decides(emulator, shop):
    """Our provider list is only a suggestion (it may be stale): Reverb's own 4xx refuses, not us."""
    order = new_order(emulator, shop)
    with pytest.raises(ReverbRefused) as info:
        ship_order(order, actor=None, provider="Carrier Pigeon", tracking_number="T1")
    assert "provider" in info.value.field_errors and ship_calls(emulator) == 1


def test_a_stale_provider_list_never_refuses_a_carrier(emulator, shop):
    from django.utils import timezone

    from listings.models import ReferenceList

    # our copy, before TNT was added
    ReferenceList.objects.create(
        account=shop, name="carriers", choices=[["UPS", "UPS"]], fetched_at=timezone.now()
    )
    order = new_order(emulator, shop)
    ship_order(order, actor=None, provider="TNT", tracking_number="TNT1")
    order.refresh_from_db()
    assert order.shipping_provider == "TNT" and ship_calls(emulator) == 1


@pytest.mark.parametrize("variant", ["default", "alt"])
def test_provider_list_is_reverbs_first_list_united_with_the_documented_names(emulator, shop, variant):
    from django.core.cache import cache

    from orders.services import DOCUMENTED_PROVIDERS, shipping_providers

    cache.clear()
    emulator.variant = variant  # alt: {"providers": ["UPS", ...]}, another root key, bare strings
    names = shipping_providers(shop)
    assert {"CanPar", "TNT", "Hermes"} <= set(names)  # Reverb's own names, whatever the shape
    assert set(DOCUMENTED_PROVIDERS) <= set(names) and names[-1] == "Other"
    assert len(names) == len(set(names))


def test_an_unanswered_provider_list_is_not_asked_again_on_every_view(shop, monkeypatch):
    from django.core.cache import cache

    from backoffice.reverb.errors import ReverbError
    from orders.services import DOCUMENTED_PROVIDERS, shipping_providers

    cache.clear()
    asked = []

    class Down:
        def shipping_providers(self):
            asked.append(1)
            raise ReverbError("down")

    monkeypatch.setattr(type(shop), "client", lambda self, **kw: Down())
    first, second = shipping_providers(shop), shipping_providers(shop)
    assert first == second and set(DOCUMENTED_PROVIDERS) <= set(first) and len(asked) == 1
