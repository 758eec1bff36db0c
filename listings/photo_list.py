"""The photo list of the listing create and edit forms: the photos in their order, new files, new URLs.

What the form posts (templates/listings/_photo_list.html): one row per photo already in the list
(`photo` its URL, `photo_on_reverb` "1" for a photo the listing has on Reverb, `photo_position` the number
a person typed), `photo_remove` (rows Reverb does not have yet: nothing to delete there), new
files in `photo_files`, new URLs in `photos` (one a line), and `photo_order` (listings/static/listings/
photo_order.js writes it when a row or a new file is dragged: tokens `p<row>` and `f<file>`).

Without JavaScript the order is the position numbers (ties keep the list's order), then the new files, then
the new URLs; with it, `photo_order`. Rows of photos Reverb has cannot be removed here: a deletion cannot
be undone, so it stays on the photos page, which confirms it first.

The edit form shows the listing's photos from the mirror (`Listing.images`): opening it asks Reverb
nothing. Those are Reverb's copies, not the URLs first sent, which a reorder must send (API-NOTES 5.2), so
a save that changes the photos reads Reverb's list first (services.arrange_photos).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator

from . import photos

if TYPE_CHECKING:
    from .models import Listing


@dataclass(frozen=True)
class Row:
    url: str
    on_reverb: bool = False  # one of the listing's photos on Reverb (False: not sent yet)

    @property
    def thumb(self) -> str:
        return photos.local_path(self.url)


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    getlist = getattr(data, "getlist", None)
    if getlist is not None:
        return list(getlist(name))
    value = data.get(name)
    return [] if value is None else list(value) if isinstance(value, list | tuple) else [value]


def listing_rows(listing: Listing) -> list[Row]:
    """The listing's photos as the last pull saw them, in order."""
    return [Row(str(url), on_reverb=True) for url in listing.images or []]


def posted_rows(data: Mapping[str, Any]) -> list[Row] | None:
    """The rows the page showed (None when the post carries no photo list)."""
    if not data.get("photo_list"):
        return None
    urls, marks = _list(data, "photo"), _list(data, "photo_on_reverb")
    return [Row(str(u), i < len(marks) and marks[i] == "1") for i, u in enumerate(urls) if u]


def new_urls(text: str) -> list[str]:
    """The typed URLs, one a line; a ValidationError names the first that is not an http(s) URL."""
    urls = [line.strip() for line in (text or "").splitlines() if line.strip()]
    check = URLValidator(schemes=["http", "https"])
    for url in urls:
        try:
            check(url)
        except ValidationError:
            raise ValidationError(f"Not a photo URL (http:// or https://): {url}") from None
    return urls


def checked_files(files: Sequence[UploadedFile]) -> list[str]:
    """What is wrong with the uploaded files, one message a file (empty: all can be kept)."""
    return [p for p in (photos.problem(f) for f in files) if p]


def ordered(
    data: Mapping[str, Any], rows: Sequence[Row], uploaded: Sequence[Row], typed: Sequence[str]
) -> list[Row]:
    """The final list: the rows (less the removed new ones) and the uploads in the posted order, then the
    typed URLs. Raises ValidationError for a position that is not a whole number."""
    removed = {str(v) for v in _list(data, "photo_remove")}
    items = {f"p{i}": row for i, row in enumerate(rows) if row.on_reverb or str(i) not in removed}
    files = {f"f{i}": row for i, row in enumerate(uploaded)}
    tokens = [t for t in str(data.get("photo_order") or "").split(",") if t in items or t in files]
    if tokens:
        chosen = [(items | files)[t] for t in dict.fromkeys(tokens)]
        rest = [row for key, row in (items | files).items() if key not in tokens]
        result = chosen + rest
    else:
        positions = _list(data, "photo_position")
        keyed = []
        for i, row in enumerate(rows):
            if f"p{i}" not in items:
                continue
            text = str(positions[i]).strip() if i < len(positions) else ""
            if text and not text.isdigit():
                raise ValidationError(f"Photo positions are whole numbers (“{text}” is not).")
            keyed.append((int(text) if text else i + 1, i, row))
        result = [row for _, _, row in sorted(keyed, key=lambda k: (k[0], k[1]))] + list(uploaded)
    seen = {row.url for row in result}
    return result + [Row(u) for u in dict.fromkeys(typed) if u not in seen]


def too_many(count: int) -> str:
    limit = settings.LISTING_PHOTO_MAX_COUNT
    if count <= limit:
        return ""
    return f"A listing can have at most {limit} photos; this would make {count}."
