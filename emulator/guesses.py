"""The emulator's invented shapes, in one place (API-NOTES 16.6: still unknown after a targeted search).

No live source shows the JSON of these resources. Each is rendered in the shape named here as `default`;
`Emulator(variant="alt")` serves a second plausible shape of every one of them, so code and tests that read
them prove they degrade gracefully (take the first list they find, treat absent keys as unknown) instead
of fitting our first guess. Check them on a real shop before relying on them.

Everything else the emulator answers is grounded in a source named next to its code (API-NOTES tags).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

VARIANTS = ("default", "alt")

# What each variant of each guessed resource looks like (the default is what the handler modules render).
GUESSES: dict[str, dict[str, str]] = {
    "conversations": {
        "default": "GET /my/conversations -> {conversations: [{id (int), subject, unread, last_message_at, "
        "other_party {id, name}, listing {id, title}, messages [...]}]}",
        "alt": "ids as strings; no `unread`, no `last_message_at` (only updated_at); `other_party_name` "
        "flat instead of the other_party object",
    },
    "messages": {
        "default": "[{id (int), body, created_at, sender {id, name}, sent_by_me}]",
        "alt": "ids as strings; the text in `message`, not `body`; `sender_name` flat",
    },
    "payout_line_items": {
        "default": "{line_items: [{order_number, sale_price, shipping, tax, fees [{type, amount}], total}]}",
        "alt": "`order_id` (a string) instead of order_number; `amount_product` instead of sale_price; "
        "fees as separate selling_fee / processing_fee money fields",
    },
    "payments": {
        "default": "{payments: [{id (int), order_number, state, amount, payment_method, created_at}]}",
        "alt": "ids as strings; `status` instead of state; `order_id` instead of order_number",
    },
    "shipping_providers": {
        "default": "{shipping_providers: [{name}]}",
        "alt": "{providers: [name, ...]}: another root key, bare strings",
    },
}


def alt(emu: object) -> bool:
    """True when the emulator serves the second variant of the guessed shapes."""
    return getattr(emu, "variant", "default") == "alt"


def _rename(body: dict[str, Any], old: str, new: str) -> None:
    if old in body:
        body[new] = body.pop(old)


def _alt_message(body: dict[str, Any]) -> dict[str, Any]:
    body["id"] = str(body["id"])
    _rename(body, "body", "message")
    sender = body.pop("sender", None)
    if isinstance(sender, dict):
        body["sender_name"] = sender.get("name")
    return body


def _alt_conversation(body: dict[str, Any]) -> dict[str, Any]:
    body["id"] = str(body["id"])
    body.pop("unread", None)
    body.pop("last_message_at", None)
    other = body.pop("other_party", None)
    if isinstance(other, dict):
        body["other_party_name"] = other.get("name")
    return body


def _alt_line_item(body: dict[str, Any]) -> dict[str, Any]:
    body["order_id"] = str(body.pop("order_number"))
    _rename(body, "sale_price", "amount_product")
    for fee in body.pop("fees", []):
        body[fee["type"]] = fee["amount"]
    return body


def _alt_payment(body: dict[str, Any]) -> dict[str, Any]:
    body["id"] = str(body["id"])
    _rename(body, "state", "status")
    _rename(body, "order_number", "order_id")
    return body


def _alt_providers(body: dict[str, Any]) -> dict[str, Any]:
    return {"providers": [p["name"] for p in body["shipping_providers"]]}


_ALT: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "conversations": _alt_conversation,
    "messages": _alt_message,
    "payout_line_items": _alt_line_item,
    "payments": _alt_payment,
    "shipping_providers": _alt_providers,
}


def shaped(emu: object, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` (rendered in the default shape) in the shape the emulator's variant serves for `kind`."""
    return _ALT[kind](body) if alt(emu) else body
