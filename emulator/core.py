"""The emulator's plumbing: request and response objects, the route table, and Reverb's envelopes.

Handlers are plain functions registered with `@route(METHOD, "/api/path/{param}")`. They receive the
`Emulator` and a `Request` (plus path parameters) and return a dict (200 JSON), a `Response`, or raise
`ApiError`. Handler modules only import from here and from `store`, never from `app` (but for its type,
under TYPE_CHECKING); this module does not import `app` at all, which imports it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode

from .store import Store


class EmulatorLike(Protocol):
    """The emulator every handler, simulation, settler and renderer is given: app.py's `Emulator`, named
    here by what it holds, so this module need not import app.py (app.py imports this one)."""

    store: Store
    lock: Any  # threading.RLock: every request, settler and control call holds it


CURRENCY_SYMBOLS = {
    "USD": "$",
    "CAD": "$",
    "AUD": "$",
    "NZD": "$",
    "MXN": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
}
DEFAULT_PER_PAGE = 24  # Reverb's default page size [OFFICIAL-SPEC; M1 CHANGELOG 0.8.3]
MAX_PER_PAGE = 50  # clamped to 50 whatever is asked (API-NOTES 16.1.5 [3P-LIVE PostHog])


class ApiError(Exception):
    """An error answer in Reverb's shape: {"message": ..., "errors": {...}} (API-NOTES 4.2)."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, list[str]] | list | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class ValidationFailed(ApiError):
    """412 with a per-field errors hash, as Reverb answers a listing create/update it refuses."""

    def __init__(self, errors: Mapping[str, list[str]], message: str | None = None) -> None:
        summary = message or "; ".join(f"{k} {v[0]}" for k, v in errors.items())
        super().__init__(412, summary, dict(errors))


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; None -> empty body
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):  # a non-JSON body (the placeholder photos); headers say its type
            return self.body
        return b"" if self.body is None else json.dumps(self.body, separators=(",", ":")).encode()


