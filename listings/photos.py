"""Photos uploaded from a file for a listing: checked by their content, kept under MEDIA_ROOT with an
unguessable name, and served by this app at MEDIA_URL so Reverb can fetch them (Reverb takes photo URLs,
never files: API-NOTES 5.2). The URL sent is absolute, on SITE_URL: Reverb fetches it from outside.

The name is the only key (24 random URL-safe characters): whoever has the URL may see the photo, as on
Reverb once it is published; the listing's other data is never reachable from it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest

FOLDER = "listing-photos"
NAME_PATTERN = r"[A-Za-z0-9_-]{24}\.(?:jpg|png|webp)"
# What Reverb's listing form accepts; a file is recognised by its first bytes, never by its name.
KINDS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def kind_of(head: bytes) -> str | None:
    """ "jpg", "png" or "webp" when the first bytes are those of such an image, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:15] == b"VP8":
        return "webp"
    return None


def max_bytes() -> int:
    return settings.LISTING_PHOTO_MAX_MB * 1024 * 1024


def problem(upload: UploadedFile) -> str:
    """Why this file cannot be a listing photo, in words, or ''."""
    name = upload.name or "The file"
    if upload.size is not None and upload.size > max_bytes():
        return (
            f"{name} is {upload.size / 1024 / 1024:.1f} MB; a photo can be at most "
            f"{settings.LISTING_PHOTO_MAX_MB} MB."
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if kind_of(head) is None:
        return f"{name} is not a JPEG, PNG or WebP image (checked by its content, not its name)."
    return ""


@dataclass(frozen=True)
class Stored:
    name: str  # the storage name, FOLDER/<random>.<ext>
    url: str  # absolute: what Reverb is sent


def store(upload: UploadedFile) -> Stored:
    """Keep a checked upload (see `problem`) under a new random name."""
    upload.seek(0)
    kind = kind_of(upload.read(16))
    assert kind is not None, "store() is for checked uploads"
    upload.seek(0)
    name = default_storage.save(
        f"{FOLDER}/{secrets.token_urlsafe(18)}.{kind}", ContentFile(b"".join(upload.chunks()))
    )
    return Stored(name, absolute_url(name))


def absolute_url(name: str) -> str:
    url = default_storage.url(name)
    if url.startswith(("http://", "https://")):
        return url
    return f"{settings.SITE_URL.rstrip('/')}/{url.lstrip('/')}"


def local_path(url: str) -> str:
    """For one of our uploads, its path on this site (shown as a thumbnail from our own origin, which the
    page's CSP allows); any other URL unchanged."""
    base = absolute_url(f"{FOLDER}/")
    if url.startswith(base):
        return "/" + default_storage.url(f"{FOLDER}/{url[len(base) :]}").lstrip("/")
    return url


def serve(request: HttpRequest, name: str) -> FileResponse:
    """GET an uploaded photo: public (Reverb fetches it without credentials), found by its name only."""
    path = f"{FOLDER}/{name}"
    kind = name.rsplit(".", 1)[-1]
    if kind not in KINDS or not default_storage.exists(path):
        raise Http404("No such photo.")
    response = FileResponse(default_storage.open(path, "rb"), content_type=KINDS[kind])
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
