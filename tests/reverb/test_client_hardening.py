"""The client against a hostile or broken Reverb (issue 16: items 2, 7, 13, 14, 16, 17): the token goes
only to the account's host and never into an error, a page or a log; a slow, throttling or odd server
cannot hold a person's request."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from backoffice.reverb.client import BearerToken, ReverbClient
from backoffice.reverb.errors import (
    ForeignLinkError,
    RateLimitedError,
    RateLimitPausedError,
    ReverbError,
    TransportError,
    UnexpectedResponseError,
)
from backoffice.reverb.ratelimit import LocalTokenBucket, interactive
from tests.conftest import EMULATOR_API_URL, EMULATOR_TOKEN
from tests.reverb.conftest import ScriptedAdapter, make_client, reply, scripted_client

API = "http://127.0.0.1:8865/api"
HOSTILE = "http://127.0.0.1:8866\\@127.0.0.1:8865/api/my/listings?page=2"


def two_hosts(*steps: Any) -> tuple[ReverbClient, ScriptedAdapter, ScriptedAdapter]:
    """A client of the API on port 8865, and an attacker's server on 8866 (both scripted, no sockets)."""
    ours, theirs = ScriptedAdapter(*steps), ScriptedAdapter(reply(200, {"listings": [], "_links": {}}))
    session = requests.Session()
    session.mount("http://127.0.0.1:8865/", ours)
    session.mount("http://127.0.0.1:8866/", theirs)
    return make_client(base_url=API, session=session), ours, theirs


# ---- 2: the token goes only to the account's host --------------------------------------------------


@pytest.mark.parametrize(
    "href",
    [
        HOSTILE,
        "http://127.0.0.1:8866\\\\@127.0.0.1:8865/api/x",
        "http://user@127.0.0.1:8865/api/x",
        "http://127.0.0.1:8865@127.0.0.1:8866/api/x",
        "http://127.0.0.1:8865/api\\x",
        "http://127.0.0.1:8865/api/x\r\nHost: evil",
    ],
)
def test_links_the_http_library_would_read_differently_are_refused(href: str) -> None:
    client, _, theirs = two_hosts(reply(200, {}))
    with pytest.raises(ForeignLinkError):
        client.url(href)
    with pytest.raises(ForeignLinkError):
        client.request("GET", href)
    assert theirs.sent == []


def test_a_backslash_next_link_never_reaches_the_other_port_with_the_token() -> None:
    page = {"listings": [{"id": 1}], "_links": {"next": {"href": HOSTILE}}}
    client, ours, theirs = two_hosts(reply(200, page))
    pages = client.my_listings()
    assert next(pages).items == [{"id": 1}]
    with pytest.raises(ForeignLinkError):
        next(pages)
    assert theirs.sent == [] and len(ours.sent) == 1


@pytest.mark.django_db
def test_a_refused_link_fails_the_scan_and_marks_nothing_missing() -> None:
    from backoffice.models import SyncRun
    from backoffice.sync.runner import sync_resource
    from listings.models import Listing
    from tests.factories import AccountFactory, listing_payload

    account = AccountFactory(api_url=API)
    first = {"listings": [listing_payload(n) for n in range(2)], "_links": {"next": {"href": HOSTILE}}}
    client, _, theirs = two_hosts(reply(200, {"listings": [listing_payload(n) for n in range(5)]}))
    sync_resource(account, "listings", client=client)
    assert Listing.objects.filter(account=account, missing=False).count() == 5
    client, _, theirs = two_hosts(reply(200, first))
    run = sync_resource(account, "listings", client=client, full=True)
    assert run.status == SyncRun.Status.FAILED and "ForeignLinkError" in run.error
    assert theirs.sent == []
    assert Listing.objects.filter(account=account, missing=True).count() == 0


# ---- 13: the token is in no frame's locals, no exception, no error page ----------------------------


class Exploding(ScriptedAdapter):
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        raise RuntimeError("the HTTP stack broke")


def test_an_error_inside_the_http_client_shows_no_token_on_the_debug_page(settings: Any) -> None:
    settings.DEBUG = True
    session = requests.Session()
    session.mount("http://reverb.test/", Exploding())
    client = make_client(session=session)
    with pytest.raises(ReverbError):
        client.get_account()
    exc_type, exc, tb = sys.exc_info()[0], None, None
    try:
        client.get_account()
    except ReverbError:
        exc_type, exc, tb = sys.exc_info()
    reporter = ExceptionReporter(RequestFactory().get("/admin/"), exc_type, exc, tb)
    page = reporter.get_traceback_html() + reporter.get_traceback_text()
    assert "the HTTP stack broke" in page  # the page is about this error
    assert EMULATOR_TOKEN not in page


