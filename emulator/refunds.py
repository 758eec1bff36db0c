"""Refund requests: GET/PUT /api/my/refund_requests/selling, POST .../orders/selling/{n}/refund_requests.

Internal record (store.table("refund_requests"), int id): id, order_number, state, amount (Decimal),
refund_type ("full"|"partial"), reason, initiated_by ("buyer"|"seller"), note_to_buyer, created_at,
updated_at.
The JSON is exactly the example in reverb-refund-requests.txt [OFFICIAL-DOC manage-refund-requests].
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .core import (
    ApiError,
    Request,
    Response,
    ValidationFailed,
    link,
    money,
    paginate,
    parse_money,
    renderer,
    route,
    simulation,
    ts,
)
from .orders import (
    REFUNDABLE_STATUSES,
    ZERO,
    background_request,
    changed,
    conflict,
    date_filtered,
    get_order,
    newest_first,
    order_total,
    refundable,
)
from .store import Store

if TYPE_CHECKING:
    from .app import Emulator

ACTIVE_STATES = ("pending_seller_response", "conditionally_approved")  # the list's default [OFFICIAL-DOC]
FINAL_STATES = ("approved", "denied")
# States the compiled summary adds (API-NOTES 8, unverified): the buyer withdrew it, Reverb approved it
# without the seller, the money went out. Final; the list answers them when asked; not the seller's moves.
REVERB_STATES = ("cancelled", "auto_approved", "refund_sent")
STATES = ACTIVE_STATES + FINAL_STATES + REVERB_STATES
REFUNDED_STATES = ("approved", "auto_approved", "refund_sent")  # money went back to the buyer
# The seller's moves [OFFICIAL-DOC manage-refund-requests lifecycle].
TRANSITIONS = {
    "pending_seller_response": {"conditionally_approved", "approved", "denied"},
    "conditionally_approved": {"approved", "denied"},
    "approved": set(),
    "denied": set(),
    **{state: set() for state in REVERB_STATES},
}
# The official list [OFFICIAL-DOC manage-refund-requests] plus three the compiled summary and EDOS's
# RefundReason enum add (API-NOTES 8) and which the official list may simply have dropped.
REASONS = (
    "buyer_change_of_heart",
    "buyer_no_like",
    "buyer_return",
    "lost_shipment",
    "shipping_damage",
    "sold_elsewhere",
    "item_defective",
    "other",
    "accidental_order",
    "change_shipping_address",
    "shipping_adjustments",
)


def render_refund_request(emu: Emulator, req: Request, r: dict[str, Any]) -> dict[str, Any]:
    """Keys, types and nesting of the official example; the nested order is a summary of the order
    (ids as strings, as in the example) carrying `fully_refundable_amount` (total minus approved refunds)."""
    o = emu.store.table("orders")[r["order_number"]]
    cur = o["currency"]
    tax = money(o["tax"], cur)
    if o["tax"] == 0:
        tax["display"] = "FREE"
    order: dict[str, Any] = {
        "buyer_id": str(o["buyer"]["id"]),
        "order_number": o["order_number"],
        "paid_at": ts(o["paid_at"]),
        "quantity": o["quantity"],
    }
    if o["shipping_address"] is not None:
        a = o["shipping_address"]
        order["shipping_address"] = {
            "region": a["region"],
            "locality": a["locality"],
            "country_code": a["country_code"],
            "display_location": a["display_location"],
        }
    order.update(
        {
            "shipping_date": o["shipped_at"].date().isoformat() if o["shipped_at"] else None,
            "shipped_at": ts(o["shipped_at"]),
            "shipping_provider": o["shipping_provider"],
            "shipping_code": o["shipping_code"],
            "shipping_method": o["shipping_method"],
            "local_pickup": o["shipping_method"] == "local",
            "status": o["status"],
            "product_id": str(o["listing_id"]),
            "order_bundle_id": str(o["order_bundle_id"]),
            "created_at": ts(o["created_at"]),
            "amount_product": money(o["price"], cur),
            "amount_product_subtotal": money(o["price"] * o["quantity"], cur),
            "shipping": money(o["shipping"], cur),
            "amount_tax": tax,
            "total": money(order_total(o), cur),
            "fully_refundable_amount": money(refundable(o), cur),
        }
    )
    return {
        "id": r["id"],
        "state": r["state"],
        "amount": money(r["amount"], cur),
        "refund_type": r["refund_type"],
        "reason": r["reason"],
        "initiated_by": r["initiated_by"],
        "note_to_buyer": r["note_to_buyer"],
        "created_at": ts(r["created_at"]),
        "updated_at": ts(r["updated_at"]),
        "order": order,
        "_links": {"self": link(req.href(f"/api/my/refund_requests/selling/{r['id']}"))},
    }


renderer("refund_requests")(render_refund_request)


def new_refund_request(
    store: Store,
    order: dict[str, Any],
    *,
    amount: Decimal,
    reason: str,
    initiated_by: str,
    state: str = "pending_seller_response",
    note: str = "",
    at: Any = None,
) -> dict[str, Any]:
    at = at or store.now()
    rid = store.next_id("refund_requests", start=100)
    record = {
        "id": rid,
        "order_number": order["order_number"],
        "state": state,
        "amount": amount,
        "refund_type": "full" if amount >= refundable(order) else "partial",
        "reason": reason,
        "initiated_by": initiated_by,
        "note_to_buyer": note,
        "created_at": at,
        "updated_at": at,
    }
    store.table("refund_requests")[rid] = record
    if state in REFUNDED_STATES:
        apply_refund(order, amount)
    return record


def apply_refund(order: dict[str, Any], amount: Decimal) -> None:
    """Credit the buyer. A fully refunded order becomes `refunded`. No restock: a refund does not say the
    item came back to sellable stock; the seller relists if it did [INFERRED]."""
    order["refunded"] = order.get("refunded", ZERO) + amount
    if refundable(order) <= 0:
        order["status"] = "refunded"


def _amount(data: dict[str, Any], store: Store, default: Decimal, limit: Decimal) -> Decimal:
    raw = data.get("refund_amount")
    if raw in (None, ""):
        return default
    if isinstance(raw, dict) and raw.get("currency") not in (None, store.currency):
        # "The currency must match your shop's currency" [OFFICIAL-DOC via API-NOTES 8; EDOS]
        raise ValidationFailed({"refund_amount": [f"currency must be the shop currency {store.currency}"]})
    amount = parse_money(raw, "refund_amount", store.currency)
    if amount <= 0:
        raise ValidationFailed({"refund_amount": ["must be greater than 0"]})
    if amount > limit:
        raise ValidationFailed({"refund_amount": [f"cannot be more than the refundable amount {limit:.2f}"]})
    return amount


@route("GET", "/api/my/refund_requests/selling")
def list_refund_requests(emu: Emulator, req: Request) -> dict[str, Any]:
    states = req.args("state") or list(ACTIVE_STATES)
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise ApiError(400, f"state must be one of {', '.join(STATES)}")
    rows = [r for r in emu.store.table("refund_requests").values() if r["state"] in states]
    number = req.arg("order_number")
    if number:
        rows = [r for r in rows if r["order_number"] == number]
    rows = newest_first(date_filtered(req, rows))
    return paginate(req, rows, "refund_requests", lambda r: render_refund_request(emu, req, r))


def _get(store: Store, refund_id: str) -> dict[str, Any]:
    record = store.table("refund_requests").get(int(refund_id)) if refund_id.isdigit() else None
    if record is None:
        raise ApiError(404, "The requested resource could not be found.")
    return record


@route("GET", "/api/my/refund_requests/selling/{refund_id}")
def get_refund_request(emu: Emulator, req: Request, refund_id: str) -> dict[str, Any]:
    return render_refund_request(emu, req, _get(emu.store, refund_id))


@route("PUT", "/api/my/refund_requests/selling/{refund_id}")
def respond(emu: Emulator, req: Request, refund_id: str) -> dict[str, Any]:
    store = emu.store
    record = _get(store, refund_id)
    data = req.json
    state = data.get("state")
    if state not in ("approved", "conditionally_approved", "denied"):
        raise ValidationFailed({"state": ["must be one of approved, conditionally_approved, denied"]})
    if state not in TRANSITIONS[record["state"]]:
        raise conflict(f"This refund request is {record['state']} and cannot become {state}.")
    order = get_order(store, record["order_number"])
    # "the seller may also change the amount" when (conditionally) approving [OFFICIAL-DOC]; never above
    # what is still refundable on the order.
    amount = record["amount"]
    if state != "denied":
        amount = _amount(data, store, min(record["amount"], refundable(order)), refundable(order))
        if amount <= 0:
            raise conflict("This order has already been fully refunded.", "refund_amount")
    record.update(
        state=state, amount=amount, note_to_buyer=str(data.get("note_to_buyer", record["note_to_buyer"]))
    )
    store.touch(record)
    if state == "approved":
        apply_refund(order, amount)
        payment = store.table("payments").get(order.get("payment_id"))
        if payment is not None:
            payment["refunded"] += amount
            store.touch(payment)
    changed(emu, order)  # the order's fully_refundable_amount / status moved
    return render_refund_request(emu, req, record)


@route("POST", "/api/my/orders/selling/{order_number}/refund_requests")
def seller_initiated(emu: Emulator, req: Request, order_number: str) -> Response:
    store = emu.store
    order = get_order(store, order_number)
    data = req.json
    errors: dict[str, list[str]] = {}
    state = data.get("state", "approved")
    if state not in ("approved", "conditionally_approved"):
        errors["state"] = ["must be approved or conditionally_approved"]
    if not data.get("reason"):
        errors["reason"] = ["is required"]
    elif data["reason"] not in REASONS:
        errors["reason"] = [f"must be one of {', '.join(REASONS)}"]
    if errors:
        raise ValidationFailed(errors)
    if order["status"] not in REFUNDABLE_STATUSES or refundable(order) <= 0:
        raise conflict(f"This order ({order['status']}) cannot be refunded.", "order")
    amount = _amount(data, store, refundable(order), refundable(order))
    record = new_refund_request(
        store,
        order,
        amount=amount,
        reason=data["reason"],
        initiated_by="seller",
        state=state,
        note=str(data.get("note_to_buyer", "")),
        at=store.now(),
    )
    changed(emu, order)
    return Response(201, render_refund_request(emu, req, record))


@simulation("refund_request")
def simulate_refund_request(emu: Emulator, params: dict[str, Any]) -> dict[str, Any]:
    """A buyer asks for a refund: {order_number, amount?, reason?}."""
    store = emu.store
    order = get_order(store, str(params.get("order_number", "")))
    if order["status"] not in REFUNDABLE_STATUSES or refundable(order) <= 0:
        raise ApiError(422, f"order {order['order_number']} ({order['status']}) cannot be refunded")
    amount = parse_money(params.get("amount", refundable(order)), "amount", store.currency)
    reason = params.get("reason", "buyer_return")
    if reason not in REASONS:
        raise ApiError(400, f"reason must be one of {', '.join(REASONS)}")
    record = new_refund_request(
        store, order, amount=min(amount, refundable(order)), reason=reason, initiated_by="buyer"
    )
    changed(emu, order)
    return render_refund_request(emu, background_request(emu), record)
