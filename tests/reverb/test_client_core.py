"""The client's plumbing against the emulator: headers, errors, retries and backoff, faults, pagination,
foreign links, rate-limit integration."""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from backoffice.reverb.client import ReverbClient, format_when, money_object
from backoffice.reverb.curl import as_curl
from backoffice.reverb.errors import (
    ForbiddenError,
    ForeignLinkError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitedError,
    ReverbError,
    ServerError,
    TransportError,
    UnauthorizedError,
    ValidationError,
)
from backoffice.reverb.ratelimit import LocalTokenBucket, UnlimitedRateLimiter
from emulator.faults import Faults
from tests.conftest import EMULATOR_API_URL, EMULATOR_TOKEN
from tests.factories import new_listing
from tests.reverb.conftest import make_client, recording_client, reply, require, scripted_client


def clear_faults_on_sleep(emulator: Any, sleeps: list[float]):
    """A sleep that records the wait and then heals the emulator: the next attempt succeeds."""

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        emulator.faults = Faults()

    return sleep


# ---- headers, construction -------------------------------------------------------------------------


def test_every_request_carries_reverbs_headers_timeouts_and_a_json_body(emulator: Any) -> None:
    client, recorder = recording_client(currency="EUR", timeout=(2.0, 9.0))
    client.get_account()
    client.update_shop({"description": "Vintage amps"})
    for sent in recorder.sent:
        assert sent.headers["Accept"] == "application/hal+json"
        assert sent.headers["Content-Type"] == "application/hal+json"
        assert sent.headers["Accept-Version"] == "3.0"
        assert sent.headers["Authorization"] == f"Bearer {EMULATOR_TOKEN}"
        assert sent.headers["X-Display-Currency"] == "EUR"
        assert sent.headers["User-Agent"] == "reverb-backoffice/0.1"
    assert all(kw["timeout"] == (2.0, 9.0) for kw in recorder.kwargs)
    assert recorder.sent[1].body == b'{"description": "Vintage amps"}'
    assert client.request_count == 2
    assert client.last_response_headers["Content-Type"].startswith("application/hal+json")


def test_standalone_defaults_share_one_process_budget(emulator: Any) -> None:
    client = ReverbClient(EMULATOR_API_URL, EMULATOR_TOKEN)
    assert (client.per_page, client.timeout, client.max_retries) == (50, (5.0, 30.0), 4)
    assert isinstance(client.rate_limiter, LocalTokenBucket)
    assert client.rate_limiter is ReverbClient(EMULATOR_API_URL, "other").rate_limiter  # one shared budget


@pytest.mark.django_db
def test_the_accounts_client_takes_its_limits_from_settings(emulator: Any, settings: Any) -> None:
    from tests.factories import AccountFactory

    settings.REVERB_PER_PAGE = 7
    settings.REVERB_CONNECT_TIMEOUT, settings.REVERB_READ_TIMEOUT = 1.5, 12.0
    settings.REVERB_MAX_RETRIES = 2
    settings.REVERB_REQUEST_DEADLINE, settings.REVERB_MAX_PAUSE = 9.0, 42.0
    settings.REVERB_RATE_BUDGET = "local"
    settings.REVERB_RATE_PER_SECOND, settings.REVERB_RATE_BURST = 3.0, 4
    account = AccountFactory(api_url=EMULATOR_API_URL, currency="GBP")
    client = account.client()
    assert (client.per_page, client.timeout, client.max_retries) == (7, (1.5, 12.0), 2)
    assert (client.deadline, client.max_pause) == (9.0, 42.0)
    assert (client.rate_limiter.rate, client.rate_limiter.burst) == (3.0, 4)
    assert (client.base_url, client.currency, client.account_key) == (
        EMULATOR_API_URL,
        "GBP",
        f"account:{account.pk}",
    )
    assert account.client(rate_limiter=UnlimitedRateLimiter()).get_account()
    assert account.get_token() not in repr(client)


def test_module_imports_without_django_configured() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = "import backoffice.reverb.client, backoffice.reverb.errors, backoffice.reverb.ratelimit"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=root)


