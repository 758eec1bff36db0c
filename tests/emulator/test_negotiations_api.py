"""Negotiations: listings with nested offers, accept/decline/counter, turns, expiry, buyer simulations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.emulator.test_orders_api import Api, live_listing_id


@pytest.fixture
def api(emulator) -> Api:
    return Api()


def _offer(api: Api, emulator, **params: Any) -> dict[str, Any]:
    params.setdefault("listing_id", live_listing_id(emulator))
    made = api.simulate("offer", **params)
    return api.get(f"/my/negotiations/{made['id']}")


def test_list_rows_are_listings_with_nested_active_negotiations(api: Api, emulator) -> None:
    offer = _offer(api, emulator)
    body = api.get("/my/listings/negotiations")
    assert "listings" in body and "negotiations" not in body
    rows = api.follow_all("/my/listings/negotiations", "listings")
    ids = [n["id"] for row in rows for n in row["negotiations"]]
    assert offer["id"] in ids and len(ids) == len(set(ids))
    assert all(n["state"] == "active" for row in rows for n in row["negotiations"])
    row = next(r for r in rows if offer["id"] in [n["id"] for n in r["negotiations"]])
    assert str(row["id"]) == offer["_links"]["listing"]["href"].rsplit("/", 1)[1] and "title" in row


def test_buyer_offer_is_the_sellers_turn(api: Api, emulator) -> None:
    offer = _offer(api, emulator, price="100.00")
    assert offer["state"] == "active" and offer["actionable"] is True and offer["you_last_initiated"] is False
    assert {"accept", "decline", "counter"} <= offer["_links"].keys()
    assert offer["last_offered_price"]["original"]["amount"] == "100.00"
    assert isinstance(offer["id"], str) and offer["offers"][0]["initiator_type"] == "buyer"


def test_counter_then_not_sellers_turn(api: Api, emulator) -> None:
    offer = _offer(api, emulator, price="100.00")
    body = {
        "price": {"amount": "120.00", "currency": "USD"},
        "shipping_price": {"amount": "15.00", "currency": "USD"},
        "message": "Meet me halfway?",
    }
    r = api.call("POST", f"/my/negotiations/{offer['id']}/counter", body)
    assert r.status_code == 200, r.text
    countered = r.json()
    assert countered["state"] == "active" and countered["actionable"] is False
    assert countered["you_last_initiated"] is True and countered["offers_count"] == 2
    assert countered["last_offered_total"]["original"]["amount"] == "135.00"
    assert countered["expires_at"] >= offer["expires_at"] and countered["updated_at"] >= offer["updated_at"]
    assert not {"accept", "decline", "counter"} & countered["_links"].keys()
    # Not the seller's turn now: every seller action is refused.
    for action in ("counter", "accept", "decline"):
        assert api.call("POST", f"/my/negotiations/{offer['id']}/{action}", body).status_code == 422
    # The buyer counters back: the seller's turn again.
    back = api.simulate("counter", negotiation_id=offer["id"], price="110.00")
    assert back["actionable"] is True and back["offers_count"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"price": {"amount": "0.00", "currency": "USD"}},
        {"price": {"amount": "abc", "currency": "USD"}},
        {"price": {"amount": "10.00", "currency": "EUR"}},
        {"price": {"amount": "99999999.00", "currency": "USD"}},
    ],
)
def test_counter_validation(api: Api, emulator, body: dict[str, Any]) -> None:
    offer = _offer(api, emulator)
    r = api.call("POST", f"/my/negotiations/{offer['id']}/counter", body)
    assert r.status_code == 412 and "price" in r.json()["errors"]


USD10 = {"amount": "10.00", "currency": "USD"}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"price": USD10, "shipping_price": {"amount": "5", "currency": "EUR"}}, {"shipping_price"}),
        (
            {"price": {"amount": "0", "currency": "USD"}, "shipping_price": {"amount": "x"}},
            {"price", "shipping_price"},
        ),
        (
            {"price": {"amount": "1", "currency": "EUR"}, "shipping_price": ""},
            {"price"},
        ),  # "": the offer's own
        ({"shipping_price": {"amount": "x", "currency": "EUR"}}, {"price", "shipping_price"}),
    ],
)
def test_counter_names_every_refused_field(
    api: Api, emulator, body: dict[str, Any], errors: set[str]
) -> None:
    offer = _offer(api, emulator)
    r = api.call("POST", f"/my/negotiations/{offer['id']}/counter", body)
    assert r.status_code == 412 and set(r.json()["errors"]) == errors
    if (body.get("shipping_price") or {}).get("currency") == "EUR":
        assert r.json()["errors"]["shipping_price"] == ["currency must be USD"]


def test_a_counter_without_shipping_keeps_the_offers(api: Api, emulator) -> None:
    offer = _offer(api, emulator, price="100.00")
    r = api.call("POST", f"/my/negotiations/{offer['id']}/counter", {"price": USD10})
    assert r.status_code == 200, r.text
    assert r.json()["offers"][-1]["shipping_price"] == offer["offers"][-1]["shipping_price"]


def test_accept_creates_unpaid_offer_order_and_reduces_inventory(api: Api, emulator) -> None:
    lid = live_listing_id(emulator)
    before = emulator.store.table("listings")[lid]["inventory"]
    offer = _offer(api, emulator, listing_id=lid, price="150.00")
    r = api.call("POST", f"/my/negotiations/{offer['id']}/accept", {"message": "Deal!"})
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["state"] == "accepted" and accepted["actionable"] is False
    assert emulator.store.table("listings")[lid]["inventory"] == before - 1
    number = accepted["_links"]["order"]["href"].rsplit("/", 1)[1]
    order = api.get(f"/my/orders/selling/{number}")
    assert order["order_type"] == "offer" and order["status"] == "unpaid"
    assert order["amount_product"]["amount"] == "150.00" and order["product_id"] == str(lid)
    assert number in [o["order_number"] for o in api.follow_all("/my/orders/selling/unpaid", "orders")]
    assert api.call("POST", f"/my/negotiations/{offer['id']}/accept").status_code == 422
    active = [
        n["id"]
        for row in api.follow_all("/my/listings/negotiations", "listings")
        for n in row["negotiations"]
    ]
    assert offer["id"] not in active


def test_accept_refused_when_listing_sold(api: Api, emulator) -> None:
    lid = live_listing_id(emulator)
    offer = _offer(api, emulator, listing_id=lid)
    emulator.store.table("listings")[lid].update(state="sold", inventory=0)
    assert api.call("POST", f"/my/negotiations/{offer['id']}/accept").status_code == 422


def test_decline(api: Api, emulator) -> None:
    offer = _offer(api, emulator)
    declined = api.call("POST", f"/my/negotiations/{offer['id']}/decline").json()
    assert declined["state"] == "declined" and "accept" not in declined["_links"]
    assert api.call("POST", f"/my/negotiations/{offer['id']}/decline").status_code == 422


def test_offers_expire_after_48_hours(api: Api, emulator) -> None:
    offer = _offer(api, emulator)
    emulator.store.clock_offset += timedelta(hours=49)
    again = api.get(f"/my/negotiations/{offer['id']}")
    assert again["state"] == "expired" and again["actionable"] is False
    assert api.call("POST", f"/my/negotiations/{offer['id']}/accept").status_code == 422


def test_buyer_counter_simulation_refused_on_buyer_turn(api: Api, emulator) -> None:
    offer = _offer(api, emulator)
    r = api.s.post(
        "http://reverb.test/__emulator__/simulate/counter", json={"negotiation_id": offer["id"], "price": 1}
    )
    assert r.status_code == 422


def test_unknown_negotiation_404(api: Api) -> None:
    assert api.call("GET", "/my/negotiations/1").status_code == 404


def test_seeded_negotiations_include_both_turns(api: Api, emulator) -> None:
    emulator.reset(seed=2, size="demo")
    rows = api.follow_all("/my/listings/negotiations", "listings", per_page=5)
    turns = {n["actionable"] for row in rows for n in row["negotiations"]}
    assert turns == {True, False}


def test_offers_on_a_deleted_listing_leave_the_sellers_list(emulator) -> None:
    from backoffice.reverb.transport import new_session
    from tests.conftest import EMULATOR_API_URL, EMULATOR_TOKEN

    session = new_session()
    headers = {"Authorization": f"Bearer {EMULATOR_TOKEN}", "Accept-Version": "3.0"}
    listed = session.get(f"{EMULATOR_API_URL}/my/listings/negotiations", headers=headers).json()
    listing_id = listed["listings"][0]["id"]
    emulator.handle(
        "POST",
        "/__emulator__/simulate/listing_deleted",
        "",
        {},
        f'{{"listing_id": {listing_id}}}'.encode(),
        "http://reverb.test",
    )
    after = session.get(f"{EMULATOR_API_URL}/my/listings/negotiations", headers=headers)
    assert after.status_code == 200
    assert listing_id not in [row["id"] for row in after.json()["listings"]]
    assert after.json()["total"] == listed["total"] - 1


# ---- an offer made inside a conversation (API-NOTES 9: same body as a counter) ----


def _conversation_about(api: Api, emulator, **listing: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    lid = live_listing_id(emulator)
    emulator.store.table("listings")[lid].update(listing)
    return api.simulate("message", listing_id=lid, body="Any wiggle room?"), emulator.store.table("listings")[
        lid
    ]


def test_an_offer_in_a_conversation_opens_a_negotiation_the_seller_pull_lists(api: Api, emulator) -> None:
    convo, listing = _conversation_about(api, emulator, price="500.00")
    body = {"price": {"amount": "450.00", "currency": "USD"}, "message": "450 and it's yours"}
    r = api.call("POST", f"/conversations/{convo['id']}/offer", body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["state"] == "active" and made["actionable"] is False and made["you_last_initiated"] is True
    assert made["buyer_id"] == str(convo["other_party"]["id"])
    assert (
        made["offers"][0]["initiator_type"] == "seller"
        and made["offers"][0]["message"] == "450 and it's yours"
    )
    assert made["last_offered_price"]["original"]["amount"] == "450.00"
    assert made["_links"]["listing"]["href"].endswith(f"/listings/{listing['id']}")
    pulled = [
        n["id"]
        for row in api.follow_all("/my/listings/negotiations", "listings")
        for n in row["negotiations"]
    ]
    assert made["id"] in pulled
    # One active negotiation per buyer and listing: a second offer is refused (answer the open one).
    assert api.call("POST", f"/conversations/{convo['id']}/offer", body).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"price": {"amount": "0.00", "currency": "USD"}},
        {"price": {"amount": "10.00", "currency": "EUR"}},
        {"price": {"amount": "500.01", "currency": "USD"}},  # above the list price
    ],
)
def test_an_offer_in_a_conversation_is_validated_as_a_counter(
    api: Api, emulator, body: dict[str, Any]
) -> None:
    convo, _ = _conversation_about(api, emulator, price="500.00")
    r = api.call("POST", f"/conversations/{convo['id']}/offer", body)
    assert r.status_code == 412 and "price" in r.json()["errors"]
    assert not any(
        n["buyer"]["id"] == convo["other_party"]["id"] for n in emulator.store.table("negotiations").values()
    )


def test_no_offer_in_a_conversation_without_a_listing_for_sale(api: Api, emulator) -> None:
    body = {"price": {"amount": "10.00", "currency": "USD"}}
    loose = api.simulate("message", body="Do you buy gear?")  # about no listing
    assert api.call("POST", f"/conversations/{loose['id']}/offer", body).status_code == 422
    convo, listing = _conversation_about(api, emulator)
    listing["state"] = "ended"
    assert api.call("POST", f"/conversations/{convo['id']}/offer", body).status_code == 422
    assert api.call("POST", "/conversations/999999/offer", body).status_code == 404
