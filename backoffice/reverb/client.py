"""ReverbClient: the only code that talks HTTP to Reverb (DESIGN.md 1 and 5).

One client per account: a keep-alive session, Reverb's headers, explicit timeouts, typed errors,
bounded retries, a shared rate budget, HAL pagination that never follows a link off the account's
API host, and one method per call the product makes. Facts come from shared/reverb/API-NOTES.md.

Retry policy (why POST is special): GET, PUT and DELETE are idempotent, so any retryable failure is
retried with exponential backoff and full jitter. A POST that timed out or lost its connection may
have been applied (a listing created, an order shipped), so it is never retried: the TransportError
says `maybe_applied` and the caller re-reads (a listing create looks the SKU up). A POST answered 429
or 503 was refused before any work was done, so retrying it cannot apply it twice. A POST that only
failed to *connect* never reached the server and is retried too.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
import requests
import urllib3
from urllib3.util import parse_url

from .errors import (
    DuplicateSkuError,
    ForeignLinkError,
    RateLimitedError,
    RateLimitPausedError,
    ReverbError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    error_for_status,
)
from .ratelimit import RateLimiter, current_deadline, current_patience, default_rate_limiter, paused_for
from .transport import new_session

log = logging.getLogger(__name__)

USER_AGENT = "reverb-backoffice/0.1"
CONTENT_TYPE = "application/hal+json"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
RETRY_AFTER_JITTER = 0.25  # spread clients that were all told the same Retry-After
DEFAULT_PER_PAGE = 50
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read between two bytes)
DEFAULT_MAX_RETRIES = 4
DEFAULT_DEADLINE = 60.0  # seconds for one whole request, body included (a trickling server cannot hold us)
DEFAULT_MAX_PAUSE = 300.0  # a Retry-After longer than this pauses the account only this long
BODY_CHUNK = 64 * 1024
MASK = "[REDACTED]"
SALE_CHUNK = 25  # POST/DELETE /sales/{id}/listings take at most 25 ids (API-NOTES 10.4)

ORDER_KINDS = ("all", "awaiting_shipment", "unpaid")
END_REASONS = ("not_sold", "reverb_sale")
REFUND_RESPONSES = ("approved", "conditionally_approved", "denied")
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})
# Reverb's link hrefs mix api.reverb.com and reverb.com (API-NOTES 1). A link to one of these is
# re-based onto the account's own API origin, its https included (same path), so the token still goes
# only there.
SIBLING_HOSTS = {"api.reverb.com": frozenset({"reverb.com", "www.reverb.com"})}

Params = Mapping[str, Any] | None
When = datetime | date | str | None


@dataclass
class Page:
    items: list[dict[str, Any]]
    data: dict[str, Any] = field(repr=False)
    url: str
    number: int
    total: int | None


def money_object(amount: Decimal | str | int | float, currency: str) -> dict[str, str]:
    """A request Money object: {"amount": "12.50", "currency": "USD"} (API-NOTES 1)."""
    value = Decimal(str(amount))
    places = "1" if currency.upper() in ZERO_DECIMAL_CURRENCIES else "0.01"
    return {"amount": str(value.quantize(Decimal(places))), "currency": currency.upper()}


def _offer_body(
    price: Decimal | str, currency: str, shipping_price: Decimal | str | None, message: str | None
) -> dict[str, Any]:
    """A seller's offer: a counter's body, and an offer in a conversation's (API-NOTES 9, 10.1)."""
    body: dict[str, Any] = {"price": money_object(price, currency)}
    if shipping_price is not None:
        body["shipping_price"] = money_object(shipping_price, currency)
    if message:
        body["message"] = message
    return body


