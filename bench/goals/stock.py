"""The `stock` scenario of `bench` (`manage.py bench --goals stock [--paced]`): 10,000 stock rows of which
300 change.

In a fresh SQLite database (a worker process), against the in-process emulator with a 10,000-listing shop:
pull the listings, PUT the 10,000 rows as they are on Reverb through the API (nothing to send), then PUT
them again with 300 changed (100 to zero, 200 to a new quantity) in batches of 1,000, and drain the queue.
Prints the time to accept a batch, the requests sent (every request the drain's client sent, retries and
429s included: the stock-only push is one PUT of the inventory per listing, no re-read, no SKU look-up),
whether every zero went before every other change, how long the drain takes at the configured budget
(computed by default; measured with --paced, about 300 s), and the machine-readable line
`bench goal=stock value=<requests sent> target=300 ok|SHORT`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.kit import GOAL_TARGETS, fresh_database, goal_line, run_worker
from bench.stock_api import STOCK_PUT, StockShop, stock_shop, worker_env

ROWS = 10_000
ZEROS = 100
CHANGES = 300
BATCH = 1_000


def stock_goal(out: Any, paced: bool) -> str:
    """Run the scenario in a worker on a fresh SQLite file; its detail lines are written to `out` as they
    come; returns the goal line."""
    # The worker's own budget is unlimited (the pulls and the API are not what is measured); the drain is
    # paced (--paced) or its time computed at this process's budget.
    env = {**worker_env(100_000, 100_000), "BENCH_BUDGET_PER_SECOND": str(settings.REVERB_RATE_PER_SECOND)}
    with tempfile.TemporaryDirectory(prefix="bench-stock-") as tmp:
        extra = ("--paced",) if paced else ()
        result = run_worker("stock", "", Path(tmp), 0, "", *extra, env=env, out=out)
    sent = result["sent_requests"]
    # The goal counts every request the drain sent, whatever its route.
    ok = sent == CHANGES and result["zeros_first"] and result["failed"] == 0
    note = (
        f"(requests the drain sent for {CHANGES} changed rows of {ROWS}, {ZEROS} of them to zero; zeros "
        f"first: {'yes' if result['zeros_first'] else 'NO'}; failed {result['failed']})"
    )
    return goal_line("stock", str(sent), GOAL_TARGETS["stock"], note, ok=ok)


# ---- the worker (its own process and SQLite file) --------------------------------------------------------


def stock_worker(workdir: Path, paced: bool) -> None:
    """`bench --worker stock`: prints its detail lines, writes its figures to stock.json."""
    from inventory import services
    from inventory.models import StockIntent

    fresh_database(debug=settings.DEBUG)
    budget = float(os.environ.get("BENCH_BUDGET_PER_SECOND", "1"))
    shop = stock_shop("bench-stock.test", ROWS)
    api = shop.api()
    rows, to_zero, to_more = _rows(shop.account)
    before = sum(shop.emulator.requests.values())
    _put_all(api, rows, "same")
    assert not StockIntent.objects.filter(status="queued").exists()
    # Zeros are listed last in the batches: the queue must still send them first.
    changed = [{"sku": r["sku"], "quantity": _changed(r, to_zero, to_more)} for r in rows]
    changed.sort(key=lambda r: r["sku"] in to_zero)
    times = _put_all(api, changed, "changed")
    accepted_requests = sum(shop.emulator.requests.values()) - before
    waiting = services.queue_state(shop.account).waiting
    started = time.perf_counter()
    result, during, sent_requests = _drain(shop, paced, budget)
    drain_seconds = time.perf_counter() - started
    zeros_first = all(sku in to_zero for sku in result.order[: len(to_zero)])
    print(
        f"stock: {len(rows)} rows in {len(times)} PUTs of {BATCH}; accepted in "
        f"{max(times) * 1000:.0f} ms per batch at most ({sum(times):.2f} s in all), "
        f"{accepted_requests} request(s) to Reverb while accepting"
    )
    print(
        f"stock: {waiting} queued ({len(to_zero)} zeros); drained in {drain_seconds:.2f} s here"
        f"{' at the budget' if paced else ''}; "
        f"at the budget of {budget:g} requests/s it takes about {sent_requests / budget:.0f} s "
        f"(the admin's ETA said {waiting * services.REQUESTS_PER_SEND / budget:.0f} s)"
    )
    print(
        f"stock: requests sent: {sent_requests} in all ({sum(during.values())} answered); "
        f"{during.get(('PUT', '/api/listings/{listing_id}'), 0)} listing PUTs, "
        f"{during.get(('GET', '/api/listings/{listing_id}'), 0)} re-reads, "
        f"{during.get(('GET', '/api/my/listings'), 0)} SKU look-ups, "
        f"{during.get(('PUT', '/api/my/listings/{listing_id}/state/end'), 0)} ends; "
        f"zeros first: {'yes' if zeros_first else 'NO'}; "
        f"sent {result.sent}, failed {result.failed}, left {result.left}",
        flush=True,
    )
    figures = {"sent_requests": sent_requests, "zeros_first": zeros_first, "failed": result.failed}
    (workdir / "stock.json").write_text(json.dumps(figures))


def _rows(account: Any) -> tuple[list[dict[str, Any]], set[str], set[str]]:
    """ROWS stock rows as they are on Reverb, and the SKUs to set to zero and to raise: live listings
    that hold a quantity, one listing a SKU."""
    from listings.conditions import INVENTORY_CONDITIONS
    from listings.models import Listing

    listings = list(
        Listing.objects.filter(account=account, missing=False).exclude(sku="").order_by("reverb_id")
    )
    current = {listing.sku: listing.inventory or 0 for listing in listings}
    rows = [{"sku": s, "quantity": current[s]} for s in sorted(current)]
    rows += rows[: ROWS - len(rows)]  # pad to exactly ROWS (repeats change nothing)
    per_sku = Counter(x.sku for x in listings)
    unique = [
        x
        for x in listings
        if x.state == "live" and x.condition_uuid in INVENTORY_CONDITIONS and per_sku[x.sku] == 1
    ]
    return rows, {x.sku for x in unique[:ZEROS]}, {x.sku for x in unique[ZEROS:CHANGES]}


def _changed(row: dict[str, Any], to_zero: set[str], to_more: set[str]) -> int:
    if row["sku"] in to_zero:
        return 0
    return row["quantity"] + 2 if row["sku"] in to_more else row["quantity"]


def _put_all(api: Any, rows: list[dict[str, Any]], tag: str) -> list[float]:
    """PUT the rows in batches of BATCH; returns each batch's seconds."""
    times = []
    for n in range(0, len(rows), BATCH):
        started = time.perf_counter()
        answer = api.put(
            STOCK_PUT, {"items": rows[n : n + BATCH]}, format="json", HTTP_IDEMPOTENCY_KEY=f"{tag}-{n}"
        )
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.content[:300]
    return times


def _drain(shop: StockShop, paced: bool, budget: float) -> tuple[Any, Counter, int]:
    """Drain the queue; returns (the drain's result, the emulator's requests during it by route, every
    request the client sent, retries and 429s included)."""
    from backoffice.reverb.ratelimit import LocalTokenBucket
    from emulator.app import DEFAULT_RATE_BURST
    from inventory import services

    before = Counter(shop.emulator.requests)
    if paced:  # the real budget in front of an emulator that answers 429 beyond it
        shop.emulator.pace = (budget, DEFAULT_RATE_BURST)
        client = shop.account.client(rate_limiter=LocalTokenBucket(budget, DEFAULT_RATE_BURST))
    else:
        client = shop.account.client()
    result = services.drain(shop.account, client=client)
    during = Counter(shop.emulator.requests)
    during.subtract(before)
    return result, during, client.request_count
