"""The emulator's invented shapes, in one place (API-NOTES 16.6: still unknown after a targeted search).

No live source shows the JSON of these resources. Each is rendered in the shape named here as `default`;
`Emulator(variant="alt")` serves a second plausible shape of every one of them, so code and tests that read
them prove they degrade gracefully (take the first list they find, treat absent keys as unknown) instead
of fitting our first guess. Check them on a real shop before relying on them.

Everything else the emulator answers is grounded in a source named next to its code (API-NOTES tags).
"""

from __future__ import annotations

VARIANTS = ("default", "alt")

GUESSES: dict[str, dict[str, str]] = {
    "conversations": {
        "default": "GET /my/conversations -> {conversations: [{id, subject, unread, last_message_at, ...}]}",
        "alt": "root key `conversations` kept; ids as strings, `unread` absent, `updated_at` instead of "
        "`last_message_at`",
    },
    "messages": {
        "default": "GET /my/conversations/{id} -> {messages: [{id, body, sender, created_at}]}",
        "alt": "messages under `conversation_messages`, text in `message`, ids as strings",
    },
    "payout_line_items": {
        "default": "GET /my/payouts/{id}/line_items -> {line_items: [{order_number, amount, fee, ...}]}",
        "alt": "root key `payout_line_items`; order number in `order_id` (a string)",
    },
    "payments": {
        "default": "GET /my/payments/selling -> {payments: [{id, order_number, amount, state, ...}]}",
        "alt": "`status` instead of `state`, `order_id` instead of `order_number`, ids as strings",
    },
    "shipping_providers": {
        "default": "GET /shipping/providers -> {providers: [{name, ...}]}",
        "alt": "root key `shipping_providers`, each a bare name string",
    },
}


def alt(emu: object) -> bool:
    """True when the emulator serves the second variant of the guessed shapes."""
    return getattr(emu, "variant", "default") == "alt"
