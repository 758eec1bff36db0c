"""Every change this back office makes to listings on Reverb (DESIGN.md section 3, "Push").

Each function takes `*, actor`, records an ApiCall through `audited_call` (or `refused` when nothing may be
sent), calls the client, and writes the listing Reverb returns back through the sync mapper and `upsert`.
Failures come back as `ActionError` (message + per-field errors); the audit row keeps the details.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.utils import timezone

from backoffice.audit import ApiCall, audited_call, refused
from backoffice.models import ReverbAccount
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import DuplicateSkuError, ForbiddenError, ReverbError, TransportError
from backoffice.sync.objects import upsert_objects

from . import editing
from .models import Listing

T = TypeVar("T")
TARGET = "listing"
NO_DIRECT_OFFERS = (
    "This shop does not have Direct Offers on Reverb (Reverb answered: not authorized). "
    "Ask Reverb to enable Direct Offers for the shop, then try again."
)
NOT_PREFERRED = "Reverb refused: adding listings to sales is for Preferred Sellers only (not authorized)."


class ActionError(Exception):
    """A refused or failed change. `refused` is True when nothing was sent to Reverb."""

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, list[str]] | None = None,
        call: ApiCall | None = None,
        refused: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = dict(field_errors or {})
        self.call = call
        self.refused = refused


@dataclass
class Done:
    message: str
    listing: Listing | None = None
    call: ApiCall | None = None
    warnings: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


# ---- helpers ---------------------------------------------------------------------------------------


def land(account: ReverbAccount, payload: Mapping[str, Any]) -> Listing:
    """Write a listing payload from Reverb through the mapper and the sync engine's upsert."""
    (key,) = upsert_objects(account, "listings", [payload]).keys
    return Listing.objects.get(account=account, reverb_id=key)


def _listing_of(answer: Any) -> dict[str, Any] | None:
    if isinstance(answer, Mapping):
        inner = answer.get("listing")
        if isinstance(inner, Mapping):
            return dict(inner)
        if answer.get("id") is not None:
            return dict(answer)
    return None


def _warnings(answer: Any) -> list[str]:
    raw = answer.get("warnings") if isinstance(answer, Mapping) else None
    return [str(w) for w in raw] if isinstance(raw, list) else []


def _refuse(
    listing: Listing, action: str, actor: Any, reason: str, job: Any = None, **errors: list[str]
) -> ActionError:
    call = refused(
        account=listing.account,
        actor=actor,
        action=action,
        target=(TARGET, listing.reverb_id),
        reason=reason,
        job=job,
    )
    return ActionError(reason, field_errors=errors, call=call, refused=True)


def _call(
    account: ReverbAccount,
    actor: Any,
    action: str,
    key: str,
    call: Callable[[ReverbClient], T],
    *,
    summary: Mapping[str, Any] | None = None,
    client: ReverbClient | None = None,
    job: Any = None,
    forbidden: str = "",
) -> tuple[T, ApiCall]:
    try:
        return audited_call(
            account=account,
            actor=actor,
            action=action,
            target=(TARGET, key),
            summary=summary,
            call=call,
            client=client,
            job=job,
        )
    except ForbiddenError as exc:
        raise ActionError(forbidden or f"Reverb refused: {exc}", call=_last(account, action, key)) from exc
    except ReverbError as exc:
        raise ActionError(
            f"Reverb refused: {exc}", field_errors=exc.field_errors(), call=_last(account, action, key)
        ) from exc


def _last(account: ReverbAccount, action: str, key: str) -> ApiCall | None:
    return ApiCall.objects.filter(account=account, action=action, target_key=key).order_by("-pk").first()


def _reread(listing: Listing, client: ReverbClient | None = None) -> Listing:
    client = client or listing.account.client()
    return land(listing.account, client.get_listing(listing.reverb_id))


# ---- create ----------------------------------------------------------------------------------------


