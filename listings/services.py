"""Every change this back office makes to listings on Reverb (DESIGN.md section 3, "Push").

Each function takes `*, actor`, sends through a `backoffice.actions.Push` (audited; refused and recorded
when nothing may be sent), and writes the listing Reverb returns back through the sync mapper and
`upsert`. It returns a `Done`; failures come back as the kit's `ActionError` (message + per-field errors),
and the audit row keeps the details. Each verb's rule is its `<verb>_refusal(listing)`, which the admin
uses too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from backoffice import once
from backoffice.actions import ActionError, Actor, Done, Push, Refused, ReverbRefused, write_back
from backoffice.models import ReverbAccount
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import DuplicateSkuError, ReverbError, TransportError

from . import conditions, editing, readiness
from .models import Listing

if TYPE_CHECKING:
    from backoffice.models import BulkJob, ReverbAccount
    from backoffice.reverb.client import ReverbClient

TARGET = "listing"
NO_DIRECT_OFFERS = (
    "This shop does not have Direct Offers on Reverb (Reverb answered: not authorized). "
    "Ask Reverb to enable Direct Offers for the shop, then try again."
)
NOT_PREFERRED = "Reverb refused: adding listings to sales is for Preferred Sellers only (not authorized)."


# ---- helpers ---------------------------------------------------------------------------------------


def land(account: ReverbAccount, payload: Mapping[str, Any]) -> Listing:
    """Write a listing payload from Reverb through the mapper and the sync engine's upsert."""
    (key,) = write_back("listings", account, [payload])
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


def _push(
    listing: Listing,
    action: str,
    actor: Actor,
    job: BulkJob | None = None,
    summary: Mapping[str, Any] | None = None,
    client: ReverbClient | None = None,
) -> Push:
    return Push(
        listing.account,
        action,
        (TARGET, listing.reverb_id),
        actor=actor,
        job=job,
        summary=summary,
        client=client,
    )


def reread(listing: Listing, client: ReverbClient | None = None) -> Listing:
    """The listing as Reverb has it now, written to the mirror: the seller's own row found by SKU
    (`/my/listings?sku=...&state=all`, seller fields included), the public read only when the SKU no
    longer finds it; its absent keys are not told, so nothing the seller row said is blanked."""
    client = client or listing.account.client()
    return land(listing.account, client.seller_listing(listing.reverb_id, listing.sku))


def _state(listing: Listing) -> str:
    return listing.state or "in an unknown state"


# ---- each verb's rule: the admin offers what these allow, the services refuse what they do not ------------


def push_refusal(listing: Listing) -> str:
    return "" if listing.pending_changes else "Nothing to push."


# `sold` is Reverb's slug for a sold listing (API-NOTES 16.1.2); `sold_out` kept for mirrors pulled before.
PUBLISHABLE = ("draft", "ended", "sold", "sold_out")


def publish_refusal(listing: Listing) -> str:
    if listing.state not in PUBLISHABLE:
        return f"{listing} is {_state(listing)}: only drafts, ended and sold listings can be published."
    missing = readiness.listing_gaps(listing)
    if missing:
        return f"{listing} is not ready to publish, nothing was sent: {readiness.in_words(missing)}"
    return ""


def end_refusal(listing: Listing) -> str:
    if listing.state == "live":
        return ""
    hint = " (delete a draft instead)." if listing.state == "draft" else "."
    return f"{listing} is {_state(listing)}: only live listings can be ended{hint}"


def delete_draft_refusal(listing: Listing) -> str:
    if listing.state == "draft":
        return ""
    return (
        f"{listing} is {_state(listing)}: only drafts can be deleted (end a live listing instead). "
        "Nothing was sent."
    )


# ---- create ----------------------------------------------------------------------------------------


