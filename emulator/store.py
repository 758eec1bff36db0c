"""The emulator's state: plain dicts in memory, keyed by id, plus a clock and id counters.

Records are the emulator's own internal form (Decimals, datetimes); each handler module renders its
records into Reverb's JSON. `GET /__emulator__/state/<collection>` returns these rendered objects.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Reverb's timestamps carry a US Central offset in every documented example (-05:00 / -06:00).
SHOP_TZ = ZoneInfo("America/Chicago")

COLLECTIONS = (
    "listings",
    "orders",
    "payments",
    "feedback",
    "refund_requests",
    "negotiations",
    "conversations",
    "payouts",
    "line_items",
    "sales",
    "webhooks",
    "images",
)


@dataclass
class Store:
    """All of one emulated shop. Mutate only while holding `Emulator.lock` (the server is threaded)."""

    currency: str = "USD"
    shop: dict[str, Any] = field(default_factory=dict)
    account: dict[str, Any] = field(default_factory=dict)
    vacation: bool = False
    direct_offers_enabled: bool = True
    preferred_seller: bool = True
    # True: webhook registration answers 401 as Reverb does for personal tokens (API-NOTES 2, 3P-LIVE EDOS).
    webhooks_require_oauth: bool = False
    # True: the shop keeps its costs on Reverb (`seller_cost`): generated listings carry one (the demo shop
    # of `make run`, so its margins show); False: `seller_cost` is null, as for a shop that does not.
    seller_costs: bool = False
    tables: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    clock_offset: timedelta = timedelta(0)
    pending_publish: dict[int, datetime] = field(default_factory=dict)  # listing id -> when it goes live
    _last_now: datetime | None = None
    _ids: dict[str, itertools.count] = field(default_factory=dict)

    def table(self, name: str) -> dict[Any, dict[str, Any]]:
        return self.tables[name]

    def next_id(self, name: str, start: int = 1000) -> int:
        if name not in self._ids:
            existing = [k for k in self.tables[name] if isinstance(k, int)]
            self._ids[name] = itertools.count(max(existing, default=start) + 1)
        return next(self._ids[name])

    def now(self) -> datetime:
        """Wall-clock time in the shop's zone (plus any simulated offset), never going backwards, so
        `updated_at` moves forward on every change and incremental pulls see it."""
        current = (datetime.now(SHOP_TZ) + self.clock_offset).replace(microsecond=0)
        if self._last_now and current < self._last_now:
            current = self._last_now
        self._last_now = current
        return current

    def touch(self, record: dict[str, Any]) -> dict[str, Any]:
        record["updated_at"] = self.now()
        return record