def create_listing(
    account: ReverbAccount,
    data: Mapping[str, Any],
    *,
    actor: Any,
    job: Any = None,
    client: ReverbClient | None = None,
) -> Done:
    """Create a listing, or update the one Reverb already has with this SKU (looked up with state=all).

    A POST whose answer is lost is never blindly retried: the SKU is looked up again first, and only if
    Reverb has no such listing is the POST sent once more."""
    data = dict(data)
    sku = str(data.get("sku") or "").strip()
    if not sku:
        call = refused(
            account=account,
            actor=actor,
            action="listings.create",
            target=(TARGET, ""),
            reason="A listing needs a SKU: it is how this back office finds it on Reverb "
            "and avoids duplicates.",
            summary=data,
            job=job,
        )
        raise ActionError(
            call.message, field_errors={"sku": ["This field is required."]}, call=call, refused=True
        )
    errors = editing.inventory_errors(_condition_of(data), data.get("inventory"))
    for name in ("make", "model"):
        if not str(data.get(name) or "").strip():
            errors[name] = ["This field is required."]
    if errors:
        call = refused(
            account=account,
            actor=actor,
            action="listings.create",
            target=(TARGET, sku),
            reason="; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
            summary=data,
            job=job,
        )
        raise ActionError(call.message, field_errors=errors, call=call, refused=True)
    client = client or account.client()
    try:
        existing = client.find_listing_by_sku(sku)
    except DuplicateSkuError as exc:
        call = refused(
            account=account,
            actor=actor,
            action="listings.create",
            target=(TARGET, sku),
            reason=f"Reverb has several listings with SKU {sku}: {exc}",
            job=job,
        )
        raise ActionError(call.message, call=call, refused=True) from exc
    except ReverbError as exc:
        raise ActionError(f"Could not look SKU {sku} up on Reverb: {exc}") from exc
    if existing is not None:
        key = str(existing.get("id"))
        body = {k: v for k, v in data.items() if k != "publish"}
        answer, call = _call(
            account,
            actor,
            "listings.update_by_sku",
            key,
            lambda c: c.update_listing(key, body),
            summary=body,
            client=client,
            job=job,
        )
        listing = land(account, _listing_of(answer) or client.get_listing(key))
        return Done(
            f"SKU {sku} already on Reverb (listing {key}): updated it instead of creating another.",
            listing,
            call,
            _warnings(answer),
        )
    if account.auto_publish:
        data["publish"] = True
    for attempt in (1, 2):
        try:
            answer, call = audited_call(
                account=account,
                actor=actor,
                action="listings.create",
                target=(TARGET, sku),
                summary=data,
                call=lambda c: c.create_listing(data),
                client=client,
                job=job,
            )
        except TransportError as exc:
            if not exc.maybe_applied:
                raise ActionError(
                    f"Reverb could not be reached: {exc}", call=_last(account, "listings.create", sku)
                ) from exc
            found = client.find_listing_by_sku(sku)  # the POST may have landed: look before retrying
            if found is not None:
                listing = land(account, found)
                return Done(
                    f"Created listing {listing.reverb_id} (the answer was lost; found it by SKU).",
                    listing,
                    _last(account, "listings.create", sku),
                )
            if attempt == 2:
                raise ActionError(f"Reverb did not answer twice: {exc}") from exc
            continue
        except ReverbError as exc:
            raise ActionError(
                f"Reverb refused: {exc}",
                field_errors=exc.field_errors(),
                call=_last(account, "listings.create", sku),
            ) from exc
        listing = land(account, _listing_of(answer) or {})
        state = (
            "published"
            if listing.state == "live"
            else "publishing: Reverb confirms in a moment"
            if data.get("publish") and not _warnings(answer)
            else "saved as a draft"
        )
        return Done(f"Created listing {listing.reverb_id} ({state}).", listing, call, _warnings(answer))
    raise AssertionError("unreachable")


def _condition_of(data: Mapping[str, Any]) -> str:
    condition = data.get("condition")
    return str(condition.get("uuid") or "") if isinstance(condition, Mapping) else str(condition or "")


# ---- push pending edits ----------------------------------------------------------------------------


def _store_push(
    listing: Listing, status: str, message: str, errors: Mapping[str, Any] | None = None, **extra: Any
) -> None:
    listing.last_push = {
        "status": status,
        "message": message,
        "field_errors": dict(errors or {}),
        "at": timezone.now().isoformat(),
        **extra,
    }
    Listing.objects.filter(pk=listing.pk).update(last_push=listing.last_push)


