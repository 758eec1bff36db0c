"""Conversations: list (unread only, search), detail in time order, read/unread, replies, buyer messages."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.emulator.test_orders_api import Api, live_listing_id


@pytest.fixture
def api(emulator) -> Api:
    return Api()


def test_list_newest_activity_first(api: Api) -> None:
    rows = api.follow_all("/my/conversations", "conversations", per_page=2)
    assert len(rows) == len({c["id"] for c in rows}) == 4
    stamps = [datetime.fromisoformat(c["last_message_at"]) for c in rows]
    assert stamps == sorted(stamps, reverse=True)


def test_buyer_message_starts_an_unread_conversation_on_top(api: Api, emulator) -> None:
    lid = live_listing_id(emulator)
    made = api.simulate("message", listing_id=lid, body="Would you trade for a Les Paul?")
    first = api.get("/my/conversations")["conversations"][0]
    assert first["id"] == made["id"] and first["unread"] is True
    assert (
        first["listing"]["id"] == lid and first["messages"][-1]["body"] == "Would you trade for a Les Paul?"
    )
    unread = api.follow_all("/my/conversations", "conversations", unread_only="true")
    assert made["id"] in [c["id"] for c in unread] and all(c["unread"] for c in unread)


def test_search(api: Api) -> None:
    made = api.simulate("message", body="Do you have the flux capacitor pedal?")
    hits = api.get("/my/conversations", search="FLUX capacitor")["conversations"]
    assert [c["id"] for c in hits] == [made["id"]]
    assert api.get("/my/conversations", search="no-such-words-anywhere")["total"] == 0


def test_mark_read_and_unread(api: Api) -> None:
    made = api.simulate("message", body="Hello?")
    r = api.call("PUT", f"/my/conversations/{made['id']}", {"read": True})
    assert r.status_code == 200 and r.json()["unread"] is False
    assert made["id"] not in [
        c["id"] for c in api.follow_all("/my/conversations", "conversations", unread_only="true")
    ]
    assert api.call("PUT", f"/my/conversations/{made['id']}", {"read": False}).json()["unread"] is True
    assert api.call("PUT", f"/my/conversations/{made['id']}", {"read": "yes"}).status_code == 412


def test_reply_appears_last_and_detail_is_oldest_first(api: Api) -> None:
    made = api.simulate("message", body="First")
    api.simulate("message", conversation_id=made["id"], body="Second")
    r = api.call("POST", f"/my/conversations/{made['id']}/messages", {"body": "Thanks, yes it is."})
    assert r.status_code == 201, r.text
    detail = api.get(f"/my/conversations/{made['id']}")
    assert [m["body"] for m in detail["messages"]] == ["First", "Second", "Thanks, yes it is."]
    assert detail["messages"][-1]["sent_by_me"] is True and detail["unread"] is False
    stamps = [m["created_at"] for m in detail["messages"]]
    assert stamps == sorted(stamps)


def test_empty_reply_refused(api: Api) -> None:
    cid = api.get("/my/conversations")["conversations"][0]["id"]
    for body in ({}, {"body": ""}, {"body": "   "}):
        r = api.call("POST", f"/my/conversations/{cid}/messages", body)
        assert r.status_code == 412 and "body" in r.json()["errors"]


def test_unknown_conversation_404(api: Api) -> None:
    assert api.call("GET", "/my/conversations/1").status_code == 404
    assert api.call("POST", "/my/conversations/1/messages", {"body": "x"}).status_code == 404


def test_seller_starts_a_conversation_with_a_known_buyer(api: Api) -> None:
    made = api.simulate("message", body="hi")
    r = api.call(
        "POST", "/my/conversations", {"body": "A follow-up", "recipient_id": made["other_party"]["id"]}
    )
    assert r.status_code == 201 and r.json()["messages"][0]["body"] == "A follow-up"
    assert api.call("POST", "/my/conversations", {"body": "x", "recipient_id": 1}).status_code == 412


def test_seeded_conversations_have_unread_ones(api: Api, emulator) -> None:
    emulator.reset(seed=4, size="demo")
    rows = api.follow_all("/my/conversations", "conversations", per_page=50)
    assert {c["unread"] for c in rows} == {True, False}
    assert all(c["messages"] for c in rows)