def create_listing(
    account: ReverbAccount,
    data: Mapping[str, Any],
    *,
    actor: Actor,
    job: BulkJob | None = None,
    client: ReverbClient | None = None,
) -> Done:
    """Create a listing, or update the one Reverb already has with this SKU (looked up with state=all).

    A POST whose answer is lost is never blindly retried: the SKU is looked up again first, and only if
    Reverb has no such listing is the POST sent once more."""
    data = dict(data)
    sku = str(data.get("sku") or "").strip()
    push = Push(account, "listings.create", (TARGET, sku), actor=actor, job=job, summary=data, client=client)
    if not sku:
        raise push.refuse(
            "A listing needs a SKU: it is how this back office finds it on Reverb and avoids duplicates.",
            field_errors={"sku": ["This field is required."]},
        )
    errors = editing.inventory_errors(_condition_of(data), data.get("inventory"))
    for name in ("make", "model"):
        if not str(data.get(name) or "").strip():
            errors[name] = ["This field is required."]
    if errors:
        reason = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        raise push.refuse(reason, field_errors=errors)
    # One creation of a SKU at a time per account: a second request (another tab, a job) waits its turn by
    # being refused, and the one that runs looks the SKU up on Reverb first, so a SKU is created once.
    try:
        with once.claim(f"listings.create:{account.pk}:{sku}"):
            return _create_or_update(account, data, sku, push, actor=actor, job=job)
    except once.AlreadyClaimed:
        raise push.refuse(
            f"SKU {sku} is being created right now by another request; look again in a moment."
        ) from None


def _create_or_update(
    account: ReverbAccount, data: dict[str, Any], sku: str, push: Push, *, actor: Actor, job: BulkJob | None
) -> Done:
    client = push.reverb
    try:
        existing = client.find_listing_by_sku(sku)
    except DuplicateSkuError as exc:
        raise push.refuse(f"Reverb has several listings with SKU {sku}: {exc}") from exc
    except ReverbError as exc:
        raise ReverbRefused(exc, f"Could not look SKU {sku} up on Reverb: {exc}") from exc
    if existing is not None:
        return _update_existing(account, data, sku, existing, push, actor=actor, job=job)
    held_back = ""
    missing = readiness.payload_gaps(data)
    if data.get("publish") and missing:
        raise push.refuse(
            f"Not ready to publish, nothing was sent: {readiness.in_words(missing)}",
            field_errors={gap.field: [gap.message] for gap in missing},
        )
    if account.auto_publish and missing:
        held_back = f" Not published: {readiness.in_words(missing)}"
    elif account.auto_publish:
        data["publish"] = True
    for attempt in (1, 2):
        push.summary = data
        try:
            answer = push.send(lambda c: c.create_listing(data))
        except ReverbRefused as exc:
            done = _after_lost_create(account, sku, exc, push, last=attempt == 2)
            if done is None:
                continue  # the POST did not land: send it once more
            return done
        return _created(account, data, answer, push, held_back)
    raise AssertionError("unreachable")


def _update_existing(
    account: ReverbAccount,
    data: dict[str, Any],
    sku: str,
    existing: dict[str, Any],
    push: Push,
    *,
    actor: Actor,
    job: BulkJob | None,
) -> Done:
    """The SKU is already on Reverb: update that listing (its own audited push) instead of a second one."""
    client = push.reverb
    key = str(existing.get("id"))
    body = {k: v for k, v in data.items() if k != "publish"}
    update = Push(
        account, "listings.update_by_sku", (TARGET, key), actor=actor, job=job, summary=body, client=client
    )
    answer = update.send(lambda c: c.update_listing(key, body))
    listing = land(account, _listing_of(answer) or client.seller_listing(key, sku))
    return Done(
        f"SKU {sku} already on Reverb (listing {key}): updated it instead of creating another.",
        listing,
        update.call,
        _warnings(answer),
    )


def _after_lost_create(
    account: ReverbAccount, sku: str, exc: ReverbRefused, push: Push, *, last: bool
) -> Done | None:
    """A create Reverb refused, or whose answer was lost: what happened (None: it did not land, send again;
    raises when Reverb cannot be reached, or did not answer twice)."""
    lost = exc.error
    if not isinstance(lost, TransportError):
        return _refused_create(account, sku, exc, push)
    if not lost.maybe_applied:
        raise ReverbRefused(lost, f"Reverb could not be reached: {lost}", call=push.call) from lost
    found = push.reverb.find_listing_by_sku(sku)  # the POST may have landed: look before retrying
    if found is not None:
        listing = land(account, found)
        return Done(
            f"Created listing {listing.reverb_id} (the answer was lost; found it by SKU).", listing, push.call
        )
    if last:
        raise ReverbRefused(lost, f"Reverb did not answer twice: {lost}") from lost
    return None


