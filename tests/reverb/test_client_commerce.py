"""Refund requests, negotiations (offers), conversations and payouts through the client."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import ReverbError, ValidationError
from tests.reverb.conftest import recording_client, simulate


def rows(pages: Any) -> list[dict[str, Any]]:
    return [row for page in pages for row in page.items]


# ---- refunds ---------------------------------------------------------------------------------------


def test_refund_requests_default_single_and_list_states(client: ReverbClient, emulator: Any) -> None:
    active = rows(client.refund_requests())  # Reverb's default: the active states
    assert active and {r["state"] for r in active} <= {"pending_seller_response", "conditionally_approved"}
    approved = rows(client.refund_requests(state="approved"))
    assert approved and all(r["state"] == "approved" for r in approved)
    both = rows(client.refund_requests(state=["approved", "pending_seller_response"], per_page=1))
    wanted = {"approved", "pending_seller_response"}
    records = emulator.store.table("refund_requests").values()
    assert sorted(r["id"] for r in both) == sorted(r["id"] for r in records if r["state"] in wanted)
    number = approved[0]["order"]["order_number"]  # the official example nests the order
    by_order = rows(client.refund_requests(state="approved", order_number=number))
    assert [r["id"] for r in by_order] == [r["id"] for r in approved if r["order"]["order_number"] == number]
    future = emulator.store.now() + timedelta(days=1)
    assert rows(client.refund_requests(created_start=future)) == []
    assert rows(client.refund_requests(updated_start=future)) == []


def test_a_list_of_states_is_sent_rails_style(emulator: Any) -> None:
    client, recorder = recording_client()
    rows(client.refund_requests(state=["approved", "denied"]))
    query = parse_qs(urlsplit(recorder.sent[0].url).query)
    assert query["state[]"] == ["approved", "denied"]


def test_respond_to_refund_with_amount_and_note(client: ReverbClient, emulator: Any) -> None:
    pending = rows(client.refund_requests(state="pending_seller_response"))[0]
    with pytest.raises(ValueError):
        client.respond_to_refund(pending["id"], "maybe")
    answer = client.respond_to_refund(
        pending["id"],
        "approved",
        amount=Decimal("1.00"),
        currency="USD",
        note_to_buyer="Sorry about the scratch",
    )
    assert answer["state"] == "approved"
    assert answer["note_to_buyer"] == "Sorry about the scratch"


def test_respond_to_refund_deny(client: ReverbClient, emulator: Any) -> None:
    order = simulate("new_order")
    simulate("refund_request", order_number=order["order_number"])
    request = rows(client.refund_requests(order_number=order["order_number"]))[0]
    assert client.respond_to_refund(request["id"], "denied")["state"] == "denied"


def test_request_refund_seller_initiated(client: ReverbClient) -> None:
    order = simulate("new_order")
    made = client.request_refund(order["order_number"], "sold_elsewhere", "10.00", "USD")
    assert made["state"] == "approved"
    with pytest.raises(ValidationError) as info:
        client.request_refund(order["order_number"], "because", "1.00", "USD")
    assert "reason" in info.value.field_errors()


# ---- negotiations ----------------------------------------------------------------------------------


def actionable(client: ReverbClient) -> list[dict[str, Any]]:
    return [
        n
        for listing in rows(client.negotiations())
        for n in listing["negotiations"]
        if n["state"] == "active" and "accept" in n["_links"]
    ]


def test_negotiations_are_listings_with_nested_offers(client: ReverbClient) -> None:
    listings = rows(client.negotiations(per_page=1))
    assert listings and all("negotiations" in row and "make" in row for row in listings)
    first = listings[0]["negotiations"][0]
    assert client.get_negotiation(first["id"])["id"] == first["id"]


def test_accept_decline_and_counter(client: ReverbClient) -> None:
    for _ in range(3):
        simulate("offer")
    accept, decline, counter = actionable(client)[:3]
    accepted = client.accept_offer(accept["id"], message="Deal!")
    assert accepted["state"] == "accepted"
    assert client.decline_offer(decline["id"])["state"] == "declined"
    countered = client.counter_offer(
        counter["id"], Decimal("10.00"), "USD", shipping_price="5", message="Meet me"
    )
    last = countered["offers"][-1]
    assert last["price"]["original"]["amount"] == "10.00"
    assert last["shipping_price"]["original"]["amount"] == "5.00"
    assert last["message"] == "Meet me" and last["initiated_by_me"]
    with pytest.raises(ReverbError):  # the buyer's turn now
        client.accept_offer(counter["id"])


# ---- conversations ---------------------------------------------------------------------------------


def test_conversations_list_unread_search_get_mark_and_reply(client: ReverbClient, emulator: Any) -> None:
    simulate("message", body="Is the Telecaster still available?")
    everything = rows(client.conversations())
    assert len(everything) == len(emulator.store.table("conversations"))
    unread = rows(client.conversations(unread_only=True))
    assert unread and all(c["unread"] for c in unread)
    found = rows(client.conversations(search="Telecaster"))
    assert found
    conversation_id = found[0]["id"]
    assert client.get_conversation(conversation_id)["id"] == conversation_id
    assert client.mark_conversation_read(conversation_id)["unread"] is False
    assert client.mark_conversation_read(conversation_id, read=False)["unread"] is True
    replied = client.reply(conversation_id, "Yes, it is!")
    assert replied["messages"][-1]["body"] == "Yes, it is!"


# ---- payouts ---------------------------------------------------------------------------------------


def test_payouts_and_line_items_by_href_or_id(client: ReverbClient, emulator: Any) -> None:
    payouts = rows(client.payouts(per_page=1))
    assert len(payouts) == len(emulator.store.table("payouts"))
    href = payouts[0]["_links"]["line_items"]["href"]
    by_href = rows(client.payout_line_items(href))
    assert by_href and all("order_number" in li for li in by_href)
    payout_id = href.rstrip("/").split("/")[-2]
    assert rows(client.payout_line_items(payout_id)) == by_href
    assert rows(client.payout_line_items(int(payout_id), per_page=1)) == by_href
    future = emulator.store.now() + timedelta(days=1)
    assert rows(client.payouts(created_start=future)) == []
    assert len(rows(client.payouts(created_end=future))) == len(payouts)
