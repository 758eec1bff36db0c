"""What a listing edit can change, how each field reads from the mirror and goes into Reverb's PUT body.

A local edit is a pending change `{field: {"value": local, "base": Reverb's value when the edit was made}}`
kept in `Listing.pending_changes`; the mirror columns keep Reverb's values until Reverb confirms the push.
Values are stored JSON-normalised (price as a "1234.50" string, categories as a list of UUIDs...) so
`base` compares exactly with the value read from the mirror later.

Conflicts are computed from the row (pending base vs the mirror's current value), not stored: the sync
updates the mirror columns and never the local-only ones, so the conflict shows as soon as a pull lands,
at no extra query per page. The push re-reads the listing from Reverb first, so it never pushes over a
remote change the last pull has not seen yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount

    from .models import Listing

from .conditions import INVENTORY_CONDITIONS

INVENTORY_RULE = "Only Brand New, B-Stock and Mint (with inventory) listings can hold more than 1 item."
END_REASONS = ("not_sold", "reverb_sale")


def price_text(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return None


def _raw(name: str, default: Any = None) -> Callable[[Listing], Any]:
    return lambda listing: listing.raw.get(name, default) if isinstance(listing.raw, dict) else default


def _categories(listing: Listing) -> list[str]:
    cats = listing.raw.get("categories") if isinstance(listing.raw, dict) else None
    return [str(c.get("uuid")) for c in cats or [] if isinstance(c, Mapping) and c.get("uuid")]


def _profile(listing: Listing) -> str:
    """The listing's shipping profile id: `shipping_profile_id` on /my/listings rows, or
    `shipping_profile.id` (a string) on GET /listings/{id} (API-NOTES 16.1.1)."""
    raw = listing.raw if isinstance(listing.raw, dict) else {}
    value = raw.get("shipping_profile_id")
    profile = raw.get("shipping_profile")
    if value in (None, "") and isinstance(profile, Mapping):
        value = profile.get("id")
    return "" if value in (None, "") else str(value)


@dataclass(frozen=True)
class FieldSpec:
    label: str
    setting: str | None  # the ReverbAccount.push_* flag that allows pushing it; None: always allowed
    remote: Callable[[Listing], Any]
    payload: Callable[[Any, Listing], dict[str, Any]]


def _same(name: str) -> Callable[[Any, Listing], dict[str, Any]]:
    return lambda value, listing: {name: value}


# How Reverb documents removing a listing's pre-order status: `lead_time: 0` (reverb-api-compiled-reference
# "Managing inventory and pre-orders"; API-NOTES 5.2 lists the object's keys). A null or an empty object is
# documented nowhere and could be read as "no change".
PREORDER_CLEARED: dict[str, Any] = {"lead_time": 0}


def _preorder(value: Any, listing: Listing) -> dict[str, Any]:
    return {"preorder_info": value or dict(PREORDER_CLEARED)}


FIELDS: dict[str, FieldSpec] = {
    "title": FieldSpec("Title", "push_title", lambda o: o.title, _same("title")),
    "description": FieldSpec(
        "Description", "push_description", lambda o: o.description, _same("description")
    ),
    "price": FieldSpec(
        "Price",
        "push_price",
        lambda o: price_text(o.price),
        lambda v, o: {"price": {"amount": v, "currency": o.currency or o.account.currency}},
    ),
    "inventory": FieldSpec("Inventory", "push_inventory", lambda o: o.inventory, _same("inventory")),
    "has_inventory": FieldSpec(
        "Has inventory", "push_inventory", lambda o: o.has_inventory, _same("has_inventory")
    ),
    "condition": FieldSpec(
        "Condition", "push_condition", lambda o: o.condition_uuid, lambda v, o: {"condition": {"uuid": v}}
    ),
    "make": FieldSpec("Make", "push_make_model", lambda o: o.make, _same("make")),
    "model": FieldSpec("Model", "push_make_model", lambda o: o.model, _same("model")),
    "finish": FieldSpec("Finish", "push_make_model", lambda o: o.finish, _same("finish")),
    "year": FieldSpec("Year", "push_make_model", lambda o: o.year, _same("year")),
    "categories": FieldSpec(
        "Categories", "push_categories", _categories, lambda v, o: {"categories": [{"uuid": u} for u in v]}
    ),
    "shipping_profile_id": FieldSpec(
        "Shipping profile", "push_shipping", _profile, _same("shipping_profile_id")
    ),
    # No account setting covers these: an explicit edit of them is always pushed.
    "offers_enabled": FieldSpec("Offers enabled", None, lambda o: o.offers_enabled, _same("offers_enabled")),
    "sku": FieldSpec("SKU", None, lambda o: o.sku, _same("sku")),
    # An edit to None (the form's pre-order fields emptied) clears it: PREORDER_CLEARED is sent.
    "preorder_info": FieldSpec("Pre-order", None, _raw("preorder_info"), _preorder),
    # Reverb does not read these back: their "remote" value is what this back office last sent (LOCAL).
    "upc": FieldSpec("UPC", None, lambda o: o.upc, _same("upc")),
    "upc_does_not_apply": FieldSpec(
        "UPC does not apply", None, lambda o: o.upc_does_not_apply, _same("upc_does_not_apply")
    ),
}
# Fields whose last sent value the listing keeps in its own column (Reverb never tells it back).
LOCAL = ("upc", "upc_does_not_apply")


def remote_values(listing: Listing) -> dict[str, Any]:
    return {name: spec.remote(listing) for name, spec in FIELDS.items()}


def record_edits(listing: Listing, new_values: Mapping[str, Any]) -> list[str]:
    """Turn edited values into pending changes; an edit back to Reverb's value drops the pending change.
    Returns the fields whose pending state changed. The caller saves `pending_changes`."""
    pending = dict(listing.pending_changes or {})
    changed = []
    for name, value in new_values.items():
        if name not in FIELDS:
            continue
        remote = FIELDS[name].remote(listing)
        current = pending.get(name)
        if value == remote:
            if current is not None:
                pending.pop(name)
                changed.append(name)
            continue
        if current is not None and current.get("value") == value:
            continue
        # Keep the first base: it is the Reverb value this person saw when they started editing.
        base = current["base"] if current is not None else remote
        pending[name] = {"value": value, "base": base}
        changed.append(name)
    listing.pending_changes = pending
    return changed


def conflicts(listing: Listing) -> dict[str, dict[str, Any]]:
    """Pending fields whose Reverb value changed since it was read: {field: {local, base, remote}}.

    Computed from the row itself: the sync keeps the mirror columns (and raw) equal to Reverb, and never
    touches pending_changes, so a pull that brings a new remote value makes the conflict visible at once,
    with no query of its own."""
    found = {}
    for name, change in (listing.pending_changes or {}).items():
        spec = FIELDS.get(name)
        if spec is None:
            continue
        remote = spec.remote(listing)
        if remote != change.get("base"):
            found[name] = {"local": change.get("value"), "base": change.get("base"), "remote": remote}
    return found


# What each push setting holds back, in words: "this account does not push prices".
SETTING_WORDS = {
    "push_title": "titles",
    "push_description": "descriptions",
    "push_price": "prices",
    "push_inventory": "inventory",
    "push_condition": "conditions",
    "push_photos": "photos",
    "push_shipping": "shipping profiles",
    "push_make_model": "make, model, finish and year",
    "push_categories": "categories",
}


def held_words(account: ReverbAccount, names: Iterable[str]) -> list[str]:
    """The push settings (in words, once each, in field order) that hold back any of `names`."""
    words: list[str] = []
    for name in names:
        setting = FIELDS[name].setting if name in FIELDS else None
        if setting and not getattr(account, setting, False):
            word = SETTING_WORDS.get(setting, setting.removeprefix("push_").replace("_", " "))
            if word not in words:
                words.append(word)
    return words


def held_message(account: ReverbAccount, names: Iterable[str]) -> str:
    """'' or "this account does not push prices or titles"."""
    words = held_words(account, names)
    return f"this account does not push {' or '.join(words)}" if words else ""


def allowed_fields(account: ReverbAccount, names: list[str]) -> tuple[list[str], list[str]]:
    """(fields the account's push settings allow, fields held back)."""
    allowed, held = [], []
    for name in names:
        setting = FIELDS[name].setting if name in FIELDS else None
        (allowed if setting is None or getattr(account, setting, False) else held).append(name)
    return allowed, held


def put_body(listing: Listing, names: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in names:
        body.update(FIELDS[name].payload(listing.pending_changes[name]["value"], listing))
    return body


def inventory_errors(
    condition_uuid: str, inventory: Any, has_inventory: bool | None = None
) -> dict[str, list[str]]:
    """Reverb's inventory rules, checked before anything is sent (API-NOTES 5.4)."""
    errors: dict[str, list[str]] = {}
    if inventory in (None, ""):
        return errors
    try:
        count = int(inventory)
    except (TypeError, ValueError):
        return {"inventory": ["Enter a whole number."]}
    if count < 0:
        errors["inventory"] = ["Inventory cannot be negative."]
    elif count > 1 and condition_uuid not in INVENTORY_CONDITIONS:
        errors["inventory"] = [INVENTORY_RULE]
    return errors


def valid_gtin(code: str) -> bool:
    """A UPC-A (12), EAN-13 or GTIN-14 with its check digit right (GS1's mod-10 weights 3 and 1)."""
    if not (code.isascii() and code.isdigit() and 12 <= len(code) <= 14):
        return False
    digits = [int(c) for c in code]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


def effective(listing: Listing, name: str) -> Any:
    change = (listing.pending_changes or {}).get(name)
    return change["value"] if change is not None else FIELDS[name].remote(listing)