def _created(account: ReverbAccount, data: dict[str, Any], answer: Any, push: Push, held_back: str) -> Done:
    """The created listing landed in the mirror, its local values kept; a publish waits for Reverb's word."""
    listing = land(account, _listing_of(answer) or {})
    remember_local(listing, data)
    publishing = listing.state != "live" and data.get("publish") and not _warnings(answer)
    if publishing:
        expect_publish(listing)
    state = (
        "published"
        if listing.state == "live"
        else "publishing: Reverb confirms in a moment"
        if publishing
        else "saved as a draft"
    )
    return Done(
        f"Created listing {listing.reverb_id} ({state}).{held_back}", listing, push.call, _warnings(answer)
    )


def _is_duplicate_sku(error: ReverbError) -> bool:
    text = f"{error.message} {error.body}".lower()
    return "sku" in text and "already exists" in text


def _refused_create(account: ReverbAccount, sku: str, exc: ReverbRefused, push: Push) -> Done:
    """A refused create is not always "nothing happened" (API-NOTES 16.1.4): a 422 can still leave a
    draft (its id in the body: mirror it, never create a second), and a duplicate SKU means Reverb has
    the listing already (find it by SKU and link it here: mirror it, so the seller edits that one)."""
    error = exc.error
    left = _listing_of(error.body) if isinstance(error.body, Mapping) else None
    if left is not None and left.get("id") is not None:
        found = push.reverb.seller_listing(str(left["id"]), sku)
        listing = land(account, found if found.get("id") is not None else left)
        return Done(
            f"Created listing {listing.reverb_id} as {_state(listing)}, but Reverb refused publishing it: "
            f"{error.message}",
            listing,
            push.call,
            [error.message],
        )
    if not _is_duplicate_sku(error):
        raise exc
    try:
        existing = push.reverb.find_listing_by_sku(sku)
    except ReverbError:
        existing = None
    if existing is None:
        raise exc
    listing = land(account, existing)
    raise ReverbRefused(
        error,
        f"A listing with this SKU exists on Reverb: {listing.web_url or listing.reverb_id}. "
        f"Linked it here (listing {listing.reverb_id}): edit that one instead; nothing was created.",
        call=push.call,
    ) from exc


def remember_local(listing: Listing, sent: Mapping[str, Any]) -> None:
    """Keep what was sent of the fields Reverb does not read back (editing.LOCAL) on the listing."""
    local = {name: sent[name] for name in editing.LOCAL if name in sent}
    if local:
        Listing.objects.filter(pk=listing.pk).update(**local)
        for name, value in local.items():
            setattr(listing, name, value)


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
    listing: Listing, *, actor: Actor, job: BulkJob | None = None, client: ReverbClient | None = None
) -> Done:
    """Send the pending changes the account's push settings allow, in one PUT.

    Re-reads the listing from Reverb first: if a pending field's Reverb value changed since the edit was
    made, nothing is sent and the listing shows the conflict for a person to resolve."""
    if push_refusal(listing):
        return Done(push_refusal(listing), listing)
    client = client or listing.account.client()
    try:
        fresh = reread(listing, client)
    except ReverbError as exc:
        raise ReverbRefused(
            exc, f"Could not re-read listing {listing.reverb_id} before pushing: {exc}"
        ) from exc
    fresh.pending_changes = listing.pending_changes
    listing = fresh
    push = _push(listing, "listings.push", actor, job, client=client)
    found = editing.conflicts(listing)
    if found:
        names = ", ".join(editing.FIELDS[n].label for n in found)
        error = push.refuse(f"Not pushed: {names} changed on Reverb since the edit. Choose local or Reverb.")
        _store_push(listing, "conflict", error.message, conflicts=sorted(found))
        raise error
    allowed, held = editing.allowed_fields(listing.account, sorted(listing.pending_changes))
    held_note = (
        f" Held back by this account's push settings: {', '.join(editing.FIELDS[n].label for n in held)}."
        if held
        else ""
    )
    if not allowed:
        error = push.refuse("Nothing pushed." + held_note)
        _store_push(listing, "held", error.message)
        raise error
    errors = editing.inventory_errors(
        editing.effective(listing, "condition"), editing.effective(listing, "inventory")
    )
    if errors and ("inventory" in allowed or "condition" in allowed):
        error = push.refuse(editing.INVENTORY_RULE, field_errors=errors)
        _store_push(listing, "refused", error.message, errors)
        raise error
    push.summary = body = editing.put_body(listing, allowed)
    try:
        answer = push.send(lambda c: c.update_listing(listing.reverb_id, body))
    except ReverbRefused as exc:
        _store_push(listing, "failed", exc.message, exc.field_errors)
        raise
    pending = {k: v for k, v in listing.pending_changes.items() if k not in allowed}
    payload = _listing_of(answer) or dict(client.seller_listing(listing.reverb_id, listing.sku))
    if body.get("preorder_info") == editing.PREORDER_CLEARED and "preorder_info" not in payload:
        # Reverb took the removal and its listing shows none: the key's absence is told here, not unknown
        # (the mirror's merge of a partial read would otherwise keep the old pre-order).
        payload["preorder_info"] = None
    updated = land(listing.account, payload)
    remember_local(updated, body)
    Listing.objects.filter(pk=updated.pk).update(pending_changes=pending)
    updated.pending_changes = pending
    message = f"Pushed {', '.join(editing.FIELDS[n].label for n in allowed)}." + held_note
    _store_push(updated, "success", message)
    return Done(message, updated, push.call, _warnings(answer))


