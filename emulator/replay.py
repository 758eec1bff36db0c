"""Serve a doctor's capture as a read-only shop: `reverb_emulator --from-capture DIR`.

A capture holds the GET answers a real shop gave (personal data replaced). Each is served again at its
path: a collection answers its captured page (one page: `next` is dropped), a single read answers the
captured read or the record with that id from a captured collection, links point at this server, and
every write answers 405, because a capture is a photograph, not a shop.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .core import Response

RESPONSES_FILE = "responses.json"
ID_KEYS = ("id", "order_number")


class CaptureReplay:
    """Answers like `Emulator.handle`, from a capture folder's `responses.json`."""

    def __init__(self, folder: Path | str, *, token: str) -> None:
        path = Path(folder) / RESPONSES_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: is {folder} a reverb_doctor capture?")
        self.token = token
        self.answers: dict[str, Any] = {}
        for entry in json.loads(path.read_text()):
            self.answers.setdefault(entry["path"].rstrip("/"), entry["body"])
        self.requests: Counter[tuple[str, str]] = Counter()

    def handle(
        self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes, origin: str
    ) -> Response:
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("authorization", "") != f"Bearer {self.token}":
            return Response(
                401, {"message": "Unauthorized. Please log in and obtain a new authorization token."}
            )
        path = path.rstrip("/")
        self.requests[(method.upper(), path)] += 1
        if method.upper() != "GET":
            return Response(405, {"message": "This shop is a capture and is read-only."})
        answer = self.answers.get(path)
        if answer is None:
            answer = self._record_in_collection(path)
        if answer is None:
            return Response(404, {"message": "Not found in the capture."})
        return Response(200, _relinked(answer, origin))

    def _record_in_collection(self, path: str) -> Any:
        """`/api/x/{id}` from a captured collection under `/api/x` (or `/api/my/x`) holding that id,
        e.g. an order from `/api/my/orders/selling/all`, a listing from `/api/my/listings`."""
        parent, _, key = path.rpartition("/")
        prefixes = (parent, parent.replace("/api/", "/api/my/", 1))
        for captured, body in self.answers.items():
            if not captured.startswith(prefixes) or not isinstance(body, Mapping):
                continue
            for value in body.values():
                for item in value if isinstance(value, list) else ():
                    if isinstance(item, Mapping) and any(str(item.get(k)) == key for k in ID_KEYS):
                        return item
        return None


def _relinked(value: Any, origin: str) -> Any:
    """Every href on this server's origin; no `next`, since one page was captured."""
    if isinstance(value, Mapping):
        out = {}
        for key, inner in value.items():
            if key == "next" and isinstance(inner, Mapping) and "href" in inner:
                continue
            if key == "href" and isinstance(inner, str) and inner.startswith("http"):
                parts = urlsplit(inner)
                inner = origin.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
            out[key] = _relinked(inner, origin)
        return out
    if isinstance(value, list):
        return [_relinked(item, origin) for item in value]
    return value
