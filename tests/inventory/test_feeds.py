"""CSV stock feeds: good rows applied and bad ones reported; URL fetching with its guards."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
import urllib3.util.connection
from django.core.files.uploadedfile import SimpleUploadedFile

from backoffice import outbound
from backoffice.models import ReverbAccount, SyncLogEntry
from inventory import feeds
from inventory.models import StockFeed, StockIntent
from listings.models import Listing
from tests.inventory.conftest import inventory_listing


@pytest.fixture
def feed(account: ReverbAccount) -> StockFeed:
    return StockFeed.objects.create(name="warehouse", account=account)


def test_a_bad_row_leaves_the_good_rows_applied(feed: StockFeed, account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    text = f"sku,quantity\n{listing.sku},4\nNO-SUCH,2\n{listing.sku}-x,lots\nonly-one-column\n"
    report = feeds.run(feed, text)
    assert report is not None and report.applied == 1 and report.queued == 1
    assert [(b["line"], b["sku"]) for b in report.bad] == [
        (3, "NO-SUCH"),
        (4, f"{listing.sku}-x"),
        (5, "only-one-column"),
    ]
    assert "unknown SKU" in report.bad[0]["error"] and "whole number" in report.bad[1]["error"]
    assert StockIntent.objects.get().quantity == 4 and StockIntent.objects.get().source == "feed"
    feed.refresh_from_db()
    assert feed.last_status == "partial" and "line 3" in feed.last_error
    assert SyncLogEntry.objects.filter(resource="stock.in", status="failed").count() == 2


def test_a_pasted_superscript_or_foreign_digit_is_a_refused_line(
    feed: StockFeed, account: ReverbAccount
) -> None:
    """ "²" passes str.isdigit and then crashed int(), so the whole upload applied nothing; "٣" and "５"
    were read as 3 and 5."""
    listing = inventory_listing(account)
    other = Listing.objects.filter(account=account, state="live").exclude(pk=listing.pk).first()
    text = f"sku,quantity\n{listing.sku},²\n{other.sku},1\nA,٣\nB,５\n"
    report = feeds.run(feed, text)
    assert report is not None and report.applied == 1
    assert [(b["line"], "whole number" in b["error"]) for b in report.bad] == [
        (2, True),
        (4, True),
        (5, True),
    ]
    assert StockIntent.objects.get().listing_id == other.pk


def test_a_nul_or_an_overlong_cell_is_refused_not_a_crash(feed: StockFeed, account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    report = feeds.run(feed, f"sku,quantity\nA\x00B,1\n{listing.sku},2\n")
    assert report is not None and report.applied == 1
    assert report.bad == [{"line": 2, "sku": "", "error": "a NUL character in the row"}]
    assert feeds.run(feed, "sku,quantity\n" + "x" * 200_000 + ",1\n") is None
    feed.refresh_from_db()
    assert feed.last_status == "failed" and "not a readable CSV" in feed.last_error


def test_headerless_and_reordered_columns(feed: StockFeed, account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    assert feeds.run(feed, f"{listing.sku},2\n").applied == 1
    assert feeds.run(feed, f"Qty,SKU\n3,{listing.sku}\n").applied == 1
    assert StockIntent.objects.get().quantity == 3


def test_admin_upload_applies_the_file(admin_client: Any, feed: StockFeed, account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    upload = SimpleUploadedFile("stock.csv", f"sku,quantity\n{listing.sku},6\nNOPE,1\n".encode())
    answer = admin_client.post(
        f"/admin/inventory/stockfeed/{feed.pk}/change/",
        {
            "name": feed.name,
            "account": account.pk,
            "url": "",
            "minutes": 60,
            "enabled": "on",
            "upload": upload,
        },
        follow=True,
    )
    assert "1 row(s) applied" in answer.content.decode() and "line 3" in answer.content.decode()
    assert StockIntent.objects.get().quantity == 6


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.com/stock.csv", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("http://127.0.0.1:8000/stock.csv", "private or loopback"),
        ("http://10.1.2.3/stock.csv", "private or loopback"),
        ("http://[::1]/stock.csv", "private or loopback"),
    ],
)
def test_refused_urls_say_why(feed: StockFeed, url: str, error: str) -> None:
    feed.url = url
    assert feeds.run(feed) is None
    assert error in feed.last_error and feed.last_status == "failed"


class Server:
    def __init__(self, body: bytes, status: int = 200, pause: float = 0.0, length: int | None = None) -> None:
        self.hosts: list[str] = []  # the Host header of each request
        hosts = self.hosts

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hosts.append(self.headers.get("Host", ""))
                self.send_response(status)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                for line in body.splitlines(keepends=True):
                    self.wfile.write(line)
                    self.wfile.flush()
                    time.sleep(pause)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/stock.csv"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Any]:
    made: list[Server] = []

    def make(body: bytes, status: int = 200, pause: float = 0.0, length: int | None = None) -> Server:
        made.append(Server(body, status, pause, length))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_fetch_from_url_when_private_addresses_are_allowed(
    feed: StockFeed, account: ReverbAccount, serve: Any, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    listing = inventory_listing(account)
    feed.url = serve(f"sku,quantity\n{listing.sku},7\n".encode()).url
    feed.save()
    assert feeds.due_feeds() == [feed]
    report = feeds.run(feed)
    assert report is not None and report.applied == 1 and feed.last_status == "success"
    assert StockIntent.objects.get().quantity == 7
    assert feeds.due_feeds() == []


def test_size_cap_and_http_errors(feed: StockFeed, serve: Any, settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    settings.INVENTORY_FEED_MAX_BYTES = 100
    feed.url = serve(b"sku,quantity\n" + b"A,1\n" * 100).url
    assert feeds.run(feed) is None and "larger than the limit of 100 bytes" in feed.last_error
    feed.url = serve(b"gone", status=404).url
    assert feeds.run(feed) is None and "HTTP 404" in feed.last_error
    feed.url = "http://127.0.0.1:9/none.csv"  # nothing listens on the discard port
    assert feeds.run(feed) is None and "could not be fetched" in feed.last_error


def test_a_declared_size_over_the_cap_and_a_redirect_are_refused(
    feed: StockFeed, serve: Any, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    settings.INVENTORY_FEED_MAX_BYTES = 100
    feed.url = serve(b"sku,quantity\n", length=5000).url  # refused on the header, before reading
    assert feeds.run(feed) is None and feed.last_error == "The feed is 5000 bytes; the limit is 100."
    feed.url = serve(b"", status=302).url
    assert (
        feeds.run(feed) is None
        and feed.last_error == "The feed URL redirects (HTTP 302); give the final URL."
    )


def test_time_cap(feed: StockFeed, serve: Any, settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    settings.INVENTORY_FEED_TIMEOUT = 0.5
    feed.url = serve(b"sku,quantity\n" + b"A,1\n" * 40, pause=0.05).url  # a slow trickle: 2 s in all
    assert feeds.run(feed) is None
    assert "0.5 s" in feed.last_error


PUBLIC = "93.184.216.34"  # a global address (example.com's); nothing connects to it: see below


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """socket.getaddrinfo answers `answers[host]` in turn (the last one ever after; an answer is one or
    more comma-separated addresses), other hosts as usual; returns the hosts asked, in order."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        answer = answers[host][min(len(asked) - 1, len(answers[host]) - 1)]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answer.split(",")
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_host_resolving_to_a_private_address_is_refused(
    feed: StockFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = fake_dns(monkeypatch, {"feed.example": ["10.0.0.7"], "mixed.example": [f"{PUBLIC},::1"]})
    feed.url = "http://feed.example/stock.csv"
    assert feeds.run(feed) is None and "private or loopback address (10.0.0.7)" in feed.last_error
    feed.url = "http://mixed.example/stock.csv"  # every address is checked, not just the first
    assert feeds.run(feed) is None and "private or loopback address (::1)" in feed.last_error
    assert asked == ["feed.example", "mixed.example"]


def test_the_connection_goes_to_the_checked_address_only(
    feed: StockFeed, account: ReverbAccount, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers a public address when checked and a loopback one afterwards. The
    feed is resolved once and the connection goes to the checked address (here redirected to the local
    test server, so the fetch completes), with the URL's host in the Host header."""
    listing = inventory_listing(account)
    server = serve(f"sku,quantity\n{listing.sku},5\n".encode())
    port = server.server.server_port
    asked = fake_dns(monkeypatch, {"rebind.example": [PUBLIC, "127.0.0.1"]})
    real_connect = urllib3.util.connection.create_connection
    connected: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        connected.append(address)
        if address == (PUBLIC, port):  # the checked address: stand in for it with the test server
            return real_connect(("127.0.0.1", port), *args, **kwargs)
        raise OSError(f"connected to {address}, not to the checked address")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    feed.url = f"http://rebind.example:{port}/stock.csv"
    report = feeds.run(feed)
    assert report is not None and report.applied == 1, feed.last_error
    assert connected == [(PUBLIC, port)] and asked == ["rebind.example"]
    assert server.hosts == [f"rebind.example:{port}"]
    assert StockIntent.objects.get().quantity == 5


def test_https_keeps_the_hosts_name_for_sni_and_the_certificate() -> None:
    adapter = outbound.PinnedAdapter("shop.example", PUBLIC)
    request = requests.Request("GET", "https://shop.example/stock.csv").prepare()
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert host_params["host"] == PUBLIC and host_params["scheme"] == "https"
    assert pool_kwargs["server_hostname"] == "shop.example"
    assert pool_kwargs["assert_hostname"] == "shop.example"
    assert outbound.pinned_session("https://shop.example/x", PUBLIC).trust_env is False  # no proxy