# A listing in one of these states sells again only once it has stock and, unless Reverb relists it by
# itself, is published (API-NOTES 5.4).
SOLD_STATES = ("sold", "sold_out")


def needs_publish_to_sell(listing: Listing, quantity: int) -> bool:
    """Whether giving `listing` `quantity` units must also publish it: an ended listing revives only with
    publish (used conditions included); a sold one relists by itself when it holds inventory (Brand New,
    B-Stock, Mint with inventory), a one-of-a-kind one needs publish (API-NOTES 5.4)."""
    if quantity <= 0:
        return False
    if listing.state == "ended":
        return True
    return listing.state in SOLD_STATES and listing.condition_uuid not in conditions.INVENTORY_CONDITIONS


def push_inventory_refusal(listing: Listing, quantity: int) -> str:
    if not listing.account.push_inventory:
        return "Not sent: held back by this account's push settings (Inventory)."
    errors = editing.inventory_errors(listing.condition_uuid, quantity)
    return "; ".join(errors.get("inventory", ()))


def push_inventory(
    listing: Listing, quantity: int, *, actor: Actor, client: ReverbClient | None = None
) -> Done:
    """Send only the listing's quantity, in one PUT, without re-reading the listing first: for a quantity
    owned by the shop's own stock system (inventory/), which a Reverb value read a moment earlier cannot
    improve. A person's other pending edits (title, price...) are neither sent nor dropped; a pending
    inventory edit equal to the quantity sent is done. A listing that must be published to sell again
    gets `publish: true` in the same PUT (`needs_publish_to_sell`); if Reverb's answer shows it ended or
    sold while the mirror thought otherwise, one publish follows."""
    body: dict[str, Any] = {"inventory": quantity}
    publishing = needs_publish_to_sell(listing, quantity)
    unready = readiness.listing_gaps(listing) if publishing else []
    if unready:  # the stock still goes; the relist waits for a person to complete the listing
        publishing = False
    if publishing:
        body["publish"] = True
    push = _push(listing, "listings.push", actor, summary=body, client=client)
    refusal = push_inventory_refusal(listing, quantity)
    if refusal:
        rule = editing.inventory_errors(listing.condition_uuid, quantity)
        raise push.refuse(refusal, field_errors=rule)
    answer = push.send(lambda c: c.update_listing(listing.reverb_id, body))
    updated = _land_inventory(listing, quantity, _listing_of(answer))
    warnings = _warnings(answer)
    relisted, said, updated = _relist(listing, updated, quantity, publishing, unready, warnings, actor)
    return Done(f"Inventory {quantity} sent.{said}", updated, push.call, warnings, [{"relisted": relisted}])


def _land_inventory(listing: Listing, quantity: int, payload: dict[str, Any] | None) -> Listing:
    """The mirror after an inventory PUT: Reverb's answer landed, or (when it said nothing) the quantity
    alone, the next pull bringing the rest; a pending inventory edit equal to the quantity is done."""
    if payload:
        updated = land(listing.account, payload)
    else:
        Listing.objects.filter(pk=listing.pk).update(inventory=quantity)
        listing.refresh_from_db()
        updated = listing
    pending = dict(updated.pending_changes or {})
    if (pending.get("inventory") or {}).get("value") == quantity:
        pending.pop("inventory")
        Listing.objects.filter(pk=updated.pk).update(pending_changes=pending)
        updated.pending_changes = pending
    return updated


