"""The Emulator: one emulated Reverb shop answering HTTP-shaped requests.

Transports (`adapter.EmulatorAdapter` in-process, `server.serve` over loopback HTTP) call `handle()`.
Everything under /__emulator__/ is the control API (no token); everything under /api/ is Reverb.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests

from . import core, photos
from . import scopes as token_scopes
from .core import ApiError, Request, Response
from .faults import DroppedConnection, Faults
from .store import Store

log = logging.getLogger(__name__)

# Handler modules register their routes, renderers and simulations on import.
HANDLER_MODULES = ("listings", "shop", "orders", "refunds", "negotiations", "conversations", "payouts")

SIZES: dict[str, dict[str, int]] = {
    "tiny": {
        "listings": 12,
        "orders": 10,
        "refund_requests": 3,
        "conversations": 4,
        "negotiations": 3,
        "payouts": 2,
    },
    "demo": {
        "listings": 120,
        "orders": 80,
        "refund_requests": 12,
        "conversations": 20,
        "negotiations": 12,
        "payouts": 8,
        # Not a kind: most completed sales, their refunds and the payouts fall in the last 12 weeks, so
        # the dashboard's weekly charts show a working shop.
        "recent_weeks": 12,
    },
    "bench": {
        "listings": 20_000,
        "orders": 20_000,
        "refund_requests": 1_000,
        "conversations": 2_000,
        "negotiations": 1_000,
        "payouts": 400,
    },
}


def parse_size(size: str | int | dict[str, int] | None) -> dict[str, int]:
    """`demo`, `bench`, `tiny`, an int (listings=N, the rest in demo's proportion), a dict, or
    `listings=500,orders=300` (missing kinds in proportion to listings)."""
    if size is None:
        size = "demo"
    if isinstance(size, dict):
        sizes = {k: int(v) for k, v in size.items()}
    elif isinstance(size, int) or (isinstance(size, str) and size.isdigit()):
        sizes = {"listings": int(size)}
    elif size in SIZES:
        return dict(SIZES[size])
    else:
        sizes = {}
        for part in str(size).split(","):
            key, _, value = part.partition("=")
            if not value.strip().isdigit():
                raise ValueError(f"bad size {size!r}: use demo, bench, N, or kind=N,kind=N")
            sizes[key.strip()] = int(value)
    base = SIZES["demo"]
    listings = sizes.get("listings", base["listings"])
    for kind, n in base.items():
        if kind in ("recent_weeks", "backlog"):  # not kinds of record
            continue
        sizes.setdefault(kind, max(1, round(n * listings / base["listings"])) if listings else 0)
    return sizes


# Reverb's pacing (API-NOTES 16.3): no numbers are published; clients that were checked live keep to about
# one request a second per account, and sound-tank hit 429s paging faster. A small burst, then 1/s.
DEFAULT_RATE_PER_SECOND = 1.0
DEFAULT_RATE_BURST = 5
PUBLISH_DELAY_SECONDS = 1.0  # a publish reads live "about a second later" (API-NOTES 16.1.3)


def _token_of(req: Request) -> str | None:
    auth = req.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else req.headers.get("x-auth-token")


class Emulator:
    def __init__(
        self,
        *,
        token: str = "emulator-token",
        seed: int = 1,
        size: Any = "demo",
        currency: str = "USD",
        variant: str = "default",
        rate_per_second: float = DEFAULT_RATE_PER_SECOND,
        rate_burst: int = DEFAULT_RATE_BURST,
        publish_delay: float = PUBLISH_DELAY_SECONDS,
        scopes: Any = None,
        seller_costs: bool = False,
    ) -> None:
        """`variant` picks among the plausible shapes of what no live source shows (see `guesses`);
        `rate_per_second` 0 turns the per-account limit off (tools that pace themselves); `scopes` limits
        what the token may do (see `scopes`; None: every scope); `seller_costs` gives the generated
        listings a `seller_cost` (Store.seller_costs)."""
        self.seller_costs = seller_costs
        from .guesses import VARIANTS

        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
        self.variant = variant
        self.pace = (float(rate_per_second), max(int(rate_burst), 1))
        self.publish_delay = float(publish_delay)
        for name in HANDLER_MODULES:
            try:
                importlib.import_module(f"{__package__}.{name}")
            except ModuleNotFoundError as exc:  # a handler module not written yet
                if exc.name != f"{__package__}.{name}":
                    raise
        self.lock = threading.RLock()
        self.token = token
        self.scopes = token_scopes.parse(scopes)
        self.faults = Faults()
        self.requests = Counter()  # (method, route template) -> count, for tests and bench
        self.writes = Counter()  # "METHOD /path" of every write request (exactly-once proofs)
        self.throttled = 0  # requests answered 429 by the pace or the rate-limit fault
        self.webhook_log: list[dict[str, Any]] = []
        self._outbox: list[tuple[str, dict[str, Any]]] = []
        self._bucket: tuple[float, float, float] = (0.0, 0.0, 0.0)  # tokens, last refill, for which rate
        self._account_buckets: dict[str, tuple[float, float]] = {}  # token -> (tokens, last refill)
        self.reset(seed=seed, size=size, currency=currency)

    # ---- state ---------------------------------------------------------------------------------------
    def reset(self, *, seed: int = 1, size: Any = "demo", currency: str = "USD") -> None:
        from .generator import seed_store

        with self.lock:
            self.seed = seed
            self.sizes = parse_size(size)
            self.store = Store(currency=currency, seller_costs=self.seller_costs)
            seed_store(self.store, seed=seed, sizes=self.sizes)
            self.requests.clear()
            self.writes.clear()
            self.throttled = 0

    def emit(self, topic: str, payload: dict[str, Any]) -> None:
        """Queue a webhook delivery; posted after the current request finishes, outside the lock."""
        self._outbox.append((topic, payload))

    # ---- transport entry point -----------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes, origin: str
    ) -> Response:
        req = Request.build(method, path, query_string, headers, body, origin)
        if req.path.startswith("/__emulator__/"):
            return self._control(req)
        if self.faults.roll(self.faults.rate_drop):
            raise DroppedConnection()
        if self.faults.roll(self.faults.slow_rate):
            time.sleep(self.faults.slow_seconds)
        wait = self._rate_limited() or self._paced(req)
        if wait:
            with self.lock:
                self.throttled += 1
            return self._error(ApiError(429, "Too Many Requests", headers={"Retry-After": str(wait)}))
        if self.faults.roll(self.faults.rate_429):
            return self._error(
                ApiError(429, "Too Many Requests", headers={"Retry-After": str(self.faults.retry_after)})
            )
        if self.faults.roll(self.faults.rate_5xx):
            return Response(503, {"message": "Service Unavailable"})
        response, lost = self._dispatch(req)
        self._flush_webhooks()
        if lost:
            raise DroppedConnection()
        return response

    def _rate_limited(self) -> int:
        """Token bucket for `faults.rate_limit_per_second` (burst: one second's worth). Returns 0 when the
        request may go on, else the whole seconds to wait (Retry-After is our convenience, API-NOTES 4.5)."""
        rate = self.faults.rate_limit_per_second
        if rate <= 0:
            return 0
        with self.lock:
            now = time.monotonic()
            tokens, last, for_rate = self._bucket
            if for_rate != rate:  # new fault settings: start with a full bucket
                tokens, last = max(rate, 1.0), now
            tokens = min(max(rate, 1.0), tokens + (now - last) * rate)
            if tokens >= 1:
                self._bucket = (tokens - 1, now, rate)
                return 0
            self._bucket = (tokens, now, rate)
            return max(1, math.ceil((1 - tokens) / rate))

    def _paced(self, req: Request) -> int:
        """Reverb's per-account limit, on by default (API-NOTES 16.3): `burst` requests at once, then
        `rate` a second; beyond it 429 with Retry-After in whole seconds (the header is our convenience:
        Reverb documents none). Counted per token, before authentication."""
        rate, burst = self.pace
        if rate <= 0:
            return 0
        key = _token_of(req) or ""
        with self.lock:
            now = time.monotonic()
            tokens, last = self._account_buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1:
                self._account_buckets[key] = (tokens - 1, now)
                return 0
            self._account_buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / rate))

    def settle(self) -> None:
        """Finish what Reverb does in the background once its answer is sent (publishing)."""
        with self.lock:
            for fn in core.SETTLERS:
                fn(self)

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock on (tests: let an asynchronous publish land without sleeping)."""
        from datetime import timedelta

        with self.lock:
            self.store.clock_offset += timedelta(seconds=seconds)

    def _dispatch(self, req: Request) -> tuple[Response, bool]:
        with self.lock:
            try:
                self.settle()
                self._authenticate(req)
                self._require_version(req)
                found, params = core.router.match(req.method, req.path)
                self._require_scope(req.method, found.template)
                self.requests[(req.method, found.template)] += 1
                if found.write:
                    self.writes[f"{req.method} {req.path}"] += 1
                result = found.handler(self, req, **params)
            except ApiError as exc:
                return self._error(exc), False
            response = result if isinstance(result, Response) else Response(200, result)
            lost = found.write and response.status < 400 and self.faults.roll(self.faults.rate_lost_write)
            return response, lost

    def _authenticate(self, req: Request) -> None:
        """Bearer token, or the legacy X-Auth-Token header the M1 plugin sent until 2017 (API-NOTES 2)."""
        if _token_of(req) != self.token:
            raise ApiError(401, "Unauthorized. Please log in and obtain a new authorization token.")

    def _require_scope(self, method: str, template: str) -> None:
        scope = token_scopes.required(method, template)
        if self.scopes is not None and scope is not None and scope not in self.scopes:
            raise ApiError(403, token_scopes.NOT_AUTHORIZED, extra={"error_type": None})

    @staticmethod
    def _require_version(req: Request) -> None:
        """`Accept-Version: 3.0` is a required header (API-NOTES 1 [OFFICIAL-DOC]). The refusal's status
        and text are ours (a guess: no source shows Reverb's answer without it)."""
        if not req.headers.get("accept-version", "").strip():
            raise ApiError(400, "The Accept-Version header is required (Accept-Version: 3.0).")

    @staticmethod
    def _error(exc: ApiError) -> Response:
        return Response(exc.status, exc.body(), dict(exc.headers))

    # ---- webhooks ------------------------------------------------------------------------------------
    def _flush_webhooks(self) -> None:
        with self.lock:
            outbox, self._outbox = self._outbox, []
            hooks = list(self.store.table("webhooks").values())
        for topic, payload in outbox:
            for hook in hooks:
                if hook["topic"] != topic:
                    continue
                # The body is the bare object (API-NOTES 12); X-Reverb-Topic is our extension.
                try:
                    r = requests.post(
                        hook["url"],
                        data=json.dumps(payload),
                        timeout=5,
                        headers={"Content-Type": "application/json", "X-Reverb-Topic": topic},
                    )
                    status: int | str = r.status_code
                except requests.RequestException as exc:
                    status = f"error: {exc.__class__.__name__}"
                self.webhook_log.append({"topic": topic, "url": hook["url"], "status": status})

    # ---- control API ---------------------------------------------------------------------------------
    def _control(self, req: Request) -> Response:
        name = req.path.removeprefix("/__emulator__/").strip("/")
        if req.method == "GET" and photos.photo_id(name) is not None:
            return Response(
                200,
                photos.png(photos.photo_id(name) or 0),
                {"Content-Type": "image/png", "Cache-Control": "max-age=86400"},
            )
        call = self._control_call(req.method, name)
        if call is None:
            return Response(404, {"message": f"unknown control call {req.method} {req.path}"})
        try:
            return call(req, name)
        except ApiError as exc:
            return self._error(exc)
        except (ValueError, TypeError) as exc:
            return Response(400, {"message": str(exc)})

    def _control_call(self, method: str, name: str) -> Callable[[Request, str], Response] | None:
        """The control call for (method, name): by the whole name, or by its first segment and a slash
        (`state/<collection>`, `simulate/<event>`); "*": any method (GET reads, POST sets)."""
        calls = {
            ("POST", "reset"): self._control_reset,
            ("*", "pace"): self._control_pace,
            ("*", "scopes"): self._control_scopes,
            ("*", "faults"): self._control_faults,
            ("GET", "stats"): self._control_stats,
            ("POST", "clock"): self._control_clock,
            ("GET", "state/"): self._control_state,
            ("POST", "simulate/"): self._control_simulate,
        }
        head = name.split("/", 1)[0] + "/" if "/" in name else name
        return calls.get((method, head)) or calls.get(("*", head))

    def _control_reset(self, req: Request, name: str) -> Response:
        data = req.json
        self.reset(
            seed=int(data.get("seed", 1)),
            size=data.get("size") or data.get("sizes", "demo"),
            currency=data.get("currency", "USD"),
        )
        if data.get("token"):
            self.token = data["token"]
        return Response(200, {"seed": self.seed, "sizes": self.sizes})

    def _control_pace(self, req: Request, name: str) -> Response:
        if req.method == "POST":
            data = req.json
            self.pace = (
                float(data.get("rate_per_second", self.pace[0])),
                max(int(data.get("burst", self.pace[1])), 1),
            )
            self._account_buckets.clear()
        return Response(200, {"rate_per_second": self.pace[0], "burst": self.pace[1]})

    def _control_scopes(self, req: Request, name: str) -> Response:
        if req.method == "POST":
            self.scopes = token_scopes.parse(req.json.get("scopes"))
        return Response(200, {"scopes": sorted(self.scopes) if self.scopes is not None else None})

    def _control_faults(self, req: Request, name: str) -> Response:
        if req.method == "POST":
            self.faults = Faults.from_dict(req.json)
        return Response(200, self.faults.to_dict())

    def _control_stats(self, req: Request, name: str) -> Response:
        return Response(
            200,
            {
                "requests": {f"{m} {t}": n for (m, t), n in self.requests.items()},
                "total": sum(self.requests.values()),
                "writes": dict(self.writes),
                "throttled": self.throttled,
                "webhooks": self.webhook_log,
            },
        )

    def _control_clock(self, req: Request, name: str) -> Response:
        with self.lock:
            self.store.clock_offset += timedelta(seconds=float(req.json.get("advance_seconds", 0)))
        return Response(200, {"now": core.ts(self.store.now())})

    def _control_state(self, req: Request, name: str) -> Response:
        return Response(200, self.state(name.removeprefix("state/"), req))

    def _control_simulate(self, req: Request, name: str) -> Response:
        event = name.removeprefix("simulate/")
        if event not in core.SIMULATIONS:
            raise ApiError(404, f"unknown event {event!r}; known: {', '.join(sorted(core.SIMULATIONS))}")
        with self.lock:
            result = core.SIMULATIONS[event](self, req.json)
        self._flush_webhooks()
        return Response(200, result)

    def state(self, collection: str, req: Request | None = None) -> dict[str, Any]:
        """The emulator's own objects, rendered as Reverb renders them, for tests and tooling."""
        req = req or Request("GET", "/", {}, {}, b"", "http://127.0.0.1:8765")
        if collection not in core.RENDERERS:
            raise ApiError(
                404, f"unknown collection {collection!r}; known: {', '.join(sorted(core.RENDERERS))}"
            )
        render = core.RENDERERS[collection]
        with self.lock:
            self.settle()
            records = list(self.store.table(collection).values())
            return {collection: [render(self, req, r) for r in records], "total": len(records)}
