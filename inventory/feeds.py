"""CSV stock feeds: `sku,quantity` rows (a header row names the columns), uploaded or fetched from a URL.

Fetching is careful because the URL is typed by a person: http/https only; the host is resolved once and
its every address must be public (no loopback, private, link-local or reserved addresses) unless
INVENTORY_FEED_ALLOW_PRIVATE; the connection goes to the checked address and no other (`PinnedAdapter`:
no second resolution for a rebinding DNS to answer differently; the Host header, TLS SNI and certificate
check still use the URL's host); no proxy, no redirects, a time cap (INVENTORY_FEED_TIMEOUT) and a size
cap (INVENTORY_FEED_MAX_BYTES). Each failure is a clear sentence in `StockFeed.last_error`. A bad row
never stops the good ones: they are applied and the bad ones reported with their line numbers.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter

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


def check_url(url: str) -> str:
    """The one address the feed is fetched from: the URL's host resolved once, every address it has
    checked (public only, unless INVENTORY_FEED_ALLOW_PRIVATE). `fetch` connects to this address and no
    other, so a name that resolves differently a moment later (DNS rebinding) cannot lead it elsewhere."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FeedError(f"Only http and https feed URLs are fetched, not {parts.scheme or 'no scheme'}.")
    if not parts.hostname:
        raise FeedError("The feed URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FeedError(f"The feed URL has a bad port: {exc}.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FeedError(f"The feed host {parts.hostname} could not be resolved: {exc}.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise FeedError(f"The feed host {parts.hostname} has no address.")
    if not getattr(settings, "INVENTORY_FEED_ALLOW_PRIVATE", False):
        for address in addresses:
            if not address.is_global or address.is_multicast:
                raise FeedError(
                    f"The feed host {parts.hostname} is at a private or loopback address ({address}); "
                    "fetching such addresses needs INVENTORY_FEED_ALLOW_PRIVATE."
                )
    return str(addresses[0])


class PinnedAdapter(HTTPAdapter):
    """Connects to `address` (the checked one) whatever the URL's host resolves to now, while the request
    still names the host: the Host header is set by `fetch`, and TLS sends the host as SNI and checks the
    certificate against it (`server_hostname`, `assert_hostname`)."""

    def __init__(self, hostname: str, address: str) -> None:
        self.hostname, self.address = hostname, address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = self.address
        if host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = self.hostname
            pool_kwargs["assert_hostname"] = self.hostname
        return host_params, pool_kwargs


def pinned_session(url: str, address: str) -> requests.Session:
    """A session that sends `url`'s requests to `address` only, ignoring proxy settings (a proxy would
    resolve the name again)."""
    session = requests.Session()
    session.trust_env = False
    parts = urlsplit(url)
    adapter = PinnedAdapter(parts.hostname or "", address)
    session.mount(f"{parts.scheme}://", adapter)
    return session


def fetch(url: str) -> str:
    """The feed's text, within the caps; FeedError with a clear sentence otherwise."""
    address = check_url(url)
    limit = int(settings.INVENTORY_FEED_MAX_BYTES)
    timeout = float(settings.INVENTORY_FEED_TIMEOUT)
    started = time.monotonic()
    host = urlsplit(url).netloc.rpartition("@")[2]  # the Host header: the URL's host[:port]
    try:
        with (
            pinned_session(url, address) as session,
            session.get(
                url,
                headers={"Host": host},
                stream=True,
                timeout=(min(timeout, 10.0), timeout),
                allow_redirects=False,
            ) as r,
        ):
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
            encoding = r.encoding or "utf-8"
    except requests.Timeout as exc:
        raise FeedError(f"The feed URL did not answer within {timeout:g} s.") from exc
    except requests.RequestException as exc:
        raise FeedError(f"The feed URL could not be fetched: {exc}.") from exc
    try:
        return b"".join(chunks).decode(encoding if encoding.lower() != "iso-8859-1" else "utf-8")
    except (UnicodeDecodeError, LookupError) as exc:
        raise FeedError(f"The feed is not UTF-8 text: {exc}.") from exc


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