def format_when(value: When) -> str | None:
    """ISO 8601 with an offset. requests percent-encodes '+' in params (%2B), so '+02:00' survives the
    query string; the M1 plugin, building URLs by hand, had to rewrite '+' to '-' (API-NOTES 1)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a timezone-aware datetime is required (Reverb reads offsets)")
        return value.isoformat(timespec="seconds")
    return value.isoformat()


class BearerToken:
    """The account's token. Its repr and str are redacted, so it shows in no traceback, log or error
    page (Django's DEBUG page prints every frame's locals); only `reveal()`, building the header,
    unwraps it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | BearerToken) -> None:
        self._value = value.reveal() if isinstance(value, BearerToken) else str(value)

    def reveal(self) -> str:
        return self._value

    def mask(self, text: str) -> str:
        """`text` with the token, as is, stripped or repr-escaped (as exception messages quote it), masked."""
        for form in {self._value, self._value.strip(), repr(self._value)[1:-1]}:
            if len(form) >= 4 and form in text:
                text = text.replace(form, MASK)
        return text

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"BearerToken({MASK!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into a task payload or cache in clear
        raise TypeError("a BearerToken is not serialisable")


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) as urllib3, which opens the connection, reads the URL: a check made with
    another parser can be fooled (a backslash before '@' is a path to urllib3, user-info to urlsplit)."""
    parts = parse_url(url)
    scheme = (parts.scheme or "").lower()
    return scheme, (parts.host or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return format_when(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ReverbClient:
    """Knows nothing of Django: the account (`ReverbAccount.client()`) builds it from the settings and
    hands it the account's shared rate budget; standalone, it uses the defaults above."""

    def __init__(
        self,
        base_url: str,
        token: str | BearerToken,
        *,
        currency: str = "USD",
        per_page: int | None = None,
        timeout: tuple[float, float] | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        max_pause: float | None = None,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        account_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = BearerToken(token)
        del token
        self.currency = currency
        self.per_page = int(per_page or DEFAULT_PER_PAGE)
        self.timeout = tuple(timeout or DEFAULT_TIMEOUT)
        self.max_retries = int(DEFAULT_MAX_RETRIES if max_retries is None else max_retries)
        self.deadline = float(deadline or DEFAULT_DEADLINE)
        self.max_pause = float(DEFAULT_MAX_PAUSE if max_pause is None else max_pause)
        self.rate_limiter = rate_limiter or default_rate_limiter()
        self.sleep = sleep
        self.session = session or new_session()
        self.account_key = account_key or self.base_url
        self.request_count = 0
        self.last_response_headers: dict[str, str] = {}
        # Called with (method, full url, body bytes) before every send, retries included.
        self.send_hooks: list[Callable[[str, str, bytes | None], None]] = []
        self._origin = _origin(self.base_url)
        self._base_path = urlsplit(self.base_url).path.rstrip("/")

    def __repr__(self) -> str:  # never the token
        return f"<ReverbClient {self.base_url} key={self.account_key!r} currency={self.currency}>"

    # ---- plumbing ------------------------------------------------------------------------------------
    @property
    def headers(self) -> dict[str, str]:
        return {
            "Accept": CONTENT_TYPE,
            "Content-Type": CONTENT_TYPE,
            "Accept-Version": "3.0",
            "Authorization": f"Bearer {self._token.reveal()}",
            "X-Display-Currency": self.currency,
            "User-Agent": USER_AGENT,
        }

    def paused_for(self) -> float:
        """Seconds this account's budget is still paused after a 429 (0 when it is not)."""
        return paused_for(self.rate_limiter, self.account_key)

    def url(self, path_or_url: str) -> str:
        """An absolute URL on the account's API host. Absolute links elsewhere raise ForeignLinkError,
        and so does any link with user-info or a backslash (parsers disagree on where its host is)."""
        if "\\" in path_or_url or any(ord(c) < 32 or ord(c) == 127 for c in path_or_url):
            raise ForeignLinkError(
                "refusing a link with a backslash or a control character: parsers disagree on its host",
                url=_printable(path_or_url),
            )
        if "://" not in path_or_url:
            path = "/" + path_or_url.lstrip("/")
            if self._base_path and (path == self._base_path or path.startswith(self._base_path + "/")):
                path = path[len(self._base_path) :]  # a root-relative HAL href such as /api/listings/1
            return self.base_url + path
        parts = urlsplit(path_or_url)
        try:
            parsed = parse_url(path_or_url)
        except ValueError:
            parsed = None
        if parsed is None or parsed.auth is not None or "@" in parts.netloc:
            raise ForeignLinkError(
                "refusing a link with user-info: not the account's API host", url=_printable(path_or_url)
            )
        scheme, host, port = _origin(path_or_url)
        if (scheme, host, port) == self._origin and urlsplit(path_or_url).hostname == host:
            return path_or_url
        base_scheme, base_host, _ = self._origin
        if (
            base_scheme == "https"
            and scheme in ("http", "https")
            and host in SIBLING_HOSTS.get(base_host, ())
            and (parts.path + "/").startswith(self._base_path + "/")
        ):
            # Only the path and query are the link's: scheme and host are the account's own, so an
            # http://reverb.com link goes to https://api.reverb.com, never over plain http with the token.
            base = urlsplit(self.base_url)
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        raise ForeignLinkError(
            f"refusing to send the token to {scheme}://{parts.netloc}: "
            f"not the account's API host {urlsplit(self.base_url).netloc}",
            url=f"{scheme}://{parts.netloc}{parts.path}",
        )

    def request(self, method: str, path_or_url: str, *, params: Params = None, json: Any = None) -> Any:
        """Send one call (with retries) and return the parsed JSON, or None for an empty body."""
        return self._request(method, path_or_url, params=params, json=json)[0]

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def _request(
        self, method: str, path_or_url: str, *, params: Params = None, json: Any = None
    ) -> tuple[Any, str]:
        method = method.upper()
        url = self.url(path_or_url)
        query = _clean_params(params)
        data = None if json is None else jsonlib.dumps(json, default=_json_default).encode()
        attempt = 0
        # A person waiting (ratelimit.interactive) gives the whole call, retries included, a short deadline.
        person = current_deadline()
        ends = None if person is None else time.monotonic() + person
        while True:
            try:
                return self._send_once(method, url, query, data, ends)
            except ReverbError as error:
                self._scrub(error)
                if not self._may_retry(method, error, attempt):
                    raise
                patience = current_patience()
                if patience is not None and isinstance(error, RateLimitedError):
                    wait = self._pause(error)
                    if wait > patience:  # someone is waiting: say so, do not sleep
                        raise RateLimitPausedError(wait) from None
                delay = self._delay(attempt, error)
                if ends is not None and time.monotonic() + delay >= ends:
                    raise  # no time left for another attempt within the person's deadline
                log.info(
                    "reverb %s %s failed (%s); retry %d in %.2fs",
                    method,
                    error.url or url,
                    type(error).__name__,
                    attempt + 1,
                    delay,
                )
                self.sleep(delay)
                attempt += 1

    def _send_once(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]] | None,
        data: bytes | None,
        ends: float | None = None,
    ) -> tuple[Any, str]:
        """One attempt; `ends` (a monotonic time) cuts it shorter than the client's own deadline."""
        self._take_turn(method, url, query, data)
        response, content, started = self._exchange(method, url, query, data, ends)
        self.last_response_headers = dict(response.headers)
        log.debug(
            "reverb %s %s -> %s in %.0f ms",
            method,
            response.url,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return self._answer(method, url, response, content)

    def _take_turn(
        self, method: str, url: str, query: list[tuple[str, str]] | None, data: bytes | None
    ) -> None:
        """Wait for the account's rate budget (or refuse at once when a waiting person would wait too long),
        then count the request and tell the send hooks."""
        patience = current_patience()
        if patience is not None:  # interactive: fail fast rather than wait out a long pause
            paused = self.paused_for()
            if paused > patience:
                raise RateLimitPausedError(paused)
        self.rate_limiter.acquire(self.account_key)
        self.request_count += 1
        for hook in self.send_hooks:  # e.g. the audit trail: what exactly went out, even if it is lost
            hook(method, url if not query else f"{url}?{urlencode(query)}", data)

    def _exchange(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]] | None,
        data: bytes | None,
        ends: float | None,
    ) -> tuple[requests.Response, bytes, float]:
        """Send the request and read its whole body within the deadline: (response, body, when it started).
        What goes wrong on the way is a typed, token-free ReverbError."""
        started = time.monotonic()
        deadline = started + self.deadline if ends is None else min(started + self.deadline, ends)
        allowed = max(deadline - started, 0.001)
        # The deadline named to whoever reads the error: the worker's, or the person's for the whole call.
        named = self.deadline if deadline == started + self.deadline else (current_deadline() or allowed)
        connect, read = self.timeout
        failure: ReverbError | None = None
        try:  # the token is only ever in requests' own frames, whose exceptions never leave this block
            response = self.session.request(
                method,
                url,
                params=query,
                data=data,
                headers=self.headers,
                timeout=(min(connect, allowed), min(read, allowed)),
                allow_redirects=False,
                stream=True,
            )
            content = _read_body(response, deadline)
        except _DeadlineExceeded:
            failure = self._transport_error(
                method, url, f"no complete answer within {named:g} s", connected=True
            )
        except requests.ConnectTimeout as exc:  # never reached the server: safe to retry, even a POST
            failure = TransportError(
                f"connect timeout: {exc.__class__.__name__}", method=method, url=url, retryable=True
            )
        except (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.TimeoutError,
            urllib3.exceptions.ProtocolError,
        ) as exc:
            timed_out = isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError)
            kind = "timeout" if timed_out else "connection lost"
            failure = self._transport_error(method, url, f"{kind}: {exc.__class__.__name__}", connected=True)
        except Exception as exc:  # anything else from the HTTP stack: typed, masked, without its frames
            failure = ReverbError(self._token.mask(f"{type(exc).__name__}: {exc}"), method=method, url=url)
        if failure is not None:
            raise failure from None
        return response, content, started

    def _answer(self, method: str, url: str, response: requests.Response, content: bytes) -> tuple[Any, str]:
        """(parsed body, the URL that answered) of a 2xx (or 304) JSON answer; otherwise the error it means
        (a 429 also pauses the account's budget)."""
        body = _parse_body(content, response)
        where = response.url or url
        if 300 <= response.status_code < 400 and response.status_code != 304:
            # Redirects are not followed: the Location could be another host, and the token goes only
            # to the account's API host. Reverb documents none for the API.
            error: ReverbError = ReverbError(
                f"unexpected redirect to {response.headers.get('Location', '?')}",
                status=response.status_code,
                method=method,
                url=where,
                body=body,
            )
        elif response.status_code >= 400:
            error = error_for_status(
                response.status_code, body, method=method, url=where, headers=response.headers
            )
            if isinstance(error, RateLimitedError):
                self.rate_limiter.penalize(self.account_key, self._pause(error))
        elif isinstance(body, _NotJson):
            error = UnexpectedResponseError(
                f"Reverb answered {response.status_code} with a body that is not JSON "
                f"({response.headers.get('Content-Type') or 'no Content-Type'}): {body.text[:200]!r}",
                status=response.status_code,
                method=method,
                url=where,
                body=body.text,
            )
        else:
            return body, where
        raise self._scrub(error)

    def _transport_error(self, method: str, url: str, what: str, *, connected: bool) -> TransportError:
        idempotent = method in IDEMPOTENT_METHODS
        outcome = "" if idempotent else " (the write may have been applied: re-read before retrying)"
        return TransportError(
            f"{what}{outcome}",
            method=method,
            url=url,
            retryable=idempotent,
            maybe_applied=connected and not idempotent,
        )

    def _pause(self, error: RateLimitedError) -> float:
        """How long a 429 pauses the account: what Reverb asked, at most `max_pause`."""
        return min(error.retry_after if error.retry_after is not None else BACKOFF_BASE, self.max_pause)

    def _scrub(self, error: ReverbError) -> ReverbError:
        """Should a server ever echo the token, it still reaches no message, body, field error or URL."""
        if self._token:
            error.message = self._token.mask(error.message)
            error.args = (error.message,)
            error.body = _masked(error.body, self._token)
            error.errors = _masked(error.errors, self._token)
            error.url = _masked(error.url, self._token)
        return error

    def _may_retry(self, method: str, error: ReverbError, attempt: int) -> bool:
        if not error.retryable or attempt >= self.max_retries:
            return False
        if method in IDEMPOTENT_METHODS:
            return True
        # A POST is retried only when the server certainly did nothing: it answered 429 or 503, or the
        # connection was never made (TransportError with maybe_applied False).
        if isinstance(error, TransportError):
            return not error.maybe_applied
        return isinstance(error, RateLimitedError) or (isinstance(error, ServerError) and error.status == 503)

    def _delay(self, attempt: int, error: ReverbError) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return self._pause(error) + random.uniform(0, RETRY_AFTER_JITTER)
        return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))  # full jitter

    def pages(
        self, path: str, params: Params = None, *, key: str, per_page: int | None = None
    ) -> Iterator[Page]:
        """Yield page after page by following `_links.next` until it is absent (API-NOTES 3).
        Only the current page is held; a next link off the API host raises ForeignLinkError."""
        query: dict[str, Any] | None = {**(params or {}), "per_page": per_page or self.per_page}
        return self._walk(path, query, key=key)

    def continue_pages(self, href: str, *, key: str) -> Iterator[Page]:
        """Go on with a walk at a `_links.next` href an earlier walk kept (it carries every parameter):
        how a walk cut into several tasks resumes."""
        return self._walk(href, None, key=key)

    def _walk(self, path: str, query: dict[str, Any] | None, *, key: str) -> Iterator[Page]:
        target: str | None = path
        seen: set[str] = set()
        number = 0
        while target:
            data, url = self._request("GET", target, params=query)
            data = data or {}
            if not isinstance(data, dict):
                raise UnexpectedResponseError(
                    f"a page of {path} is a JSON {type(data).__name__}, not an object", method="GET", url=url
                )
            number += 1
            total = data.get("total")
            yield Page(
                items=list(data.get(key) or []),
                data=data,
                url=url,
                number=number,
                total=int(total) if total is not None else None,
            )
            seen.add(url)
            target = ((data.get("_links") or {}).get("next") or {}).get("href")
            query = None  # the next href already carries every parameter
            if target and self.url(target) in seen:
                raise ReverbError(f"pagination loop: next link {target} was already fetched", url=target)

    def items(
        self, path: str, params: Params = None, *, key: str, per_page: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of every page, one page in memory at a time."""
        for page in self.pages(path, params, key=key, per_page=per_page):
            yield from page.items

    paginate = pages  # DESIGN.md 3 calls it `client.paginate`

    # ---- account and shop ----------------------------------------------------------------------------
    def get_account(self) -> dict[str, Any]:
        return self.request("GET", "/my/account")

    def get_shop(self) -> dict[str, Any]:
        return self.request("GET", "/shop")

    def update_shop(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PUT", "/shop", json=dict(data))

    def get_vacation(self) -> dict[str, Any]:
        return self.request("GET", "/shop/vacation")

    def set_vacation(self, on: bool) -> Any:
        # POST with no body at all enables it (EDOS: not even []); DELETE disables (API-NOTES 10.6).
        return self.request("POST" if on else "DELETE", "/shop/vacation")

    def shipping_providers(self) -> Any:
        return self.request("GET", "/shipping/providers")

    # ---- listings ------------------------------------------------------------------------------------
    def my_listings(
        self,
        state: str = "all",
        sku: str | None = None,
        query: str | None = None,
        per_page: int | None = None,
    ) -> Iterator[Page]:
        return self.pages(
            "/my/listings", {"state": state, "sku": sku, "query": query}, key="listings", per_page=per_page
        )

    def find_listing_by_sku(self, sku: str) -> dict[str, Any] | None:
        """The one listing (any state) with exactly this SKU, None if none; the lookup before any create,
        as Reverb's own plugins do it (API-NOTES 14.1)."""
        if not sku:
            raise ValueError("a SKU is required")
        matches = [
            row
            for page in self.my_listings(state="all", sku=sku)
            for row in page.items
            if str(row.get("sku") or "") == sku
        ]
        if len(matches) > 1:
            raise DuplicateSkuError(sku, [row.get("id") for row in matches])
        return matches[0] if matches else None

    def drafts(self, per_page: int | None = None) -> Iterator[Page]:
        return self.pages("/my/listings/drafts", key="listings", per_page=per_page)

    def get_listing(self, listing_id: int | str) -> dict[str, Any]:
        """The public listing shape, even for the owner: no sku, slug, shipping_profile_id, updated_at
        (API-NOTES 16.1.1). Use `seller_listing` when the seller fields are needed."""
        return self.request("GET", f"/listings/{listing_id}")

    def seller_listing(self, listing_id: int | str, sku: str = "") -> dict[str, Any]:
        """The listing as the seller's own collection has it (`/my/listings?sku=...&state=all`, seller
        fields included) when its SKU is known and still names this listing; otherwise the public
        `GET /listings/{id}` (the caller must then treat the absent seller keys as not told)."""
        if sku:
            for page in self.my_listings(state="all", sku=sku):
                for row in page.items:
                    if str(row.get("id")) == str(listing_id):
                        return row
        return self.get_listing(listing_id)

    def create_listing(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """POST /listings; returns the write envelope {"message", "listing", "warnings"?}. Never retried
        after a timeout: on TransportError(maybe_applied=True) call find_listing_by_sku first."""
        return self.request("POST", "/listings", json=dict(data))

    def update_listing(self, listing_id: int | str, data: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/listings/{listing_id}", json=dict(data))

    def publish_listing(self, listing_id: int | str) -> dict[str, Any]:
        return self.update_listing(listing_id, {"publish": True})

    def end_listing(self, listing_id: int | str, reason: str) -> Any:
        if reason not in END_REASONS:
            raise ValueError(f"reason must be one of {', '.join(END_REASONS)}, not {reason!r}")
        return self.request("PUT", f"/my/listings/{listing_id}/state/end", json={"reason": reason})

    def delete_draft(self, listing_id: int | str) -> Any:
        return self.request("DELETE", f"/listings/{listing_id}")

    def listing_images(self, listing_id: int | str) -> list[dict[str, Any]]:
        return (self.request("GET", f"/listings/{listing_id}/images") or {}).get("images", [])

    def delete_image(self, listing_id: int | str, image_id: int | str) -> Any:
        return self.request("DELETE", f"/listings/{listing_id}/images/{image_id}")

    def reorder_images(self, listing_id: int | str, photo_urls: Iterable[str]) -> dict[str, Any]:
        # The original URLs, in the new order; override_position reorders instead of appending.
        return self.update_listing(
            listing_id, {"photos": list(photo_urls), "photo_upload_method": "override_position"}
        )

    def get_bump(self, listing_id: int | str) -> dict[str, Any]:
        return self.request("GET", f"/listings/{listing_id}/bump")

    def set_bump(self, listing_ids: Iterable[int | str], bid: Decimal | float | str) -> Any:
        return self.request("PUT", "/bump/v2/bids", json={"products": list(listing_ids), "bid": float(bid)})

    def remove_bump(self, listing_ids: Iterable[int | str]) -> Any:
        return self.request("DELETE", "/bump/v2/bids", json={"products": list(listing_ids)})

    def seller_sales(self) -> Any:
        return self.request("GET", "/sales/seller")

    def reverb_sales(self) -> Any:
        return self.request("GET", "/sales/reverb")

    def listing_sales(self, listing_id: int | str) -> Any:
        return self.request("GET", f"/listings/{listing_id}/sales")

    def add_to_sale(self, sale_id: int | str, listing_ids: Iterable[int | str]) -> list[dict[str, Any]]:
        return self._sale_listings("POST", sale_id, listing_ids)

    def remove_from_sale(self, sale_id: int | str, listing_ids: Iterable[int | str]) -> list[dict[str, Any]]:
        return self._sale_listings("DELETE", sale_id, listing_ids)

    def _sale_listings(
        self, method: str, sale_id: int | str, listing_ids: Iterable[int | str]
    ) -> list[dict[str, Any]]:
        ids = list(listing_ids)
        results: list[dict[str, Any]] = []
        for start in range(0, len(ids), SALE_CHUNK):
            answer = self.request(
                method, f"/sales/{sale_id}/listings", json={"listing_ids": ids[start : start + SALE_CHUNK]}
            )
            results.extend((answer or {}).get("results") or [])
        return results

    def get_auto_offer(self, listing_id: int | str) -> dict[str, Any]:
        return self.request("GET", f"/listings/{listing_id}/auto_offer")

    def set_auto_offer(self, listing_id: int | str, percentage: int) -> Any:
        return self.request(
            "POST", f"/listings/{listing_id}/auto_offer", json={"offer_percentage": int(percentage)}
        )

    def delete_auto_offer(self, listing_id: int | str) -> Any:
        return self.request("DELETE", f"/listings/{listing_id}/auto_offer")

    def conditions(self) -> list[dict[str, Any]]:
        return (self.request("GET", "/listing_conditions") or {}).get("conditions", [])

    def categories(self) -> list[dict[str, Any]]:
        return (self.request("GET", "/categories") or {}).get("categories", [])

    def categories_flat(self) -> list[dict[str, Any]]:
        return (self.request("GET", "/categories/flat") or {}).get("categories", [])

    def shipping_regions(self) -> list[dict[str, Any]]:
        return (self.request("GET", "/shipping/regions") or {}).get("shipping_regions", [])

    def shipping_profiles(self, shop_id: int | str | None = None) -> list[dict[str, Any]]:
        if shop_id is None:
            shop_id = self.get_shop()["id"]
        return (self.request("GET", f"/shops/{shop_id}/shipping_profiles") or {}).get("shipping_profiles", [])

    # ---- orders and payments -------------------------------------------------------------------------
    def orders(
        self,
        kind: str = "all",
        created_start: When = None,
        created_end: When = None,
        updated_start: When = None,
        updated_end: When = None,
        per_page: int | None = None,
    ) -> Iterator[Page]:
        if kind not in ORDER_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ORDER_KINDS)}, not {kind!r}")
        return self.pages(
            f"/my/orders/selling/{kind}",
            _dates(created_start, created_end, updated_start, updated_end),
            key="orders",
            per_page=per_page,
        )

    def get_order(self, order_number: int | str) -> dict[str, Any]:
        return self.request("GET", f"/my/orders/selling/{order_number}")

    def ship_order(
        self, order_number: int | str, provider: str, tracking_number: str, send_notification: bool = True
    ) -> Any:
        return self.request(
            "POST",
            f"/my/orders/selling/{order_number}/ship",
            json={
                "provider": provider,
                "tracking_number": tracking_number,
                "send_notification": bool(send_notification),
            },
        )

    def mark_picked_up(self, order_number: int | str, date: When = None) -> Any:
        body = {"date": format_when(date)} if date is not None else {}
        return self.request("POST", f"/my/orders/selling/{order_number}/mark_picked_up", json=body)

    def payments(
        self,
        order_id: int | str | None = None,
        created_start: When = None,
        created_end: When = None,
        updated_start: When = None,
        updated_end: When = None,
        per_page: int | None = None,
    ) -> Iterator[Page]:
        params = {"order_id": order_id, **_dates(created_start, created_end, updated_start, updated_end)}
        return self.pages("/my/payments/selling", params, key="payments", per_page=per_page)

    def get_payment(self, payment_id: int | str) -> dict[str, Any]:
        return self.request("GET", f"/my/payments/selling/{payment_id}")

    # ---- feedback ------------------------------------------------------------------------------------
    def feedback_received(self, per_page: int | None = None) -> Iterator[Page]:
        return self.pages("/my/feedback/received", key="feedback", per_page=per_page)

    def feedback_sent(self, per_page: int | None = None) -> Iterator[Page]:
        return self.pages("/my/feedback/sent", key="feedback", per_page=per_page)

    def leave_buyer_feedback(self, order_number: int | str, rating: int, message: str) -> Any:
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValueError(f"rating must be an integer from 1 to 5, not {rating!r}")
        return self.request(
            "POST", f"/orders/{order_number}/feedback/buyer", json={"rating": rating, "message": message}
        )

    def get_buyer_feedback(self, order_number: int | str) -> Any:
        return self.request("GET", f"/orders/{order_number}/feedback/buyer")

    def get_seller_feedback(self, order_number: int | str) -> Any:
        return self.request("GET", f"/orders/{order_number}/feedback/seller")

    # ---- refunds -------------------------------------------------------------------------------------
    def refund_requests(
        self,
        state: str | Iterable[str] | None = None,
        order_number: int | str | None = None,
        created_start: When = None,
        created_end: When = None,
        updated_start: When = None,
        updated_end: When = None,
        per_page: int | None = None,
    ) -> Iterator[Page]:
        params: dict[str, Any] = {
            "order_number": order_number,
            **_dates(created_start, created_end, updated_start, updated_end),
        }
        if isinstance(state, str):
            params["state"] = state
        elif state is not None:
            params["state[]"] = list(state)  # Rails-style list (API-NOTES 1)
        return self.pages("/my/refund_requests/selling", params, key="refund_requests", per_page=per_page)

    def get_refund_request(self, refund_request_id: int | str) -> dict[str, Any]:
        return self.request("GET", f"/my/refund_requests/selling/{refund_request_id}")

    def respond_to_refund(
        self,
        refund_request_id: int | str,
        state: str,
        amount: Decimal | str | None = None,
        currency: str | None = None,
        note_to_buyer: str | None = None,
    ) -> Any:
        if state not in REFUND_RESPONSES:
            raise ValueError(f"state must be one of {', '.join(REFUND_RESPONSES)}, not {state!r}")
        body: dict[str, Any] = {"state": state}
        if amount is not None:
            body["refund_amount"] = money_object(amount, currency or self.currency)
        if note_to_buyer:
            body["note_to_buyer"] = note_to_buyer
        return self.request("PUT", f"/my/refund_requests/selling/{refund_request_id}", json=body)

    def request_refund(
        self,
        order_number: int | str,
        reason: str,
        amount: Decimal | str,
        currency: str,
        state: str = "approved",
    ) -> Any:
        """Seller-initiated refund; the currency must be the shop's own (API-NOTES 8)."""
        return self.request(
            "POST",
            f"/my/orders/selling/{order_number}/refund_requests",
            json={"state": state, "reason": reason, "refund_amount": money_object(amount, currency)},
        )

    # ---- negotiations (offers) -----------------------------------------------------------------------
    def negotiations(self, per_page: int | None = None) -> Iterator[Page]:
        """Rows are listings with a nested `negotiations` array, under `listings` (API-NOTES 10.1)."""
        return self.pages("/my/listings/negotiations", key="listings", per_page=per_page)

    def get_negotiation(self, negotiation_id: int | str) -> dict[str, Any]:
        return self.request("GET", f"/my/negotiations/{negotiation_id}")

    def accept_offer(self, negotiation_id: int | str, message: str | None = None) -> Any:
        return self.request(
            "POST", f"/my/negotiations/{negotiation_id}/accept", json={"message": message} if message else {}
        )

    def decline_offer(self, negotiation_id: int | str) -> Any:
        return self.request("POST", f"/my/negotiations/{negotiation_id}/decline", json={})

    def counter_offer(
        self,
        negotiation_id: int | str,
        price: Decimal | str,
        currency: str,
        shipping_price: Decimal | str | None = None,
        message: str | None = None,
    ) -> Any:
        body = _offer_body(price, currency, shipping_price, message)
        return self.request("POST", f"/my/negotiations/{negotiation_id}/counter", json=body)

    def conversation_offer(
        self,
        conversation_id: int | str,
        price: Decimal | str,
        currency: str,
        shipping_price: Decimal | str | None = None,
        message: str | None = None,
    ) -> Any:
        """An offer to the buyer inside a conversation about a listing: "same body as negotiation
        counter" (API-NOTES 9). Reverb's answer is undocumented (the emulator's: the new negotiation)."""
        body = _offer_body(price, currency, shipping_price, message)
        return self.request("POST", f"/conversations/{conversation_id}/offer", json=body)

    # ---- conversations -------------------------------------------------------------------------------
    def conversations(
        self, unread_only: bool = False, search: str | None = None, per_page: int | None = None
    ) -> Iterator[Page]:
        params = {"unread_only": "true" if unread_only else None, "search": search}
        return self.pages("/my/conversations", params, key="conversations", per_page=per_page)

    def get_conversation(self, conversation_id: int | str) -> dict[str, Any]:
        return self.request("GET", f"/my/conversations/{conversation_id}")

    def mark_conversation_read(self, conversation_id: int | str, read: bool = True) -> Any:
        return self.request("PUT", f"/my/conversations/{conversation_id}", json={"read": bool(read)})

    def reply(self, conversation_id: int | str, body: str) -> Any:
        return self.request("POST", f"/my/conversations/{conversation_id}/messages", json={"body": body})

    def start_conversation(
        self, body: str, *, listing_id: int | str | None = None, recipient_id: int | str | None = None
    ) -> Any:
        """The seller writes first (API-NOTES 9): `{body, listing_id?, recipient_id?}`."""
        data: dict[str, Any] = {"body": body}
        if listing_id:
            data["listing_id"] = str(listing_id)
        if recipient_id:
            data["recipient_id"] = str(recipient_id)
        return self.request("POST", "/my/conversations", json=data)

    # ---- payouts -------------------------------------------------------------------------------------
    def payouts(
        self, created_start: When = None, created_end: When = None, per_page: int | None = None
    ) -> Iterator[Page]:
        return self.pages("/my/payouts", _dates(created_start, created_end), key="payouts", per_page=per_page)

    def payout_line_items(self, payout_id_or_href: int | str, per_page: int | None = None) -> Iterator[Page]:
        """Takes the payout's `_links.line_items.href` (documented payouts carry no `id`) or an id."""
        target = str(payout_id_or_href)
        if "/" not in target:
            target = f"/my/payouts/{target}/line_items"
        return self.pages(target, key="line_items", per_page=per_page)

    # ---- webhooks ------------------------------------------------------------------------------------
    def webhook_registrations(self) -> list[dict[str, Any]]:
        data = self.request("GET", "/webhooks/registrations") or {}
        if isinstance(data, list):
            return data
        return data.get("registrations") or data.get("webhooks") or []  # root key unconfirmed (API-NOTES 12)

    def register_webhook(self, url: str, topic: str) -> dict[str, Any]:
        return self.request("POST", "/webhooks/registrations", json={"url": url, "topic": topic})

    def delete_webhook(self, registration_id: int | str) -> Any:
        return self.request("DELETE", f"/webhooks/registrations/{registration_id}")


def _dates(
    created_start: When = None, created_end: When = None, updated_start: When = None, updated_end: When = None
) -> dict[str, str | None]:
    return {
        "created_start_date": format_when(created_start),
        "created_end_date": format_when(created_end),
        "updated_start_date": format_when(updated_start),
        "updated_end_date": format_when(updated_end),
    }


def _clean_params(params: Params) -> list[tuple[str, str]] | None:
    """Drop None values; booleans as true/false; lists repeat the key (name[]=a&name[]=b)."""
    if not params:
        return None
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, datetime | date):
                item = format_when(item)
            pairs.append((key, str(item)))
    return pairs or None


