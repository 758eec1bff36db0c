"""Placeholder photos served by the emulator itself (GET /__emulator__/photos/<id>.png): a tiny PNG in a
colour of its own per id, so the demo shop's thumbnails show without any outside host. Generated photo
URLs are stored as that path and made absolute with the client's origin when a listing is rendered."""

from __future__ import annotations

import re
import struct
import zlib

PREFIX = "/__emulator__/photos/"
_NAME = re.compile(r"^photos/(\d+)\.png$")
SIZE = 48


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png(photo_id: int) -> bytes:
    """A SIZE x SIZE PNG: a soft colour from the id with a darker band (looks like a photo slot)."""
    hue = (photo_id * 47) % 360
    r, g, b = _colour(hue, 0.45, 0.75)
    dr, dg, db = _colour(hue, 0.45, 0.55)
    rows = []
    for y in range(SIZE):
        band = SIZE // 3 <= y < 2 * SIZE // 3
        pixel = bytes((dr, dg, db) if band else (r, g, b))
        rows.append(b"\x00" + pixel * SIZE)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + _chunk(b"IEND", b"")
    )


def _colour(hue: int, s: float, v: float) -> tuple[int, int, int]:
    import colorsys

    return tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue / 360, s, v))  # type: ignore[return-value]


def photo_id(control_name: str) -> int | None:
    """The id of `photos/<id>.png` (the control path without /__emulator__/), else None."""
    match = _NAME.match(control_name)
    return int(match.group(1)) if match else None


def absolute(url: str, origin: str) -> str:
    """A stored photo URL as the client sees it: our own paths get the request's origin."""
    return f"{origin}{url}" if url.startswith(PREFIX) else url


def stored(url: str) -> str:
    """A photo URL sent back by a client (absolute, any origin) as stored: our own paths lose the origin."""
    at = url.find(PREFIX)
    return url[at:] if at > 0 and url[:at].startswith(("http://", "https://")) else url