def test_the_network_seam_imports_nothing_from_django_or_the_rest_of_the_project() -> None:
    """The account builds its client and hands it its budget; the client reads no settings or models."""
    root = Path(__file__).resolve().parents[2] / "backoffice" / "reverb"
    for module in ("client", "errors", "ratelimit", "transport", "curl"):
        tree = ast.parse((root / f"{module}.py").read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("django", "backoffice")), f"{module}.py imports {name}"


def test_money_and_dates_are_formatted_for_reverb() -> None:
    assert money_object(Decimal("12.5"), "usd") == {"amount": "12.50", "currency": "USD"}
    assert money_object("5000", "JPY") == {"amount": "5000", "currency": "JPY"}
    plus_two = timezone(timedelta(hours=2))
    assert format_when(datetime(2026, 1, 2, 3, 4, 5, tzinfo=plus_two)) == "2026-01-02T03:04:05+02:00"
    with pytest.raises(ValueError):
        format_when(datetime(2026, 1, 2))


def test_offsets_with_plus_reach_the_server_intact(emulator: Any) -> None:
    """The M1 plugin found a raw '+' decoded as a space; requests sends %2B, which decodes to '+'."""
    client, recorder = recording_client()
    start = datetime(2020, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    list(client.orders(updated_start=start, created_end=datetime(2030, 1, 1, tzinfo=UTC)))
    url = recorder.sent[0].url
    assert "%2B02%3A00" in url and "+" not in url
    assert parse_qs(urlsplit(url).query)["updated_start_date"] == ["2020-01-01T10:00:00+02:00"]


def test_curl_rendering_redacts_the_token() -> None:
    line = as_curl(
        "POST",
        f"{EMULATOR_API_URL}/listings",
        {"Authorization": f"Bearer {EMULATOR_TOKEN}", "Accept-Version": "3.0"},
        b'{"sku": "A"}',
    )
    assert EMULATOR_TOKEN not in line
    assert "'Authorization: Bearer [REDACTED]'" in line and '--data-raw \'{"sku": "A"}\'' in line


# ---- error classes from the emulator ---------------------------------------------------------------


def test_wrong_token_is_unauthorized_and_not_retried(emulator: Any, sleeps: list[float]) -> None:
    client = make_client(token="wrong-token-xyz", sleep=sleeps.append)
    with pytest.raises(UnauthorizedError) as info:
        client.get_account()
    assert info.value.status == 401 and not info.value.retryable
    assert client.request_count == 1 and sleeps == []
    assert "wrong-token-xyz" not in str(info.value) + repr(info.value) + repr(client)


def test_validation_error_has_per_field_errors(client: ReverbClient) -> None:
    require("POST", "/api/listings")
    with pytest.raises(ValidationError) as info:
        client.create_listing({"make": "Fender", "sku": "NOPE-1", "price": money_object("0", "USD")})
    error = info.value
    assert error.status == 412
    fields = error.field_errors()
    assert fields["price"] == ["must be greater than 0"] and "model" in fields and "condition" in fields
    assert str(error).startswith("412 Precondition Failed on POST /api/listings: ")
    assert "price: must be greater than 0" in str(error)
    assert client.request_count == 1  # permanent: no retry


def test_forbidden_when_direct_offers_are_disabled(client: ReverbClient, emulator: Any) -> None:
    require("GET", "/api/listings/{listing_id}/auto_offer")
    emulator.store.direct_offers_enabled = False
    listing_id = next(iter(emulator.store.table("listings")))
    with pytest.raises(ForbiddenError) as info:
        client.get_auto_offer(listing_id)
    assert info.value.message == "You are not authorized to perform this action."
    assert info.value.body["error_type"] is None


def test_not_found_and_method_not_allowed(client: ReverbClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_order("no-such-order")
    with pytest.raises(MethodNotAllowedError) as info:
        client.request("DELETE", "/my/orders/selling/all")
    assert info.value.status == 405


# ---- retries and faults ----------------------------------------------------------------------------


def test_429_honours_retry_after_then_succeeds(emulator: Any) -> None:
    sleeps: list[float] = []
    limiter = SpyLimiter()
    client = make_client(sleep=clear_faults_on_sleep(emulator, sleeps), rate_limiter=limiter)
    emulator.faults = Faults(rate_429=1.0, retry_after=3)
    assert client.get_account()
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 3.25  # Retry-After plus a little jitter
    assert limiter.penalties == [(client.account_key, 3.0)]
    assert client.request_count == 2 and limiter.acquired == 2


def test_429_on_a_post_is_retried_because_nothing_was_applied(emulator: Any) -> None:
    sleeps: list[float] = []
    client = make_client(sleep=clear_faults_on_sleep(emulator, sleeps))
    order = next(o for o in emulator.state("orders")["orders"] if "ship" in o.get("_links", {}))
    emulator.faults = Faults(rate_429=1.0, retry_after=1)
    client.ship_order(order["order_number"], "UPS", "1Z999AA10123456784")
    assert client.request_count == 2 and len(sleeps) == 1
    assert client.get_order(order["order_number"])["status"] == "shipped"


def test_server_errors_are_retried_with_exponential_backoff_then_succeed(emulator: Any) -> None:
    sleeps: list[float] = []
    heal_after = 3

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == heal_after:
            emulator.faults = Faults()

    client = make_client(sleep=sleep, max_retries=4)
    emulator.faults = Faults(rate_5xx=1.0)
    assert client.get_shop()["id"]
    assert client.request_count == heal_after + 1
    assert [s <= min(30.0, 0.5 * 2**i) for i, s in enumerate(sleeps)] == [True] * heal_after


def test_exhausted_retries_raise_the_last_error(
    emulator: Any, client: ReverbClient, sleeps: list[float]
) -> None:
    emulator.faults = Faults(rate_5xx=1.0)
    with pytest.raises(ServerError) as info:
        client.get_account()
    assert info.value.status == 503 and info.value.retryable
    assert client.request_count == client.max_retries + 1 == 4
    assert len(sleeps) == 3


def test_exhausted_429_raises_rate_limited_with_the_wait(
    emulator: Any, client: ReverbClient, sleeps: list[float]
) -> None:
    emulator.faults = Faults(rate_429=1.0, retry_after=2)
    with pytest.raises(RateLimitedError) as info:
        client.get_account()
    assert info.value.retry_after == 2.0
    assert all(2.0 <= s <= 2.25 for s in sleeps) and len(sleeps) == 3


def test_backoff_is_capped(client: ReverbClient) -> None:
    error = ServerError("x", status=500)
    assert all(0 <= client._delay(attempt, error) <= 30.0 for attempt in range(20))


def test_dropped_connection_on_get_is_retried(emulator: Any) -> None:
    sleeps: list[float] = []
    client = make_client(sleep=clear_faults_on_sleep(emulator, sleeps))
    emulator.faults = Faults(rate_drop=1.0)
    assert client.get_account()
    assert client.request_count == 2 and len(sleeps) == 1


def test_dropped_connection_on_post_is_not_retried(
    emulator: Any, client: ReverbClient, sleeps: list[float]
) -> None:
    require("POST", "/api/listings")
    emulator.faults = Faults(rate_drop=1.0)
    with pytest.raises(TransportError) as info:
        client.create_listing(new_listing("DROP-1"))
    assert info.value.maybe_applied and not info.value.retryable
    assert client.request_count == 1 and sleeps == []
    assert "re-read" in str(info.value)


def test_lost_write_response_surfaces_and_the_listing_exists(
    emulator: Any, client: ReverbClient, sleeps: list[float]
) -> None:
    """The create succeeded on Reverb but the answer was lost: the caller re-checks by SKU, and finds
    it, instead of posting a duplicate."""
    require("POST", "/api/listings")
    emulator.faults = Faults(rate_lost_write=1.0)
    with pytest.raises(TransportError) as info:
        client.create_listing(new_listing("LOST-1"))
    assert info.value.maybe_applied
    assert client.request_count == 1 and sleeps == []
    emulator.faults = Faults()
    found = client.find_listing_by_sku("LOST-1")
    assert found is not None and found["sku"] == "LOST-1"


def test_connect_timeout_is_retried_even_for_a_post() -> None:
    client, adapter = scripted_client(requests.ConnectTimeout("no route"), reply(201, {"message": "ok"}))
    assert client.create_listing(new_listing("CT-1")) == {"message": "ok"}
    assert len(adapter.sent) == 2


def test_read_timeout_on_put_is_retried_but_not_on_post() -> None:
    client, adapter = scripted_client(requests.ReadTimeout("slow"), reply(200, {"message": "ok"}))
    assert client.update_listing(1, {"title": "x"}) == {"message": "ok"}
    client, adapter = scripted_client(requests.ReadTimeout("slow"), reply(200, {"message": "ok"}))
    with pytest.raises(TransportError) as info:
        client.ship_order("1", "UPS", "1Z")
    assert info.value.maybe_applied and len(adapter.sent) == 1


def test_500_on_a_post_is_not_retried() -> None:
    client, adapter = scripted_client(reply(500, {"message": "boom"}), reply(200, {}))
    with pytest.raises(ServerError):
        client.reply(1, "hello")
    assert len(adapter.sent) == 1


# ---- rate limiter integration ----------------------------------------------------------------------


class SpyLimiter:
    def __init__(self) -> None:
        self.acquired = 0
        self.penalties: list[tuple[str, float]] = []

    def acquire(self, key: str, cost: int = 1) -> float:
        self.acquired += 1
        return 0.0

    def penalize(self, key: str, seconds: float) -> None:
        self.penalties.append((key, seconds))


def test_client_waits_on_the_bucket_and_a_429_pauses_it(emulator: Any) -> None:
    now = [0.0]
    waits: list[float] = []

    def wait(seconds: float) -> None:  # one fake clock for the client and the bucket
        waits.append(seconds)
        now[0] += seconds

    def backoff(seconds: float) -> None:
        wait(seconds)
        emulator.faults = Faults()

    bucket = LocalTokenBucket(rate_per_second=1, burst=2, clock=lambda: now[0], sleep=wait)
    client = make_client(rate_limiter=bucket, sleep=backoff, account_key="account:1")
    client.get_account()
    client.get_account()
    assert waits == []
    client.get_account()  # the burst is spent: waits a second for a token
    assert waits == [pytest.approx(1.0)]
    emulator.faults = Faults(rate_429=1.0, retry_after=5)
    client.get_shop()  # a token's wait, the 429, Retry-After; then the paused-and-drained bucket refills
    assert waits[1] == pytest.approx(1.0) and 5.0 <= waits[2] <= 5.25
    assert len(waits) == 4 and waits[2] + waits[3] == pytest.approx(6.0)  # pause + one token at 1/s
    assert bucket.available("account:2") == 2  # other accounts untouched


# ---- pagination ------------------------------------------------------------------------------------


def test_pages_follow_next_links_and_collect_every_item_once(emulator: Any, client: ReverbClient) -> None:
    expected = sorted(o["order_number"] for o in emulator.state("orders")["orders"])
    pages = list(client.orders(per_page=2))
    numbers = [o["order_number"] for page in pages for o in page.items]
    assert sorted(numbers) == expected and len(numbers) == len(set(numbers))
    assert len(pages) == math.ceil(len(expected) / 2) == client.request_count
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert all(p.total == len(expected) for p in pages)
    assert "page=2" in pages[1].url and "per_page=2" in pages[1].url


def test_pages_are_lazy(emulator: Any, client: ReverbClient) -> None:
    iterator = client.orders(per_page=2)
    assert client.request_count == 0
    next(iterator)
    assert client.request_count == 1


def test_per_page_defaults_to_the_clients_setting(emulator: Any) -> None:
    client, recorder = recording_client(per_page=3)
    next(client.orders())
    assert "per_page=3" in recorder.sent[0].url


def test_a_next_link_to_another_host_is_refused_before_any_request() -> None:
    page = {
        "total": 4,
        "orders": [{"order_number": "1"}],
        "_links": {"next": {"href": "https://evil.example/api/my/orders/selling/all?page=2"}},
    }
    client, adapter = scripted_client(reply(200, page))
    pages = client.orders()
    assert next(pages).items == [{"order_number": "1"}]
    with pytest.raises(ForeignLinkError) as info:
        next(pages)
    assert len(adapter.sent) == 1
    assert "evil.example" in str(info.value) and EMULATOR_TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "href",
    [
        "https://reverb.test/api/my/orders/selling/all?page=2",  # same host, other scheme
        "http://reverb.test:8080/api/my/orders/selling/all?page=2",  # same host, other port
        "http://reverb.test.evil.example/api/x",
    ],
)
def test_scheme_host_and_port_must_all_match(href: str) -> None:
    client = make_client()
    with pytest.raises(ForeignLinkError):
        client.url(href)


def test_reverb_sibling_hosts_are_rebased_onto_the_api_host() -> None:
    """Reverb's hrefs mix reverb.com and api.reverb.com (API-NOTES 1): follow the path, on our host."""
    page1 = {
        "orders": [{"order_number": "1"}],
        "_links": {"next": {"href": "https://reverb.com/api/my/orders/selling/all?page=2&per_page=1"}},
    }
    adapter_steps = [reply(200, page1), reply(200, {"orders": [{"order_number": "2"}], "_links": {}})]
    from tests.reverb.conftest import ScriptedAdapter

    adapter = ScriptedAdapter(*adapter_steps)
    session = requests.Session()
    session.mount("https://api.reverb.com/", adapter)
    client = make_client(base_url="https://api.reverb.com/api", session=session)
    items = [o["order_number"] for p in client.orders(per_page=1) for o in p.items]
    assert items == ["1", "2"]
    assert adapter.sent[1].url == "https://api.reverb.com/api/my/orders/selling/all?page=2&per_page=1"
    with pytest.raises(ForeignLinkError):
        client.url("https://reverb.com/other/path")


def test_root_relative_hal_hrefs_resolve_on_the_api_base() -> None:
    client = make_client()
    assert client.url("/api/listings/1") == f"{EMULATOR_API_URL}/listings/1"
    assert client.url("/listings/1") == f"{EMULATOR_API_URL}/listings/1"
    assert client.url("my/account") == f"{EMULATOR_API_URL}/my/account"


def test_a_pagination_loop_is_detected() -> None:
    page = {
        "orders": [{"order_number": "1"}],
        "_links": {"next": {"href": f"{EMULATOR_API_URL}/my/orders/selling/all?per_page=5"}},
    }
    client, adapter = scripted_client(reply(200, page))
    with pytest.raises(Exception, match="pagination loop"):
        list(client.orders(per_page=5))
    assert len(adapter.sent) == 1


def test_empty_bodies_come_back_as_none() -> None:
    client, _ = scripted_client(reply(200, None))
    assert client.request("DELETE", "/listings/1") is None


def test_redirects_are_not_followed() -> None:
    client, adapter = scripted_client(reply(302, None, {"Location": "https://elsewhere.example/api/x"}))
    with pytest.raises(ReverbError, match="unexpected redirect to https://elsewhere.example"):
        client.get_account()
    assert len(adapter.sent) == 1


def test_get_and_items_helpers(emulator: Any, client: ReverbClient) -> None:
    envelope = client.get("/my/orders/selling/all", per_page=1)
    assert envelope["per_page"] == 1 and len(envelope["orders"]) == 1
    numbers = [o["order_number"] for o in client.items("/my/orders/selling/all", key="orders", per_page=4)]
    assert len(numbers) == len(emulator.store.table("orders")) == len(set(numbers))
    assert client.paginate == client.pages  # DESIGN.md 3 says client.paginate