def test_a_header_the_http_library_refuses_does_not_echo_the_token() -> None:
    client = make_client(token=EMULATOR_TOKEN + "\n")  # requests' InvalidHeader quotes the value
    with pytest.raises(ReverbError) as info:
        client.get_account()
    assert EMULATOR_TOKEN not in str(info.value) + repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_token_wrapper_is_redacted_everywhere() -> None:
    token = BearerToken("s3cret-token")
    assert "s3cret" not in repr(token) + str(token) + f"{token}" + repr({"t": token})
    assert token.reveal() == "s3cret-token" and BearerToken(token).reveal() == "s3cret-token"
    client = ReverbClient(EMULATOR_API_URL, "s3cret-token")
    assert "s3cret" not in repr(vars(client))
    assert client.headers["Authorization"] == "Bearer s3cret-token"


# ---- 14: an error body repeating the token is masked ------------------------------------------------


def test_an_error_body_repeating_the_token_is_masked_everywhere() -> None:
    body = {
        "message": f"bad token {EMULATOR_TOKEN}",
        "errors": {"token": [f"{EMULATOR_TOKEN} is revoked"]},
        "echo": {"headers": [f"Bearer {EMULATOR_TOKEN}"]},
    }
    client, _ = scripted_client(reply(422, body))
    with pytest.raises(ReverbError) as info:
        client.update_shop({"name": "x"})
    error = info.value
    seen = str(error) + repr(error) + json.dumps(error.body) + json.dumps(error.field_errors())
    seen += str(error.args)
    assert EMULATOR_TOKEN not in seen and "[REDACTED]" in seen


def test_a_text_error_page_repeating_the_token_is_masked() -> None:
    def answer(request: requests.PreparedRequest) -> requests.Response:
        response = reply(502)(request)
        response._content = f"<h1>Bad gateway</h1> Authorization: Bearer {EMULATOR_TOKEN}".encode()
        response.headers["Content-Type"] = "text/html"
        return response

    client, _ = scripted_client(answer, max_retries=0)
    with pytest.raises(ReverbError) as info:
        client.get_account()
    assert EMULATOR_TOKEN not in str(info.value) + str(info.value.body)


@pytest.mark.django_db
def test_a_sync_run_and_its_audit_trail_never_store_an_echoed_token() -> None:
    from backoffice.sync.runner import sync_resource
    from tests.factories import AccountFactory

    account = AccountFactory(api_url=EMULATOR_API_URL)
    client, _ = scripted_client(reply(403, {"error": f"token {EMULATOR_TOKEN} may not list"}))
    run = sync_resource(account, "listings", client=client)
    assert run.error and EMULATOR_TOKEN not in run.error


# ---- 16: a success answer that is not JSON ---------------------------------------------------------


@pytest.mark.parametrize("content", [b"<html>maintenance</html>", b"{not json"])
def test_a_200_that_is_not_json_is_a_typed_error(content: bytes) -> None:
    def answer(request: requests.PreparedRequest) -> requests.Response:
        response = reply(200)(request)
        response._content = content
        response.headers["Content-Type"] = "text/html"
        return response

    client, _ = scripted_client(answer)
    with pytest.raises(UnexpectedResponseError) as info:
        client.listing_images(1)
    assert "not JSON" in str(info.value) and info.value.status == 200
    with pytest.raises(UnexpectedResponseError):
        next(client.my_listings())


def test_a_page_that_is_a_json_list_is_a_typed_error() -> None:
    client, _ = scripted_client(reply(200, [1, 2]))
    with pytest.raises(UnexpectedResponseError):
        next(client.my_listings())


# ---- 17: an overall deadline per request -------------------------------------------------------------


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """A loopback server that sends its headers, then one body byte every 50 ms (5 s for the body)."""

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"a": "' + b"x" * 90 + b'"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_a_server_sending_a_byte_at_a_time_is_cut_off_at_the_deadline(trickling_server: str) -> None:
    client = make_client(base_url=trickling_server, timeout=(2.0, 2.0), deadline=0.6, max_retries=0)
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        client.get_account()
    assert time.monotonic() - started < 2.0  # not the 5 s the body takes
    assert "within 0.6 s" in str(info.value) and info.value.retryable