@dataclass
class Request:
    method: str
    path: str  # e.g. /api/my/listings (no query string)
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    raw_body: bytes = b""
    origin: str = "http://127.0.0.1:8765"  # scheme://host[:port] the client used, for absolute links

    @classmethod
    def build(
        cls,
        method: str,
        url_path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        origin: str,
    ) -> Request:
        query = parse_qs(query_string, keep_blank_values=True)
        return cls(method.upper(), url_path, query, {k.lower(): v for k, v in headers.items()}, body, origin)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.args(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """A query parameter's values; Rails-style `name[]=a&name[]=b` included (API-NOTES 1)."""
        return self.query.get(name, []) + self.query.get(f"{name}[]", [])

    def int_arg(self, name: str, default: int) -> int:
        value = self.arg(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer") from None

    @property
    def json(self) -> dict[str, Any]:
        if not self.raw_body:
            return {}
        try:
            data = json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object")
        return data

    def href(self, path: str, **params: Any) -> str:
        """An absolute link on the host the client used; `path` starts with /api/..."""
        return f"{self.origin}{self.path_href(path, **params)}"

    def path_href(self, path: str, **params: Any) -> str:
        """A root-relative link: /api/...?query."""
        if not params:
            return path
        query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        return path + (f"?{query}" if query else "")


Handler = Callable[..., Any]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Handler
    write: bool


class Router:
    def __init__(self) -> None:
        self.routes: list[_Route] = []

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/")) + "/?$"

        def register(fn: Handler) -> Handler:
            self.routes.append(
                _Route(method.upper(), re.compile(regex), template, fn, method.upper() != "GET")
            )
            return fn

        return register

    def match(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        allowed = False
        for r in self.routes:
            m = r.pattern.match(path)
            if m:
                if r.method == method:
                    return r, m.groupdict()
                allowed = True
        if allowed:
            raise ApiError(405, "Method not accepted")
        raise ApiError(404, "The requested resource could not be found.")


router = Router()
route = router.route

# Buyer-side events for POST /__emulator__/simulate/<event>: fn(emulator, params) -> dict
SIMULATIONS: dict[str, Callable[[EmulatorLike, dict[str, Any]], dict[str, Any]]] = {}


def simulation(name: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        SIMULATIONS[name] = fn
        return fn

    return register


# ---- Reverb's value shapes -------------------------------------------------------------------------


def to_decimal(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def money(amount: Any, currency: str = "USD") -> dict[str, Any]:
    """Reverb's Money object (API-NOTES 1): amount is a string, a zero tax displays FREE in orders.
    A fresh dict each call (callers may change it); the formatting is cached by str(amount), the only
    thing `to_decimal` reads."""
    return dict(_money(str(amount), currency))


@lru_cache(maxsize=65536)
def _money(text: str, currency: str) -> dict[str, Any]:
    value = to_decimal(text)
    cents = int(value * 100)
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    whole = value == value.to_integral_value()
    display = f"{symbol}{value:,.0f}" if whole else f"{symbol}{value:,.2f}"
    return {
        "amount": f"{value:.2f}",
        "amount_cents": cents,
        "currency": currency,
        "symbol": symbol,
        "display": display,
    }


def parse_money(value: Any, field_name: str, default_currency: str) -> Decimal:
    """A request Money `{amount, currency}` (or a bare number, the older form) to Decimal, or 412."""
    amount = value.get("amount") if isinstance(value, dict) else value
    try:
        result = to_decimal(amount)
    except Exception:
        raise ValidationFailed({field_name: ["is not a valid amount"]}) from None
    if result < 0:
        raise ValidationFailed({field_name: ["must be greater than or equal to 0"]})
    return result


def ts(value: datetime | None) -> str | None:
    """Timestamps carry a local offset, second precision: 2017-11-08T18:38:29-05:00 (API-NOTES 1)."""
    return None if value is None else value.isoformat(timespec="seconds")


def parse_ts(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace(" ", "+")  # a raw + in a query string decodes to a space
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"{name} is not a valid ISO 8601 date") from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def paginate(
    req: Request,
    items: Sequence[Any],
    key: str,
    render: Callable[[Any], dict[str, Any]],
    extra: Mapping[str, Any] | None = None,
    *,
    relative: bool = False,
) -> dict[str, Any]:
    """Reverb's collection envelope (API-NOTES 3): the items under a resource-named key, totals, and
    `_links.next`/`prev` only when such a page exists, each keeping the other query parameters.
    `relative`: hrefs are root-relative (`/api/my/orders/selling/all?page=3`), as some live collections
    answer (API-NOTES 16.2.8)."""
    href = req.path_href if relative else req.href
    per_page = min(max(req.int_arg("per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    offset = req.int_arg("offset", -1)
    page = req.int_arg("page", 1) if offset < 0 else offset // per_page + 1
    page = max(page, 1)
    start = (page - 1) * per_page if offset < 0 else offset
    total = len(items)
    total_pages = max(math.ceil(total / per_page), 1) if total else 0
    body: dict[str, Any] = {
        "total": total,
        "current_page": page,
        "per_page": per_page,
        "total_pages": total_pages,
        "_links": {},
    }
    kept = {k: v for k, v in req.query.items() if k not in {"page", "per_page", "offset"}}
    if start + per_page < total:
        body["_links"]["next"] = {"href": href(req.path, **kept, page=page + 1, per_page=per_page)}
    if page > 1 and total:
        body["_links"]["prev"] = {"href": href(req.path, **kept, page=page - 1, per_page=per_page)}
    body[key] = [render(item) for item in items[start : start + per_page]]
    if extra:
        body.update(extra)
    return body


def link(href: str, method: str | None = None) -> dict[str, str]:
    return {"href": href, "method": method} if method else {"href": href}


def only(items: Iterable[Any], predicate: Callable[[Any], bool]) -> list[Any]:
    return [i for i in items if predicate(i)]


# Settlers run before every request (under the lock): work Reverb finishes in the background after it
# answered, such as publishing a listing a second later (API-NOTES 16.1.3). fn(emulator) -> None.
SETTLERS: list[Callable[[EmulatorLike], None]] = []


def settler(fn: Callable[[EmulatorLike], None]) -> Callable[[EmulatorLike], None]:
    SETTLERS.append(fn)
    return fn


# Renderers for GET /__emulator__/state/<collection>: fn(emulator, request, record) -> Reverb JSON.
RENDERERS: dict[str, Callable[[EmulatorLike, Request, dict[str, Any]], dict[str, Any]]] = {}


def renderer(collection: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        RENDERERS[collection] = fn
        return fn

    return register
