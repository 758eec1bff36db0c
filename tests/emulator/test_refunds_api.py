"""Refund requests: list filters, the seller's state machine, amounts, and seller-initiated refunds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.test_orders_api import SHIP, Api, live_listing_id


@pytest.fixture
def api(emulator) -> Api:
    return Api()


def _shipped_order(api: Api, emulator) -> dict[str, Any]:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator))
    api.call("POST", f"/my/orders/selling/{order['order_number']}/ship", SHIP)
    return api.get(f"/my/orders/selling/{order['order_number']}")


def _request(api: Api, emulator, **params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    order = _shipped_order(api, emulator)
    rr = api.simulate("refund_request", order_number=order["order_number"], **params)
    return order, rr


def test_buyer_request_is_pending_and_listed_by_default(api: Api, emulator) -> None:
    order, rr = _request(api, emulator, reason="shipping_damage")
    assert rr["state"] == "pending_seller_response" and rr["initiated_by"] == "buyer"
    assert rr["refund_type"] == "full" and rr["amount"] == order["total"]
    listed = api.follow_all("/my/refund_requests/selling", "refund_requests")
    assert rr["id"] in [r["id"] for r in listed]
    assert {r["state"] for r in listed} <= {"pending_seller_response", "conditionally_approved"}


def test_state_filters_single_and_list_and_order_number(api: Api, emulator) -> None:
    order, rr = _request(api, emulator)
    api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": "denied"})
    denied = api.get("/my/refund_requests/selling", state="denied")["refund_requests"]
    assert rr["id"] in [r["id"] for r in denied] and {r["state"] for r in denied} == {"denied"}
    url = "/my/refund_requests/selling?state[]=denied&state[]=approved"
    both = api.get(url)["refund_requests"]
    assert {r["state"] for r in both} <= {"denied", "approved"} and rr["id"] in [r["id"] for r in both]
    by_order = api.get("/my/refund_requests/selling", order_number=order["order_number"], state="denied")
    assert [r["id"] for r in by_order["refund_requests"]] == [rr["id"]]
    assert api.call("GET", "/my/refund_requests/selling", state="bogus").status_code == 400


def test_conditionally_approve_with_lower_amount_then_approve(api: Api, emulator) -> None:
    order, rr = _request(api, emulator)
    r = api.call(
        "PUT",
        f"/my/refund_requests/selling/{rr['id']}",
        {
            "state": "conditionally_approved",
            "note_to_buyer": "Send it back",
            "refund_amount": {"amount": "10.00", "currency": "USD"},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "conditionally_approved" and r.json()["amount"]["amount"] == "10.00"
    assert r.json()["note_to_buyer"] == "Send it back"
    # Conditional approval moves no money: the order is still fully refundable.
    assert r.json()["order"]["fully_refundable_amount"] == order["total"]
    done = api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": "approved"}).json()
    assert done["state"] == "approved" and done["amount"]["amount"] == "10.00"
    expected = f"{float(order['total']['amount']) - 10:.2f}"
    assert done["order"]["fully_refundable_amount"]["amount"] == expected
    after = api.get(f"/my/orders/selling/{order['order_number']}")
    assert after["status"] == "shipped" and after["updated_at"] >= order["updated_at"]


def test_full_approval_refunds_the_order(api: Api, emulator) -> None:
    order, rr = _request(api, emulator)
    done = api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": "approved"}).json()
    assert done["order"]["status"] == "refunded"
    assert done["order"]["fully_refundable_amount"]["amount"] == "0.00"
    payment = api.get("/my/payments/selling", order_id=order["order_number"])["payments"][0]
    assert payment["amount_refunded"] == order["total"]


def test_final_states_refuse_changes(api: Api, emulator) -> None:
    _, rr = _request(api, emulator)
    assert api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": "denied"}).status_code == 200
    for state in ("approved", "conditionally_approved", "denied"):
        r = api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": state})
        assert r.status_code == 422 and "errors" in r.json()


def test_conditionally_approved_cannot_go_back(api: Api, emulator) -> None:
    _, rr = _request(api, emulator)
    api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": "conditionally_approved"})
    r = api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": "conditionally_approved"})
    assert r.status_code == 422


def test_amount_above_refundable_refused(api: Api, emulator) -> None:
    order, rr = _request(api, emulator)
    too_much = f"{float(order['total']['amount']) + 1:.2f}"
    r = api.call(
        "PUT",
        f"/my/refund_requests/selling/{rr['id']}",
        {"state": "approved", "refund_amount": {"amount": too_much, "currency": "USD"}},
    )
    assert r.status_code == 412 and "refund_amount" in r.json()["errors"]
    assert api.get(f"/my/refund_requests/selling/{rr['id']}")["state"] == "pending_seller_response"


def test_bad_state_and_unknown_id(api: Api, emulator) -> None:
    _, rr = _request(api, emulator)
    assert api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": "maybe"}).status_code == 412
    assert api.call("PUT", "/my/refund_requests/selling/99999999", {"state": "denied"}).status_code == 404


def test_seller_initiated_refund(api: Api, emulator) -> None:
    order = _shipped_order(api, emulator)
    n = order["order_number"]
    body = {
        "state": "conditionally_approved",
        "reason": "buyer_no_like",
        "refund_amount": {"amount": "10.00", "currency": "USD"},
    }
    r = api.call("POST", f"/my/orders/selling/{n}/refund_requests", body)
    assert r.status_code == 201, r.text
    assert r.json()["initiated_by"] == "seller" and r.json()["refund_type"] == "partial"
    approved = api.call(
        "POST", f"/my/orders/selling/{n}/refund_requests", {"state": "approved", "reason": "accidental_order"}
    ).json()
    assert approved["order"]["status"] == "refunded"
    # Nothing left to refund now.
    again = api.call(
        "POST", f"/my/orders/selling/{n}/refund_requests", {"state": "approved", "reason": "other"}
    )
    assert again.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "approved", "reason": "because"}, "reason"),
        ({"state": "approved"}, "reason"),
        ({"state": "denied", "reason": "other"}, "state"),
        (
            {"state": "approved", "reason": "other", "refund_amount": {"amount": "5.00", "currency": "EUR"}},
            "refund_amount",
        ),
        (
            {
                "state": "approved",
                "reason": "other",
                "refund_amount": {"amount": "99999.00", "currency": "USD"},
            },
            "refund_amount",
        ),
    ],
)
def test_seller_initiated_validation(api: Api, emulator, body: dict[str, Any], field: str) -> None:
    order = _shipped_order(api, emulator)
    r = api.call("POST", f"/my/orders/selling/{order['order_number']}/refund_requests", body)
    assert r.status_code == 412 and field in r.json()["errors"]


def test_unpaid_order_cannot_be_refunded(api: Api, emulator) -> None:
    order = api.simulate("new_order", listing_id=live_listing_id(emulator), paid=False)
    r = api.call(
        "POST",
        f"/my/orders/selling/{order['order_number']}/refund_requests",
        {"state": "approved", "reason": "other"},
    )
    assert r.status_code == 422


def test_updated_filter_sees_a_response(api: Api, emulator) -> None:
    _, rr = _request(api, emulator)
    from datetime import timedelta

    emulator.store.clock_offset += timedelta(seconds=5)
    since = emulator.store.now().isoformat(timespec="seconds").replace("+", "%2B")
    api.call("PUT", f"/my/refund_requests/selling/{rr['id']}", {"state": "conditionally_approved"})
    url = f"/my/refund_requests/selling?updated_start_date={since}"
    assert [r["id"] for r in api.get(url)["refund_requests"]] == [rr["id"]]


def test_pagination_next_keeps_state(api: Api, emulator) -> None:
    for _ in range(3):
        _request(api, emulator)
    first = api.get("/my/refund_requests/selling", state="pending_seller_response", per_page=1)
    assert "state=pending_seller_response" in first["_links"]["next"]["href"]
    every = api.follow_all(
        "/my/refund_requests/selling", "refund_requests", per_page=1, state="pending_seller_response"
    )
    assert len({r["id"] for r in every}) == len(every) == first["total"]
