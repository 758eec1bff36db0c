"""The listings' check for the nightly reconciliation (backoffice/sync/reconcile.py): a listing changed on
Reverb while a local edit of it is pending is left for a person. Registered in listings/apps.py."""

from __future__ import annotations

from collections.abc import Sequence

from backoffice.models import ReverbAccount
from backoffice.sync.reconcile import Change, Conflict, show

from . import editing
from .models import Listing


def pending_edits(account: ReverbAccount, changes: Sequence[Change]) -> list[Conflict]:
    """A changed listing with a pending local edit whose base Reverb no longer has: one query per page."""
    keys = [change.key for change in changes if change.before is not None]
    if not keys:
        return []
    edited = Listing.objects.filter(account=account, reverb_id__in=keys).exclude(pending_changes={})
    return [
        Conflict(
            listing.reverb_id,
            name,
            ours=found["local"],
            theirs=found["remote"],
            reason=f"Edited here (was {show(found['base'])} when edited) and changed on Reverb since; "
            "the local edit is kept, not pushed: choose which value wins on the listing.",
        )
        for listing in edited
        for name, found in editing.conflicts(listing).items()
    ]