def push_listing(
    listing: Listing, *, actor: Any, job: Any = None, client: ReverbClient | None = None
) -> Done:
    """Send the pending changes the account's push settings allow, in one PUT.

    Re-reads the listing from Reverb first: if a pending field's Reverb value changed since the edit was
    made, nothing is sent and the listing shows the conflict for a person to resolve."""
    if not listing.pending_changes:
        return Done("Nothing to push.", listing)
    client = client or listing.account.client()
    try:
        fresh = _reread(listing, client)
    except ReverbError as exc:
        raise ActionError(f"Could not re-read listing {listing.reverb_id} before pushing: {exc}") from exc
    fresh.pending_changes = listing.pending_changes
    listing = fresh
    found = listing.conflicts()
    if found:
        names = ", ".join(editing.FIELDS[n].label for n in found)
        error = _refuse(
            listing,
            "listings.push",
            actor,
            f"Not pushed: {names} changed on Reverb since the edit. Choose local or Reverb.",
            job,
        )
        _store_push(listing, "conflict", error.message, conflicts=sorted(found))
        raise error
    allowed, held = editing.allowed_fields(listing.account, sorted(listing.pending_changes))
    held_note = (
        f" Held back by this account's push settings: {', '.join(editing.FIELDS[n].label for n in held)}."
        if held
        else ""
    )
    if not allowed:
        error = _refuse(listing, "listings.push", actor, "Nothing pushed." + held_note, job)
        _store_push(listing, "held", error.message)
        raise error
    errors = editing.inventory_errors(
        editing.effective(listing, "condition"), editing.effective(listing, "inventory")
    )
    if errors and ("inventory" in allowed or "condition" in allowed):
        error = _refuse(listing, "listings.push", actor, editing.INVENTORY_RULE, job, **errors)
        _store_push(listing, "refused", error.message, errors)
        raise error
    body = editing.put_body(listing, allowed)
    try:
        answer, call = _call(
            listing.account,
            actor,
            "listings.push",
            listing.reverb_id,
            lambda c: c.update_listing(listing.reverb_id, body),
            summary=body,
            client=client,
            job=job,
        )
    except ActionError as exc:
        _store_push(listing, "failed", exc.message, exc.field_errors)
        raise
    pending = {k: v for k, v in listing.pending_changes.items() if k not in allowed}
    payload = _listing_of(answer)
    updated = land(listing.account, payload) if payload else _reread(listing, client)
    Listing.objects.filter(pk=updated.pk).update(pending_changes=pending)
    updated.pending_changes = pending
    message = f"Pushed {', '.join(editing.FIELDS[n].label for n in allowed)}." + held_note
    _store_push(updated, "success", message)
    return Done(message, updated, call, _warnings(answer))


def resolve_conflict(listing: Listing, *, actor: Any, keep: str) -> Listing:
    """keep="reverb": drop the conflicting pending changes; keep="local": re-base them on Reverb's current
    value so the next push sends them. Local only: nothing is sent."""
    if keep not in ("local", "reverb"):
        raise ValueError("keep must be 'local' or 'reverb'")
    pending = dict(listing.pending_changes)
    for name, info in listing.conflicts().items():
        if keep == "reverb":
            pending.pop(name, None)
        else:
            pending[name] = {"value": info["local"], "base": info["remote"]}
    listing.pending_changes = pending
    Listing.objects.filter(pk=listing.pk).update(pending_changes=pending)
    return listing


# ---- state changes ---------------------------------------------------------------------------------


# `sold` is Reverb's slug for a sold listing (API-NOTES 16.1.2); `sold_out` kept for mirrors pulled before.
PUBLISHABLE = ("draft", "ended", "sold", "sold_out")


def publish_listing(listing: Listing, *, actor: Any, job: Any = None) -> Done:
    if listing.state not in PUBLISHABLE:
        raise _refuse(
            listing,
            "listings.publish",
            actor,
            f"{listing} is {listing.state or 'in an unknown state'}: only drafts and ended "
            "listings can be published.",
            job,
        )
    answer, call = _call(
        listing.account,
        actor,
        "listings.publish",
        listing.reverb_id,
        lambda c: c.publish_listing(listing.reverb_id),
        summary={"publish": True},
        job=job,
    )
    updated = land(listing.account, _listing_of(answer) or {})
    warnings = _warnings(answer)
    if updated.state != "live" and not warnings:  # Reverb publishes a second later (API-NOTES 16.1.3)
        return Done(f"Publishing {updated}: Reverb confirms in a moment.", updated, call, warnings)
    if updated.state != "live":
        return Done(
            f"{updated}: Reverb kept it as {updated.state}. " + " ".join(warnings), updated, call, warnings
        )
    return Done(f"Published {updated}.", updated, call, warnings)


