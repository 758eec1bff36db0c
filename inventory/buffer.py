"""The stock buffer: how much of what the shop's other channels report Reverb gets.

A shop selling the same one-off in its own shop and on Reverb can sell it twice in the minute before
either side hears of the other sale. Holding back N units (or publishing at most N) of the reported
quantity keeps that margin: reported 5, hold back 1 -> Reverb gets 4; publish at most 2 -> 2; never below
0 (reported 1, hold back 1 -> 0: the listing sells out on Reverb). The account's buffer
(`AccountStockBuffer`) is every listing's default; a listing's own (`ListingStockBuffer`) beats it field
by field (an empty field takes the account's). `set_stock` applies it when it turns a reported quantity
into the quantity Reverb is to have, and keeps both on the intent and in the sync log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from backoffice.models import ReverbAccount
from listings.models import Listing

from .models import AccountStockBuffer, BufferFields, ListingStockBuffer


@dataclass(frozen=True)
class Buffer:
    hold_back: int = 0
    at_most: int | None = None
    own: bool = False  # the listing's own buffer (at least one field), not only the account's

    def apply(self, reported: int) -> int:
        """The quantity Reverb gets of `reported`."""
        quantity = max(reported - self.hold_back, 0)
        return quantity if self.at_most is None else min(quantity, self.at_most)

    def __bool__(self) -> bool:
        return self.hold_back > 0 or self.at_most is not None

    def describe(self) -> str:
        parts = [f"hold back {self.hold_back}"] if self.hold_back else []
        if self.at_most is not None:
            parts.append(f"publish at most {self.at_most}")
        if not parts:
            return "no stock buffer"
        return " and ".join(parts) + (" (this listing's)" if self.own else " (the account's)")


def _merge(account: BufferFields | None, own: BufferFields | None) -> Buffer:
    hold_back = own.hold_back if own is not None and own.hold_back is not None else None
    at_most = own.publish_at_most if own is not None and own.publish_at_most is not None else None
    is_own = hold_back is not None or at_most is not None
    if hold_back is None:
        hold_back = account.hold_back if account is not None and account.hold_back is not None else 0
    if at_most is None and account is not None:
        at_most = account.publish_at_most
    return Buffer(hold_back, at_most, is_own)


def buffers_for(account: ReverbAccount | int, listing_ids: Iterable[int]) -> dict[int, Buffer]:
    """{listing id: its buffer} for the given listings of `account` (two queries)."""
    ids = list(listing_ids)
    default = AccountStockBuffer.objects.filter(account=account).first()
    own = {b.listing_id: b for b in ListingStockBuffer.objects.filter(listing_id__in=ids)}
    return {pk: _merge(default, own.get(pk)) for pk in ids}


def buffer_of(listing: Listing) -> Buffer:
    return buffers_for(listing.account_id, [listing.pk])[listing.pk]
