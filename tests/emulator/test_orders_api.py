"""Orders, payments and feedback endpoints of the emulator, through a real requests session."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from backoffice.reverb.transport import new_session
from emulator.fees import order_fees
from tests.conftest import EMULATOR_API_URL, EMULATOR_ORIGIN, EMULATOR_TOKEN


class Api:
    """A thin session wrapper: Reverb's headers, JSON bodies, and the control API for simulations."""

    def __init__(self) -> None:
        self.s: requests.Session = new_session()
        self.s.headers.update(
            {
                "Authorization": f"Bearer {EMULATOR_TOKEN}",
                "Accept-Version": "3.0",
                "Content-Type": "application/hal+json",
                "Accept": "application/hal+json",
            }
        )

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        if path.startswith("http"):
            url = path
        elif path.startswith("/api/"):  # a root-relative href (API-NOTES 16.2.8)
            url = f"{EMULATOR_ORIGIN}{path}"
        else:
            url = f"{EMULATOR_API_URL}{path}"
        return self.s.request(method, url, json=body, params=params or None)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.call("GET", path, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def simulate(self, event: str, **params: Any) -> dict[str, Any]:
        r = self.s.post(f"{EMULATOR_ORIGIN}/__emulator__/simulate/{event}", json=params)
        assert r.status_code == 200, r.text
        return r.json()

    def follow_all(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a collection, following `_links.next` until it is absent."""
        page = self.get(path, **params)
        items = list(page[key])
        while "next" in page["_links"]:
            page = self.get(page["_links"]["next"]["href"])
            items += page[key]
        return items


@pytest.fixture
def api(emulator) -> Api:
    return Api()


def live_listing_id(emulator) -> int:
    return next(
        x["id"]
        for x in emulator.store.table("listings").values()
        if x["state"] == "live" and x["inventory"] > 0
    )


SHIP = {"provider": "USPS", "tracking_number": "9400100000000000000001", "send_notification": True}


def test_list_all_newest_first_with_envelope(api: Api) -> None:
    body = api.get("/my/orders/selling/all")
    assert {"total", "current_page", "total_pages", "per_page", "_links", "orders"} <= body.keys()
    created = [o["created_at"] for o in body["orders"]]
    assert body["total"] == len(created) == 10
    from datetime import datetime

    stamps = [datetime.fromisoformat(c) for c in created]
    assert stamps == sorted(stamps, reverse=True)


def test_pagination_follows_next_and_collects_each_order_once(api: Api) -> None:
    for _ in range(5):
        api.simulate("new_order")
    numbers = [o["order_number"] for o in api.follow_all("/my/orders/selling/all", "orders", per_page=4)]
    assert len(numbers) == len(set(numbers)) == 15
    first = api.get("/my/orders/selling/all", per_page=4)
    assert "prev" not in first["_links"]
    second = api.get(first["_links"]["next"]["href"])
    assert "per_page=4" in first["_links"]["next"]["href"] and "prev" in second["_links"]


def test_new_order_simulation_reduces_inventory_and_is_awaiting_shipment(api: Api, emulator) -> None:
    lid = live_listing_id(emulator)
    before = emulator.store.table("listings")[lid]["inventory"]
    order = api.simulate("new_order", listing_id=lid)
    assert order["status"] == "paid" and order["product_id"] == str(lid)
    assert emulator.store.table("listings")[lid]["inventory"] == before - 1
    # mark_picked_up is on every order, whatever its status (API-NOTES 16.2.5); it was gated before
    assert "ship" in order["_links"] and "mark_picked_up" in order["_links"]
    waiting = [o["order_number"] for o in api.follow_all("/my/orders/selling/awaiting_shipment", "orders")]
    assert order["order_number"] in waiting


def test_unpaid_list_and_payment_simulation(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator), paid=False)
    assert order["status"] == "unpaid" and order["paid_at"] is None and "ship" not in order["_links"]
    unpaid = [o["order_number"] for o in api.follow_all("/my/orders/selling/unpaid", "orders")]
    assert order["order_number"] in unpaid
    paid = api.simulate("payment", order_number=order["order_number"])
    assert paid["status"] == "paid" and paid["paid_at"]
    payments = api.get("/my/payments/selling", order_id=order["order_number"])["payments"]
    assert len(payments) == 1 and payments[0]["amount"] == paid["total"]
    assert api.get(f"/my/payments/selling/{payments[0]['id']}")["order_number"] == order["order_number"]


def test_get_one_and_404(api: Api) -> None:
    listed = api.get("/my/orders/selling/all")["orders"][0]
    assert api.get(f"/my/orders/selling/{listed['order_number']}") == listed
    assert api.call("GET", "/my/orders/selling/999999999").status_code == 404


def test_ship_paid_order_then_refuse_a_second_time(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator))
    r = api.call("POST", f"/my/orders/selling/{order['order_number']}/ship", SHIP)
    assert r.status_code == 200, r.text
    shipped = r.json()
    assert shipped["status"] == "shipped" and shipped["shipping_code"] == SHIP["tracking_number"]
    assert (
        shipped["shipping_provider"] == "USPS" and shipped["shipped_at"] and "ship" not in shipped["_links"]
    )
    assert shipped["updated_at"] >= order["updated_at"]
    again = api.call("POST", f"/my/orders/selling/{order['order_number']}/ship", SHIP)
    assert again.status_code == 422 and "already been shipped" in again.json()["message"]


def test_ship_unpaid_order_refused(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator), paid=False)
    r = api.call("POST", f"/my/orders/selling/{order['order_number']}/ship", SHIP)
    assert r.status_code == 422 and "errors" in r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SHIP, "provider": "Pony Express"}, "provider"),
        ({**SHIP, "tracking_number": ""}, "tracking_number"),
        ({"provider": "UPS", "tracking_number": "1Z"}, "send_notification"),
    ],
)
def test_ship_validation_412(api: Api, emulator, body: dict[str, Any], field: str) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator))
    r = api.call("POST", f"/my/orders/selling/{order['order_number']}/ship", body)
    assert r.status_code == 412 and field in r.json()["errors"]


def test_sound_tank_provider_extras_accepted(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator))
    r = api.call("POST", f"/my/orders/selling/{order['order_number']}/ship", {**SHIP, "provider": "Hermes"})
    assert r.status_code == 200


def test_local_pickup_no_address_ship_refused_mark_picked_up_ok(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator), local_pickup=True)
    assert order["local_pickup"] is True and "shipping_address" not in order
    assert "mark_picked_up" in order["_links"] and "ship" not in order["_links"]
    n = order["order_number"]
    assert api.call("POST", f"/my/orders/selling/{n}/ship", SHIP).status_code == 422
    r = api.call("POST", f"/my/orders/selling/{n}/mark_picked_up", {"date": "2026-01-02 10:00:00"})
    assert r.status_code == 200 and r.json()["status"] == "picked_up"
    assert "mark_picked_up" in r.json()["_links"]  # links do not gate actions (API-NOTES 16.2.5)
    assert api.call("POST", f"/my/orders/selling/{n}/mark_picked_up", {}).status_code == 422


def test_mark_picked_up_refused_for_shipped_orders(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator))
    assert api.call("POST", f"/my/orders/selling/{order['order_number']}/mark_picked_up").status_code == 422


def test_updated_start_date_picks_up_a_changed_order(api: Api, emulator) -> None:
    orders = api.follow_all("/my/orders/selling/all", "orders")
    newest_update = max(o["updated_at"] for o in orders)
    emulator.store.clock_offset += __import__("datetime").timedelta(seconds=5)
    target = orders[-1]["order_number"]
    api.simulate("order_changed", order_number=target, status="cancelled")
    # the `+` of an offset arrives as a space when not encoded; core.parse_ts copes, so send it raw
    since = emulator.store.now().isoformat(timespec="seconds")
    url = f"{EMULATOR_API_URL}/my/orders/selling/all?updated_start_date={since.replace('+', '%2B')}"
    changed = api.get(url)["orders"]
    assert changed and all(o["updated_at"] > newest_update for o in changed)
    assert [o["order_number"] for o in changed] == [target] and changed[0]["status"] == "cancelled"


def test_created_date_filters_with_m1_style_offset(api: Api) -> None:
    everything = api.get("/my/orders/selling/all", created_start_date="2000-01-01T00:00-00:00")
    assert everything["total"] == 10
    none = api.get("/my/orders/selling/all", created_end_date="2000-01-01T00:00-00:00")
    assert none["total"] == 0 and none["orders"] == []
    assert api.call("GET", "/my/orders/selling/all", created_start_date="yesterday").status_code == 400


def test_order_changed_simulation_rejects_unknown_status(api: Api) -> None:
    n = api.get("/my/orders/selling/all")["orders"][0]["order_number"]
    r = api.s.post(
        f"{EMULATOR_ORIGIN}/__emulator__/simulate/order_changed", json={"order_number": n, "status": "x"}
    )
    assert r.status_code == 400


def test_feedback_for_buyer_once_shipped(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator))
    n = order["order_number"]
    # Not yet shipped: nothing to rate.
    assert api.call("POST", f"/orders/{n}/feedback/buyer", {"message": "ok", "rating": 5}).status_code == 422
    api.call("POST", f"/my/orders/selling/{n}/ship", SHIP)
    assert api.get(f"/my/orders/selling/{n}")["needs_feedback_for_buyer"] is True
    bad = api.call("POST", f"/orders/{n}/feedback/buyer", {"message": "", "rating": 9})
    assert bad.status_code == 412 and {"rating", "message"} <= bad.json()["errors"].keys()
    assert api.call("GET", f"/orders/{n}/feedback/buyer").status_code == 404
    r = api.call("POST", f"/orders/{n}/feedback/buyer", {"message": "Great buyer", "rating": 5})
    assert r.status_code == 201 and r.json()["rating"] == 5
    assert api.get(f"/my/orders/selling/{n}")["needs_feedback_for_buyer"] is False
    assert api.get(f"/orders/{n}/feedback/buyer")["message"] == "Great buyer"
    sent = api.get("/my/feedback/sent")["feedback"]
    assert any(f["order_number"] == n for f in sent)
    assert (
        api.call("POST", f"/orders/{n}/feedback/buyer", {"message": "again", "rating": 4}).status_code == 422
    )


def test_feedback_received_and_seller_feedback(api: Api, emulator) -> None:
    emulator.reset(seed=3, size="demo")
    received = api.follow_all("/my/feedback/received", "feedback")
    assert received and all(1 <= f["rating"] <= 5 for f in received)
    n = received[0]["order_number"]
    assert api.get(f"/orders/{n}/feedback/seller")["id"] == received[0]["id"]


def test_order_json_money_and_links(api: Api, emulator) -> None:
    number = api.simulate("new_order", listing_id=live_listing_id(emulator))["order_number"]
    order = api.get(f"/my/orders/selling/{number}")
    assert order["amount_tax"]["display"] == "FREE"
    total = sum(float(order[k]["amount"]) for k in ("amount_product_subtotal", "shipping", "amount_tax"))
    assert float(order["total"]["amount"]) == pytest.approx(total)
    assert order["fully_refundable_amount"] == order["total"]
    assert order["_links"]["self"]["href"].startswith(EMULATOR_API_URL)
    assert isinstance(order["buyer_id"], int) and order["buyer_name"]
    # The payout is the truth; itemised fees may be absent or "0.00" (API-NOTES 16.2.1)
    record = emulator.store.table("orders")[number]
    fees = order_fees(record)
    assert float(order["direct_checkout_payout"]["amount"]) == pytest.approx(total - float(fees.total))
    assert fees.selling_fee > 0 and fees.processing_fee > 0


def test_state_renderers(api: Api) -> None:
    r = api.s.get(f"{EMULATOR_ORIGIN}/__emulator__/state/orders")
    assert r.status_code == 200 and r.json()["total"] == 10
    for name in ("payments", "feedback"):
        assert api.s.get(f"{EMULATOR_ORIGIN}/__emulator__/state/{name}").status_code == 200


def test_webhook_on_order_create(api: Api, emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    posted: list[tuple[str, dict[str, Any]]] = []
    emulator.store.table("webhooks")[1] = {
        "id": 1,
        "topic": "orders/create",
        "url": "http://127.0.0.1:9/hook",
    }

    def fake_post(url: str, data: str, **kwargs: Any) -> Any:
        import json

        posted.append((kwargs["headers"]["X-Reverb-Topic"], json.loads(data)))
        return type("R", (), {"status_code": 200})()

    monkeypatch.setattr("emulator.app.requests.post", fake_post)
    order = api.simulate("new_order", listing_id=live_listing_id(emulator))
    assert (
        posted and posted[0][0] == "orders/create" and posted[0][1]["order_number"] == order["order_number"]
    )


def test_orders_as_the_live_data_shows_them(api: Api, emulator) -> None:
    """API-NOTES 16.2 [LIVE-DATA]; each point was different before (fees always itemised, tax_rate a
    string, cancelled orders with totals, buyer_email always, presentment in the shop currency, gated
    mark_picked_up, absolute pagination hrefs)."""
    emulator.reset(seed=1, size="demo")
    page = api.get("/my/orders/selling/all", per_page=50)
    assert page["_links"]["next"]["href"].startswith("/api/my/orders/selling/all?")  # root-relative
    orders = api.follow_all("/my/orders/selling/all", "orders", per_page=50)
    assert any("selling_fee" not in o for o in orders) and any("selling_fee" in o for o in orders)
    assert any(o["direct_checkout_fee"]["amount"] == "0.00" and o["direct_checkout_payout"] for o in orders)
    assert all(isinstance(o["tax_rate"], float) for o in orders)
    assert any("buyer_email" not in o for o in orders)
    assert all(o["buyer_email"].endswith("@private-relay.reverb.com") for o in orders if "buyer_email" in o)
    assert all("mark_picked_up" in o["_links"] and "conversation" in o["_links"] for o in orders)
    assert any(o["presentment_amount_product"]["currency"] != o["amount_product"]["currency"] for o in orders)
    assert {o["shipment_status"] for o in orders} >= {"unknown", "delivered"}
    assert all(isinstance(o["shipping_address"]["id"], str) for o in orders if "shipping_address" in o)
    cancelled = [o for o in orders if o["status"] == "cancelled"]
    assert cancelled
    for o in cancelled:
        for key in ("total", "amount_tax", "paid_at", "shipping_address"):
            assert key not in o, key
    providers = {o["shipping_provider"] for o in orders if o["shipping_provider"]}
    assert providers & {"Personal Collection ", "CanPar", "Canada Post", "Royal Mail"}
