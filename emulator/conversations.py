"""Conversations (buyer messages): /api/my/conversations[/{id}[/messages]].

Internal record (store.table("conversations"), int id): id, listing_id (int | None), buyer {id, first_name,
last_name}, subject, read (bool, the seller has read it), messages [{id, body, sender "buyer"|"seller",
created_at}], created_at, updated_at, last_message_at.

shape ours: no source shows a conversation or a message (API-NOTES 9, 15.2); we follow the inferred shape
there: {id, subject, unread, last_message_at, listing {id,title}, other_party {id,name}, messages [...],
_links {self, messages}}.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .core import (
    ApiError,
    Request,
    Response,
    ValidationFailed,
    link,
    paginate,
    renderer,
    route,
    simulation,
    ts,
)
from .guesses import shaped
from .orders import background_request, make_buyer, sim_rng
from .store import Store

if TYPE_CHECKING:
    from .app import Emulator


def _name(person: dict[str, Any]) -> str:
    return f"{person['first_name']} {person['last_name']}"


def render_message(store: Store, c: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    if m["sender"] == "buyer":
        sender = {"id": c["buyer"]["id"], "name": _name(c["buyer"])}
    else:
        sender = {"id": store.shop.get("id"), "name": store.shop.get("name", "")}
    return {
        "id": m["id"],
        "body": m["body"],
        "created_at": ts(m["created_at"]),
        "sender": sender,
        "sent_by_me": m["sender"] == "seller",
    }  # shape a guess (API-NOTES 9, 16.6; see `guesses`)


def render_conversation(emu: Emulator, req: Request, c: dict[str, Any]) -> dict[str, Any]:
    store = emu.store
    listing = store.table("listings").get(c["listing_id"]) if c["listing_id"] is not None else None
    base = f"/api/my/conversations/{c['id']}"
    links: dict[str, Any] = {
        "self": link(req.href(base)),
        "messages": link(req.href(f"{base}/messages"), "POST"),
        "web": link(f"https://reverb.com/my/messages/{c['id']}"),
    }
    if listing is not None:
        links["listing"] = link(req.href(f"/api/listings/{listing['id']}"))
    return shaped(
        emu,
        "conversations",
        {
            "id": c["id"],
            "subject": c["subject"],
            "unread": not c["read"],
            "last_message_at": ts(c["last_message_at"]),
            "created_at": ts(c["created_at"]),
            "updated_at": ts(c["updated_at"]),
            "listing": {"id": listing["id"], "title": listing["title"]} if listing else None,
            "other_party": {"id": c["buyer"]["id"], "name": _name(c["buyer"])},
            "messages": [  # oldest to newest [OFFICIAL-DOC]
                shaped(emu, "messages", render_message(store, c, m)) for m in c["messages"]
            ],
            "_links": links,
        },
    )


renderer("conversations")(render_conversation)


def new_conversation(
    store: Store,
    buyer: dict[str, Any],
    listing: dict[str, Any] | None,
    at: datetime,
    subject: str | None = None,
) -> dict[str, Any]:
    cid = store.next_id("conversations", start=7000000)
    record = {
        "id": cid,
        "listing_id": listing["id"] if listing else None,
        "buyer": buyer,
        "subject": subject or (listing["title"] if listing else "Question for the shop"),
        "read": True,
        "messages": [],
        "created_at": at,
        "updated_at": at,
        "last_message_at": at,
    }
    store.table("conversations")[cid] = record
    return record


def add_message(store: Store, c: dict[str, Any], sender: str, body: str, at: datetime) -> dict[str, Any]:
    message = {
        "id": store.next_id("messages", start=90000000),
        "body": body,
        "sender": sender,
        "created_at": at,
    }
    c["messages"].append(message)
    c["last_message_at"] = at
    c["read"] = sender == "seller"  # a buyer's message is unread until the seller reads it
    c["updated_at"] = at
    return message


def conversation_record(store: Store, conversation_id: str) -> dict[str, Any]:
    c = store.table("conversations").get(int(conversation_id)) if conversation_id.isdigit() else None
    if c is None:
        raise ApiError(404, "The requested resource could not be found.")
    return c


def _body(data: dict[str, Any]) -> str:
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ValidationFailed({"body": ["can't be blank"]})
    return body


@route("GET", "/api/my/conversations")
def list_conversations(emu: Emulator, req: Request) -> dict[str, Any]:
    rows = list(emu.store.table("conversations").values())
    if req.arg("unread_only") in ("true", "1"):
        rows = [c for c in rows if not c["read"]]
    search = (req.arg("search") or "").strip().lower()
    if search:
        rows = [
            c
            for c in rows
            if search in c["subject"].lower()
            or search in _name(c["buyer"]).lower()
            or any(search in m["body"].lower() for m in c["messages"])
        ]
    rows.sort(key=lambda c: (c["last_message_at"], c["id"]), reverse=True)  # newest activity first
    return paginate(req, rows, "conversations", lambda c: render_conversation(emu, req, c))


@route("POST", "/api/my/conversations")
def start_conversation(emu: Emulator, req: Request) -> Response:
    """{body, listing_id?, recipient_id?} [OFFICIAL-SPEC]: the seller writes first (to a known buyer)."""
    store = emu.store
    data = req.json
    body = _body(data)
    listing = store.table("listings").get(int(data["listing_id"])) if data.get("listing_id") else None
    recipient = data.get("recipient_id")
    buyer = (
        next(
            (
                c["buyer"]
                for c in store.table("conversations").values()
                if str(c["buyer"]["id"]) == str(recipient)
            ),
            None,
        )
        or next(
            (o["buyer"] for o in store.table("orders").values() if str(o["buyer"]["id"]) == str(recipient)),
            None,
        )
        or next(  # a buyer who made an offer can be written to as well
            (
                n["buyer"]
                for n in store.table("negotiations").values()
                if str(n["buyer"]["id"]) == str(recipient)
            ),
            None,
        )
    )
    if buyer is None:
        raise ValidationFailed({"recipient_id": ["is not a known user"]})
    now = store.now()
    c = new_conversation(store, buyer, listing, now)
    add_message(store, c, "seller", body, now)
    return Response(201, render_conversation(emu, req, c))


@route("GET", "/api/my/conversations/{conversation_id}")
def get_conversation(emu: Emulator, req: Request, conversation_id: str) -> dict[str, Any]:
    return render_conversation(emu, req, conversation_record(emu.store, conversation_id))


@route("PUT", "/api/my/conversations/{conversation_id}")
def mark_read(emu: Emulator, req: Request, conversation_id: str) -> dict[str, Any]:
    """{read: true|false}: mark read or unread [OFFICIAL-DOC manage-messages]."""
    c = conversation_record(emu.store, conversation_id)
    read = req.json.get("read")
    if not isinstance(read, bool):
        raise ValidationFailed({"read": ["must be true or false"]})
    c["read"] = read
    emu.store.touch(c)
    return render_conversation(emu, req, c)


@route("POST", "/api/my/conversations/{conversation_id}/messages")
def reply(emu: Emulator, req: Request, conversation_id: str) -> Response:
    store = emu.store
    c = conversation_record(store, conversation_id)
    add_message(store, c, "seller", _body(req.json), store.now())
    return Response(201, render_conversation(emu, req, c))  # response undocumented: the conversation (ours)


@simulation("message")
def simulate_message(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """A buyer writes: {conversation_id?, listing_id?, body}; a new conversation unless one is given."""
    store = emu.store
    body = str(params.get("body") or "Is this still available?")
    if params.get("conversation_id") is not None:
        c = conversation_record(store, str(params["conversation_id"]))
    else:
        listing = None
        if params.get("listing_id") is not None:
            listing = store.table("listings").get(int(params["listing_id"]))
            if listing is None:
                raise ApiError(404, f"no listing {params['listing_id']}")
        buyer = make_buyer(sim_rng(store, "message"), 900000 + store.next_id("buyers"))
        c = new_conversation(store, buyer, listing, store.now())
    add_message(store, c, "buyer", body, store.now())
    return render_conversation(emu, background_request(emu), c)