def _relist(
    listing: Listing,
    updated: Listing,
    quantity: int,
    publishing: bool,
    unready: list[readiness.Gap],
    warnings: list[str],
    actor: Actor,
) -> tuple[bool, str, Listing]:
    """After an inventory PUT: (relisted, what to tell about it, the listing), publishing once when the
    answer shows the mirror did not know the listing had ended or sold."""
    relisted = quantity > 0 and listing.state in SOLD_STATES and updated.state == "live"  # by itself
    if unready:
        return (
            relisted,
            f" Not relisted: {listing} is not ready to publish: {readiness.in_words(unready)}",
            updated,
        )
    if publishing and warnings:
        return relisted, " Not relisted: " + " ".join(warnings), updated
    if publishing:
        if updated.state != "live":
            expect_publish(updated)
        return True, " Relisted: Reverb confirms in a moment.", updated
    if needs_publish_to_sell(updated, quantity):  # the mirror did not know it had ended or sold
        try:
            published = publish_listing(updated, actor=actor)
        except ActionError as exc:
            return relisted, f" Not relisted: {exc.message}", updated
        return True, f" Relisted: {published.message}", published.obj or updated
    if relisted:
        return True, " Relisted: Reverb relists a listing with inventory when its stock comes back.", updated
    return False, "", updated


def resolve_conflict(listing: Listing, *, actor: Actor, keep: str) -> Listing:
    """keep="reverb": drop the conflicting pending changes; keep="local": re-base them on Reverb's current
    value so the next push sends them. Local only: nothing is sent."""
    if keep not in ("local", "reverb"):
        raise ValueError("keep must be 'local' or 'reverb'")
    pending = dict(listing.pending_changes)
    for name, info in editing.conflicts(listing).items():
        if keep == "reverb":
            pending.pop(name, None)
        else:
            pending[name] = {"value": info["local"], "base": info["remote"]}
    listing.pending_changes = pending
    Listing.objects.filter(pk=listing.pk).update(pending_changes=pending)
    return listing


# ---- state changes ---------------------------------------------------------------------------------


def publish_listing(listing: Listing, *, actor: Actor, job: BulkJob | None = None) -> Done:
    push = _push(listing, "listings.publish", actor, job, {"publish": True})
    answer = push.send(lambda c: c.publish_listing(listing.reverb_id), refusal=publish_refusal(listing))
    updated = land(listing.account, _listing_of(answer) or {})
    warnings = _warnings(answer)
    if updated.state != "live" and not warnings:  # Reverb publishes a second later (API-NOTES 16.1.3)
        expect_publish(updated)
        return Done(f"Publishing {updated}: Reverb confirms in a moment.", updated, push.call, warnings)
    if updated.state != "live":
        return Done(
            f"{updated}: Reverb kept it as {updated.state}. " + " ".join(warnings),
            updated,
            push.call,
            warnings,
        )
    return Done(f"Published {updated}.", updated, push.call, warnings)


CONFIRM_TASK = "listings.tasks.confirm_publish"


def expect_publish(listing: Listing) -> None:
    """Reverb answered "publishing" (the listing reads draft a second longer, API-NOTES 16.1.3): note it
    on the listing and queue the re-read that records whether it went live (`confirm_publish`); the next
    listings pull confirms it too."""
    from backoffice.background.queue import enqueue

    _store_push(listing, "publishing", "Publishing: Reverb confirms in a moment.", state=listing.state)
    enqueue(CONFIRM_TASK, listing.pk, task_name=f"confirm publish {listing.reverb_id}")


def confirm_publish(listing: Listing, client: ReverbClient | None = None) -> str:
    """Re-read a listing waiting for its publish: record "published" once it reads live, "failed" when
    Reverb left it in another state than the one it had; "" while it still reads as before."""
    if (listing.last_push or {}).get("status") != "publishing":
        return "not publishing"
    before = (listing.last_push or {}).get("state", "draft")
    fresh = reread(listing, client)
    if fresh.state == "live":
        _store_push(fresh, "published", f"Published {fresh} (Reverb confirmed it live).")
        return "published"
    if fresh.state != before:
        _store_push(fresh, "failed", f"Reverb did not publish {fresh}: it reads {_state(fresh)}.")
        return "failed"
    return ""