class _DeadlineExceeded(Exception):
    pass


@dataclass
class _NotJson:
    text: str


def _read_body(response: requests.Response, deadline: float) -> bytes:
    """The whole body, read chunk by chunk as it arrives, given up at `deadline` (a monotonic time):
    the read timeout bounds the wait for each byte, this bounds the whole answer."""
    raw = response.raw
    if raw is None or not hasattr(raw, "read1"):  # an in-process adapter: the body is already there
        return response.content or b""
    chunks: list[bytes] = []
    try:
        while True:
            if time.monotonic() > deadline:
                raise _DeadlineExceeded
            chunk = raw.read1(BODY_CHUNK, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except BaseException:
        response.close()  # never hand a half-read connection back to the pool
        raise


def _parse_body(content: bytes, response: requests.Response) -> Any:
    """JSON, None for an empty body, the text of an error page, or _NotJson for anything else."""
    if not content.strip():
        return None
    try:
        return loads(content)
    except ValueError:
        text = content.decode(response.encoding or "utf-8", errors="replace")
        return text if response.status_code >= 300 else _NotJson(text)


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19  # 19 digits: perhaps beyond 64 bits
_BEFORE_A_NUMBER = frozenset(b":[,")


def loads(content: bytes) -> Any:
    """What `json.loads` answers, sooner: orjson parses a page in half the time, and holds the GIL that
    much less while the read-ahead thread parses the next page as this one lands. The standard library
    still reads what orjson refuses (NaN, a BOM, UTF-16, an encoded lone surrogate) and any document that
    may hold an integer of 19 digits or more, which orjson would read as a float."""
    if not _may_hold_a_long_integer(content):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    return jsonlib.loads(content)


def _may_hold_a_long_integer(content: bytes) -> bool:
    """Whether a run of 19 digits or more may be a number: one where a value starts (after a colon, a
    bracket, a comma or nothing; spaces and a minus sign aside). Runs inside strings (tracking codes) mostly
    follow a quote or a letter; one that does not counts, to be safe. Bytes methods, not a regex: a regex
    over a 200 KB page took as long as parsing it."""
    digits = content.translate(_DIGITS_AS_ZERO)
    start = digits.find(_LONG_RUN)
    while start != -1:
        before = start - 1
        while before >= 0 and content[before] in b" \t\r\n-":
            before -= 1
        if before < 0 or content[before] in _BEFORE_A_NUMBER:
            return True
        end = start + len(_LONG_RUN)
        while end < len(digits) and digits[end] == 0x30:  # the rest of this run
            end += 1
        start = digits.find(_LONG_RUN, end)
    return False


def _masked(value: Any, token: BearerToken) -> Any:
    if isinstance(value, str):
        return token.mask(value)
    if isinstance(value, dict):
        return {_masked(k, token): _masked(v, token) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_masked(v, token) for v in value)
    return value


def _printable(url: str) -> str:
    return url.encode("unicode_escape").decode("ascii")[:300]