def end_listing(listing: Listing, *, actor: Any, reason: str, job: Any = None) -> Done:
    if reason not in editing.END_REASONS:
        raise _refuse(
            listing,
            "listings.end",
            actor,
            f"End reason must be one of {', '.join(editing.END_REASONS)}.",
            job,
        )
    if listing.state != "live":
        raise _refuse(
            listing,
            "listings.end",
            actor,
            f"{listing} is {listing.state or 'in an unknown state'}: only live listings can be ended"
            + (" (delete a draft instead)." if listing.state == "draft" else "."),
            job,
        )
    client = listing.account.client()
    _, call = _call(
        listing.account,
        actor,
        "listings.end",
        listing.reverb_id,
        lambda c: c.end_listing(listing.reverb_id, reason),
        summary={"reason": reason},
        client=client,
        job=job,
    )
    updated = _reread(listing, client)  # the end answers with an empty body
    return Done(f"Ended {updated} ({reason}).", updated, call)


def delete_draft(listing: Listing, *, actor: Any, job: Any = None) -> Done:
    if listing.state != "draft":
        raise _refuse(
            listing,
            "listings.delete_draft",
            actor,
            f"{listing} is {listing.state or 'in an unknown state'}: only drafts can be deleted "
            "(end a live listing instead). Nothing was sent.",
            job,
        )
    _, call = _call(
        listing.account,
        actor,
        "listings.delete_draft",
        listing.reverb_id,
        lambda c: c.delete_draft(listing.reverb_id),
        job=job,
    )
    # Mirrors are never deleted: the row stays, marked missing, with our own "deleted" state.
    now = timezone.now()
    Listing.objects.filter(pk=listing.pk).update(state="deleted", missing=True, missing_since=now)
    listing.refresh_from_db()
    return Done(f"Deleted draft {listing}.", listing, call)


# ---- images ----------------------------------------------------------------------------------------


def add_image(listing: Listing, *, actor: Any, url: str) -> Done:
    if not url.startswith(("https://", "http://")):
        raise _refuse(
            listing, "listings.add_image", actor, "A photo URL must start with http:// or https://."
        )
    answer, call = _call(
        listing.account,
        actor,
        "listings.add_image",
        listing.reverb_id,
        lambda c: c.update_listing(listing.reverb_id, {"photos": [url]}),
        summary={"photos": [url]},
    )
    return Done(
        "Photo added (Reverb fetches it in the background).",
        land(listing.account, _listing_of(answer) or {}),
        call,
    )


def delete_image(listing: Listing, *, actor: Any, image_id: str) -> Done:
    client = listing.account.client()
    _, call = _call(
        listing.account,
        actor,
        "listings.delete_image",
        listing.reverb_id,
        lambda c: c.delete_image(listing.reverb_id, image_id),
        client=client,
    )
    return Done("Photo deleted.", _reread(listing, client), call)


def reorder_images(listing: Listing, *, actor: Any, urls: Sequence[str]) -> Done:
    answer, call = _call(
        listing.account,
        actor,
        "listings.reorder_images",
        listing.reverb_id,
        lambda c: c.reorder_images(listing.reverb_id, urls),
    )
    return Done("Photos reordered.", land(listing.account, _listing_of(answer) or {}), call)


# ---- promotion -------------------------------------------------------------------------------------


def _one_account(listings: Sequence[Listing]) -> ReverbAccount:
    accounts = {listing.account_id for listing in listings}
    if len(accounts) != 1:
        raise ActionError("Select listings of one account at a time.", refused=True)
    return listings[0].account