def end_listing(listing: Listing, *, actor: Actor, reason: str, job: BulkJob | None = None) -> Done:
    push = _push(listing, "listings.end", actor, job, {"reason": reason})
    refusal = end_refusal(listing)
    if reason not in editing.END_REASONS:
        refusal = f"End reason must be one of {', '.join(editing.END_REASONS)}."
    push.send(lambda c: c.end_listing(listing.reverb_id, reason), refusal=refusal)
    updated = reread(listing, push.reverb)  # the end answers with an empty body
    return Done(f"Ended {updated} ({reason}).", updated, push.call)


def delete_draft(listing: Listing, *, actor: Actor, job: BulkJob | None = None) -> Done:
    push = _push(listing, "listings.delete_draft", actor, job)
    push.send(lambda c: c.delete_draft(listing.reverb_id), refusal=delete_draft_refusal(listing))
    # Mirrors are never deleted: the row stays, marked missing, with our own "deleted" state.
    now = timezone.now()
    Listing.objects.filter(pk=listing.pk).update(state="deleted", missing=True, missing_since=now)
    listing.refresh_from_db()
    return Done(f"Deleted draft {listing}.", listing, push.call)


# ---- images ----------------------------------------------------------------------------------------


def add_image(listing: Listing, *, actor: Actor, url: str, job: BulkJob | None = None) -> Done:
    push = _push(listing, "listings.add_image", actor, job, {"photos": [url]})
    answer = push.send(
        lambda c: c.update_listing(listing.reverb_id, {"photos": [url]}),
        refusal=""
        if url.startswith(("https://", "http://"))
        else "A photo URL must start with http:// or https://.",
    )
    return Done(
        "Photo added (Reverb fetches it in the background).",
        land(listing.account, _listing_of(answer) or {}),
        push.call,
    )


def delete_image(listing: Listing, *, actor: Actor, image_id: str, job: BulkJob | None = None) -> Done:
    push = _push(listing, "listings.delete_image", actor, job)
    push.send(lambda c: c.delete_image(listing.reverb_id, image_id))
    return Done("Photo deleted.", reread(listing, push.reverb), push.call)


def reorder_images(
    listing: Listing, *, actor: Actor, urls: Sequence[str], job: BulkJob | None = None
) -> Done:
    push = _push(listing, "listings.reorder_images", actor, job)
    answer = push.send(lambda c: c.reorder_images(listing.reverb_id, urls))
    return Done("Photos reordered.", land(listing.account, _listing_of(answer) or {}), push.call)


def arrange_photos(
    listing: Listing,
    *,
    actor: Actor,
    urls: Sequence[str],
    current: Sequence[str] | None,
    job: BulkJob | None = None,
) -> Done:
    """The edit form's photos: make them `urls`, in this order. `current` is what the form showed, the
    mirror's copies of Reverb's photos in order (None: the form showed none, new ones are added after).
    A reorder must send the URLs first sent (API-NOTES 5.2): Reverb's list is read now and matched by
    position to `current`, then one PUT of the whole list with override_position puts new and known
    photos in place. If Reverb's list changed since the page was shown, nothing is sent."""
    if current is None:
        push = _push(listing, "listings.add_image", actor, job, {"photos": list(urls)})
        answer = push.send(lambda c: c.update_listing(listing.reverb_id, {"photos": list(urls)}))
        return Done(
            f"{len(urls)} photo(s) added (Reverb fetches them in the background).",
            land(listing.account, _listing_of(answer) or {}),
            push.call,
        )
    try:
        images = listing.account.client().listing_images(listing.reverb_id)
    except ReverbError as exc:
        raise Refused(f"Photos not changed: could not read them from Reverb ({exc}).") from exc
    if len(images) != len(current):
        raise Refused(
            f"Photos not changed: Reverb has {len(images)} photo(s) for this listing, the page showed "
            f"{len(current)}. Open the form again to see them as they are now."
        )
    original = {shown: str(image.get("url")) for shown, image in zip(current, images, strict=True)}
    sent = [original.get(url, url) for url in urls]
    added = len(set(urls) - set(current))
    done = reorder_images(listing, actor=actor, urls=sent, job=job)
    text = "Photos sent to Reverb in the new order"
    if added:
        text += f", {added} new (Reverb fetches them in the background)"
    return Done(f"{text}.", done.obj, done.call)


