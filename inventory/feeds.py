"""CSV stock feeds: `sku,quantity` rows (a header row names the columns), uploaded or fetched from a URL.

Fetching goes through backoffice/outbound.py (the one outbound helper: http/https only, public addresses
unless OUTBOUND_ALLOW_PRIVATE, the checked address pinned, no proxy, no redirects) with a time cap
(INVENTORY_FEED_TIMEOUT) and a size cap (INVENTORY_FEED_MAX_BYTES). Each failure is a clear sentence in
`StockFeed.last_error`. A bad row never stops the good ones: they are applied and the bad ones reported with
their line numbers.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from backoffice import outbound

from . import services
from .models import Source, StockFeed

SKU_NAMES = ("sku", "shop_sku", "reference")
QUANTITY_NAMES = ("quantity", "qty", "stock", "inventory")


class FeedError(Exception):
    """The feed could not be read at all (nothing was applied)."""


@dataclass
class FeedReport:
    applied: int = 0
    queued: int = 0
    bad: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "queued": self.queued, "bad": self.bad}

    def summary(self) -> str:
        text = f"{self.applied} row(s) applied, {self.queued} to send"
        if self.bad:
            text += (
                f", {len(self.bad)} refused ("
                + "; ".join(f"line {b['line']}: {b['error']}" for b in self.bad[:5])
                + (" ..." if len(self.bad) > 5 else "")
                + ")"
            )
        return text


def parse(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows with their line numbers, bad lines). The first line is a header if it names the columns."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        lines = [(n, row) for n, row in enumerate(reader, start=1) if any(cell.strip() for cell in row)]
    except csv.Error as exc:  # a NUL byte, a cell over the csv module's field limit
        raise FeedError(f"The feed is not a readable CSV (line {reader.line_num}): {exc}.") from None
    if not lines:
        raise FeedError("The feed is empty.")
    sku_col, qty_col = 0, 1
    header = [c.strip().lower() for c in lines[0][1]]
    if any(name in header for name in SKU_NAMES + QUANTITY_NAMES):
        try:
            sku_col = next(header.index(n) for n in SKU_NAMES if n in header)
            qty_col = next(header.index(n) for n in QUANTITY_NAMES if n in header)
        except StopIteration:
            raise FeedError("The header must name a sku column and a quantity column.") from None
        lines = lines[1:]
    rows, bad = [], []
    for number, row in lines:
        if len(row) <= max(sku_col, qty_col):
            bad.append(
                {"line": number, "sku": row[sku_col].strip() if row else "", "error": "missing a column"}
            )
            continue
        if "\x00" in row[sku_col] + row[qty_col]:  # no database column holds it (PostgreSQL refuses)
            bad.append({"line": number, "sku": "", "error": "a NUL character in the row"})
            continue
        rows.append({"line": number, "sku": row[sku_col].strip(), "quantity": row[qty_col].strip()})
    return rows, bad


def apply(feed: StockFeed, text: str, *, source_detail: str = "") -> FeedReport:
    rows, bad = parse(text)
    result = services.set_stock(feed.account, rows, source=Source.FEED, detail=source_detail or feed.name)
    report = FeedReport(bad=bad)
    for row, outcome in zip(rows, result.rows, strict=True):
        if outcome.status == "accepted":
            report.applied += 1
            report.queued += outcome.queued
        else:
            report.bad.append({"line": row["line"], "sku": row["sku"], "error": outcome.error})
    report.bad.sort(key=lambda b: b["line"])
    return report


def fetch(url: str) -> str:
    """The feed's text, within the caps; FeedError with a clear sentence otherwise."""
    limit = int(settings.INVENTORY_FEED_MAX_BYTES)
    timeout = float(settings.INVENTORY_FEED_TIMEOUT)
    started = time.monotonic()
    try:
        with outbound.call("get", url, what="feed", stream=True, timeout=(min(timeout, 10.0), timeout)) as r:
            body, encoding = _body(r, limit, timeout, started)
    except outbound.OutboundError as exc:
        raise FeedError(str(exc)) from exc
    except requests.Timeout as exc:
        raise FeedError(f"The feed URL did not answer within {timeout:g} s.") from exc
    except requests.RequestException as exc:
        raise FeedError(f"The feed URL could not be fetched: {exc}.") from exc
    try:
        return body.decode(encoding if encoding.lower() != "iso-8859-1" else "utf-8")
    except (UnicodeDecodeError, LookupError) as exc:
        raise FeedError(f"The feed is not UTF-8 text: {exc}.") from exc


def _body(r: requests.Response, limit: int, timeout: float, started: float) -> tuple[bytes, str]:
    """(the bytes, their declared encoding) of a 200 answer, read in chunks within `limit` bytes and
    `timeout` seconds from `started`; FeedError for another status or past a cap."""
    if 300 <= r.status_code < 400:
        raise FeedError(f"The feed URL redirects (HTTP {r.status_code}); give the final URL.")
    if r.status_code != 200:
        raise FeedError(f"The feed URL answered HTTP {r.status_code}.")
    declared = r.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FeedError(f"The feed is {int(declared)} bytes; the limit is {limit}.")
    chunks, size = [], 0
    for chunk in r.iter_content(8 * 1024):
        size += len(chunk)
        if size > limit:
            raise FeedError(f"The feed is larger than the limit of {limit} bytes.")
        if time.monotonic() - started > timeout:
            raise FeedError(f"The feed took longer than {timeout:g} s to download.")
        chunks.append(chunk)
    return b"".join(chunks), r.encoding or "utf-8"


def run(feed: StockFeed, text: str | None = None, *, detail: str = "") -> FeedReport | None:
    """Apply an upload (`text`) or fetch the feed's URL; record the outcome on the feed."""
    feed.last_run_at = timezone.now()
    try:
        if text is None:
            if not feed.url:
                raise FeedError("This feed has no URL; upload a file instead.")
            text = fetch(feed.url)
        report = apply(feed, text, source_detail=detail)
    except FeedError as exc:
        feed.last_status, feed.last_error, feed.last_report = "failed", str(exc), {}
        feed.save(update_fields=["last_run_at", "last_status", "last_error", "last_report"])
        return None
    feed.last_status = "partial" if report.bad else "success"
    feed.last_error = report.summary() if report.bad else ""
    feed.last_report = report.as_dict()
    feed.save(update_fields=["last_run_at", "last_status", "last_error", "last_report"])
    if report.queued:
        services.request_drain(feed.account_id)
    return report


def due_feeds(now: Any = None) -> list[StockFeed]:
    now = now or timezone.now()
    return [
        f
        for f in StockFeed.objects.filter(enabled=True, account__enabled=True).exclude(url="")
        if f.last_run_at is None or (now - f.last_run_at).total_seconds() >= f.minutes * 60
    ]