def test_a_whole_body_within_the_deadline_is_read(trickling_server: str) -> None:
    client = make_client(base_url=trickling_server, timeout=(2.0, 2.0), deadline=20, max_retries=0)
    assert client.get_account() == {"a": "x" * 90}


def test_the_socket_guard_still_allows_loopback_only() -> None:
    with pytest.raises(RuntimeError):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)


# ---- 7: a long Retry-After is capped and a person is not kept waiting --------------------------------


def test_a_long_retry_after_pauses_the_account_only_up_to_the_cap() -> None:
    now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the client's backoff does not advance the clock: still paused
        sleeps.append(seconds)

    bucket = LocalTokenBucket(5, 5, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    client, _ = scripted_client(
        reply(429, {"message": "slow down"}, {"Retry-After": "3600"}),
        reply(200, {}),
        rate_limiter=bucket,
        account_key="account:9",
        max_pause=120,
        sleep=sleep,
    )
    with pytest.raises(RateLimitedError):  # one attempt: the 429 pauses the account's budget
        client._send_once("GET", f"{client.base_url}/my/account", None, None)
    assert client.paused_for() == pytest.approx(120)
    client.get_account()  # waits out the capped pause (and a token's refill) on the bucket, not the hour
    assert 1120 <= now[0] < 1121


def test_an_interactive_call_fails_fast_while_the_account_is_paused() -> None:
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = LocalTokenBucket(5, 5, clock=lambda: now[0], sleep=sleep)
    bucket.penalize("account:9", 250)
    client, adapter = scripted_client(reply(200, {}), rate_limiter=bucket, account_key="account:9")
    with interactive(2.0), pytest.raises(RateLimitPausedError) as info:
        client.ship_order(1, "UPS", "1Z")
    assert str(info.value) == "Reverb asks to wait 250 s: try again then"
    assert info.value.wait == pytest.approx(250)
    assert adapter.sent == [] and slept == []


def test_an_interactive_call_told_to_wait_long_does_not_sleep() -> None:
    sleeps: list[float] = []
    client, adapter = scripted_client(
        reply(429, {}, {"Retry-After": "3600"}), sleep=sleeps.append, max_pause=300
    )
    with interactive(2.0), pytest.raises(RateLimitPausedError) as info:
        client.get_account()
    assert str(info.value).startswith("Reverb asks to wait 300") and sleeps == []
    assert len(adapter.sent) == 1


def test_background_work_still_waits_out_a_short_pause() -> None:
    sleeps: list[float] = []
    client, _ = scripted_client(
        reply(429, {}, {"Retry-After": "3"}), reply(200, {"ok": True}), sleep=sleeps.append
    )
    assert client.get_account() == {"ok": True} and 3 <= sleeps[0] <= 3.25
    client, _ = scripted_client(reply(429, {}, {"Retry-After": "3"}), max_retries=0)
    with pytest.raises(RateLimitedError):
        client.get_account()


def test_an_http_reverb_link_is_followed_on_the_https_api_host_only() -> None:
    """Issue 24: a `http://reverb.com/...` link re-based onto the API host must not keep its plain http (the
    token would cross the network in clear): only its path is ours to follow, on https://api.reverb.com."""
    page1 = {
        "orders": [{"order_number": "1"}],
        "_links": {"next": {"href": "http://reverb.com/api/my/orders/selling/all?page=2&per_page=1"}},
    }
    https = ScriptedAdapter(reply(200, page1), reply(200, {"orders": [{"order_number": "2"}], "_links": {}}))
    plain = ScriptedAdapter(reply(200, {"orders": [], "_links": {}}))
    session = requests.Session()
    session.mount("https://", https)
    session.mount("http://", plain)
    client = make_client(base_url="https://api.reverb.com/api", session=session)
    assert [o["order_number"] for p in client.orders(per_page=1) for o in p.items] == ["1", "2"]
    assert https.sent[1].url == "https://api.reverb.com/api/my/orders/selling/all?page=2&per_page=1"
    assert plain.sent == []  # nothing, and so no token, over plain http
    for href in ("http://reverb.com/api/x", "http://www.reverb.com/api/x?a=1", "https://reverb.com/api/x"):
        assert client.url(href).startswith("https://api.reverb.com/api/x")
    for href in ("http://reverb.com/other/path", "ftp://reverb.com/api/x", "http://api.reverb.com/api/x"):
        with pytest.raises(ForeignLinkError):
            client.url(href)
