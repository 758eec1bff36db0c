"""Render a request as a curl command someone can paste to reproduce it, token redacted.

Reverb's Magento plugin logs a curl line per call (API-NOTES 14.1); ours goes into audit rows, so the
Authorization header is always masked.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

REDACTED = "[REDACTED]"
SECRET_HEADERS = {"authorization", "x-auth-token", "cookie"}


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    clean = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {REDACTED}".strip()
        clean[name] = value
    return clean


def as_curl(
    method: str, url: str, headers: Mapping[str, str] | None = None, body: bytes | str | None = None
) -> str:
    parts = ["curl", "-X", method.upper(), shlex.quote(url)]
    for name, value in redact_headers(headers or {}).items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        parts += ["--data-raw", shlex.quote(text)]
    return " ".join(parts)