# ---- promotion -------------------------------------------------------------------------------------


def _many(
    listings: Sequence[Listing], action: str, key: str, actor: Actor, summary: Mapping[str, Any]
) -> Push:
    """One push for several listings of one account (bump, sales): refused, unrecorded, otherwise."""
    accounts = {listing.account_id for listing in listings}
    if len(accounts) != 1:
        raise Refused("Select listings of one account at a time.")
    return Push(listings[0].account, action, (TARGET, key), actor=actor, summary=summary)


def _ids(listings: Sequence[Listing]) -> list[int]:
    return [int(x.reverb_id) for x in listings]


def set_bump(listings: Sequence[Listing], *, actor: Actor, bid: Decimal | float | str) -> Done:
    """One PUT /bump/v2/bids for the listings; `bid` is a fraction (0.035 is 3.5%)."""
    ids = _ids(listings)
    summary = {"products": ids, "bid": float(bid)}
    push = _many(listings, "listings.set_bump", ",".join(map(str, ids)), actor, summary)
    push.send(lambda c: c.set_bump(ids, bid))
    return Done(f"Bump bid {float(bid) * 100:g}% set on {len(ids)} listing(s).", call=push.call)


def remove_bump(listings: Sequence[Listing], *, actor: Actor) -> Done:
    ids = _ids(listings)
    push = _many(listings, "listings.remove_bump", ",".join(map(str, ids)), actor, {"products": ids})
    push.send(lambda c: c.remove_bump(ids))
    return Done(f"Bump removed from {len(ids)} listing(s).", call=push.call)


def _sale(listings: Sequence[Listing], actor: Actor, sale_id: str, adding: bool) -> Done:
    ids = _ids(listings)
    action = "listings.add_to_sale" if adding else "listings.remove_from_sale"
    push = _many(listings, action, str(sale_id), actor, {"sale_id": sale_id, "listing_ids": ids})
    results = push.send(
        (lambda c: c.add_to_sale(sale_id, ids)) if adding else (lambda c: c.remove_from_sale(sale_id, ids)),
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
        call=push.call,
        results=lines,
    )


def add_to_sale(listings: Sequence[Listing], *, actor: Actor, sale_id: str) -> Done:
    return _sale(listings, actor, sale_id, adding=True)


def remove_from_sale(listings: Sequence[Listing], *, actor: Actor, sale_id: str) -> Done:
    return _sale(listings, actor, sale_id, adding=False)


def set_direct_offer(listing: Listing, *, actor: Actor, percentage: int, job: BulkJob | None = None) -> Done:
    push = _push(listing, "listings.set_direct_offer", actor, job, {"offer_percentage": int(percentage)})
    answer = push.send(
        lambda c: c.set_auto_offer(listing.reverb_id, int(percentage)),
        refusal="" if 1 <= int(percentage) <= 99 else "The percentage must be from 1 to 99.",
        forbidden=NO_DIRECT_OFFERS,
    )
    return Done(
        f"Direct offer of {int(percentage)}% set on {listing}.",
        listing,
        push.call,
        results=[answer] if isinstance(answer, dict) else [],
    )


def remove_direct_offer(listing: Listing, *, actor: Actor, job: BulkJob | None = None) -> Done:
    push = _push(listing, "listings.remove_direct_offer", actor, job)
    push.send(lambda c: c.delete_auto_offer(listing.reverb_id), forbidden=NO_DIRECT_OFFERS)
    return Done(f"Direct offer removed from {listing}.", listing, push.call)


# ---- the shop --------------------------------------------------------------------------------------


def set_vacation(account: ReverbAccount, *, actor: Actor, on: bool) -> Done:
    push = Push(
        account,
        "shop.vacation_on" if on else "shop.vacation_off",
        ("shop", account.name),
        actor=actor,
        summary={"vacation": on},
    )
    push.send(lambda c: c.set_vacation(on))
    state = bool((push.reverb.get_vacation() or {}).get("vacation"))
    return Done(
        f"{account.name}: vacation mode is {'on' if state else 'off'}.",
        call=push.call,
        results=[{"vacation": state}],
    )