def set_bump(listings: Sequence[Listing], *, actor: Any, bid: Decimal | float | str) -> Done:
    """One PUT /bump/v2/bids for the listings; `bid` is a fraction (0.035 is 3.5%)."""
    account = _one_account(listings)
    ids = [int(x.reverb_id) for x in listings]
    _, call = _call(
        account,
        actor,
        "listings.set_bump",
        ",".join(map(str, ids)),
        lambda c: c.set_bump(ids, bid),
        summary={"products": ids, "bid": float(bid)},
    )
    return Done(f"Bump bid {float(bid) * 100:g}% set on {len(ids)} listing(s).", call=call)


def remove_bump(listings: Sequence[Listing], *, actor: Any) -> Done:
    account = _one_account(listings)
    ids = [int(x.reverb_id) for x in listings]
    _, call = _call(
        account,
        actor,
        "listings.remove_bump",
        ",".join(map(str, ids)),
        lambda c: c.remove_bump(ids),
        summary={"products": ids},
    )
    return Done(f"Bump removed from {len(ids)} listing(s).", call=call)


def _sale(listings: Sequence[Listing], actor: Any, sale_id: str, adding: bool) -> Done:
    account = _one_account(listings)
    ids = [int(x.reverb_id) for x in listings]
    action = "listings.add_to_sale" if adding else "listings.remove_from_sale"
    results, call = _call(
        account,
        actor,
        action,
        str(sale_id),
        (lambda c: c.add_to_sale(sale_id, ids)) if adding else (lambda c: c.remove_from_sale(sale_id, ids)),
        summary={"sale_id": sale_id, "listing_ids": ids},
        forbidden=NOT_PREFERRED,
    )
    by_id = {str(x.reverb_id): x for x in listings}
    lines = []
    for row in results:
        listing = by_id.get(str(row.get("listing_id")))
        ok = bool(row.get("success"))
        lines.append(
            {
                "listing": listing,
                "listing_id": row.get("listing_id"),
                "success": ok,
                "errors": list(row.get("errors") or []),
            }
        )
    good = sum(1 for r in lines if r["success"])
    verb = "Added" if adding else "Removed"
    return Done(
        f"{verb} {good} of {len(ids)} listing(s) {'to' if adding else 'from'} sale {sale_id}.",
        call=call,
        results=lines,
    )


def add_to_sale(listings: Sequence[Listing], *, actor: Any, sale_id: str) -> Done:
    return _sale(listings, actor, sale_id, adding=True)


def remove_from_sale(listings: Sequence[Listing], *, actor: Any, sale_id: str) -> Done:
    return _sale(listings, actor, sale_id, adding=False)


def set_direct_offer(listing: Listing, *, actor: Any, percentage: int) -> Done:
    if not 1 <= int(percentage) <= 99:
        raise _refuse(listing, "listings.set_direct_offer", actor, "The percentage must be from 1 to 99.")
    answer, call = _call(
        listing.account,
        actor,
        "listings.set_direct_offer",
        listing.reverb_id,
        lambda c: c.set_auto_offer(listing.reverb_id, int(percentage)),
        summary={"offer_percentage": int(percentage)},
        forbidden=NO_DIRECT_OFFERS,
    )
    return Done(
        f"Direct offer of {int(percentage)}% set on {listing}.",
        listing,
        call,
        results=[answer] if isinstance(answer, dict) else [],
    )


def remove_direct_offer(listing: Listing, *, actor: Any) -> Done:
    _, call = _call(
        listing.account,
        actor,
        "listings.remove_direct_offer",
        listing.reverb_id,
        lambda c: c.delete_auto_offer(listing.reverb_id),
        forbidden=NO_DIRECT_OFFERS,
    )
    return Done(f"Direct offer removed from {listing}.", listing, call)


# ---- the shop --------------------------------------------------------------------------------------


def set_vacation(account: ReverbAccount, *, actor: Any, on: bool) -> Done:
    client = account.client()
    try:
        _, call = audited_call(
            account=account,
            actor=actor,
            action="shop.vacation_on" if on else "shop.vacation_off",
            target=("shop", account.name),
            summary={"vacation": on},
            call=lambda c: c.set_vacation(on),
            client=client,
        )
    except ReverbError as exc:
        raise ActionError(f"Reverb refused: {exc}") from exc
    state = bool((client.get_vacation() or {}).get("vacation"))
    return Done(
        f"{account.name}: vacation mode is {'on' if state else 'off'}.",
        call=call,
        results=[{"vacation": state}],
    )
