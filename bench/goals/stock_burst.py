"""The `stock_burst` scenario of `bench` (`manage.py bench --goals stock_burst`): parallel API bursts on one
SKU, as an integrating system sends them (issue 23).

In a scratch PostgreSQL database (`--pg-database-url`, emptied and migrated by the worker process; SQLite
serialises every writer, so the race cannot show there and the goal is n/a without it), against the
in-process emulator: BURSTS bursts of THREADS threads, released together, each with its own connection,
each PUT /api/v1/stock/ one row for the same SKU (a quantity of its own, its own Idempotency-Key) and
then runs the account's drain task as the worker it asked for would. The account's budget paces the
sends (a local token bucket), so a send waits for its turn as it does at Reverb's pace.
After each burst: a final mismatch when Reverb's quantity is not the last accepted one, or the product's
"on Reverb" is not Reverb's; a duplicate PUT is a quantity sent a second time (every PUT is an audit row).
Prints `bench goal=stock_burst value=<duplicate PUTs>/<final mismatches> target=0/0 ok|SHORT`.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.kit import GOAL_TARGETS, check_scratch, fresh_database, goal_line, is_postgres, run_worker
from bench.stock_api import STOCK_PUT, StockShop, stock_shop, worker_env

BURSTS = 5
THREADS = 20
BUDGET = (200.0, 1)  # requests/s and burst of the account's budget: each send waits its turn


def stock_burst_goal(out: Any, database_url: str) -> str:
    """Run the scenario in a worker on the scratch PostgreSQL database; returns the goal line."""
    target = GOAL_TARGETS["stock_burst"]
    if not is_postgres(database_url):
        return goal_line(
            "stock_burst", None, target, "needs --pg-database-url (PostgreSQL: SQLite serialises writers)"
        )
    check_scratch(database_url, "--pg-database-url")
    out.write(
        f"stock_burst: {BURSTS} bursts of {THREADS} parallel API calls on {urlsplit(database_url).path}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-stock-burst-") as tmp:
        result = run_worker("stock_burst", "", Path(tmp), 0, database_url, env=worker_env(*BUDGET), out=out)
    duplicates, mismatches, failed = result["duplicates"], result["mismatches"], result["failed"]
    note = (
        f"({BURSTS * THREADS} API calls, {sum(failed.values())} not 200 {failed}, {result['puts']} PUTs, "
        f"{duplicates} duplicate, {mismatches} burst(s) ending wrong, {result['seconds']:.1f} s)"
    )
    ok = duplicates == 0 and mismatches == 0 and not failed
    return goal_line("stock_burst", f"{duplicates}/{mismatches}", target, note, ok=ok)


# ---- the worker (its own process, on the scratch PostgreSQL database) ------------------------------------


def stock_burst_worker(workdir: Path) -> None:
    """`bench --worker stock_burst`: prints a line a burst, writes its figures to stock_burst.json."""
    from backoffice.audit import ApiCall
    from listings.conditions import INVENTORY_CONDITIONS
    from listings.models import Listing

    fresh_database()
    shop = stock_shop("bench-burst.test", "tiny")
    listing = (
        Listing.objects.filter(account=shop.account, state="live", condition_uuid__in=INVENTORY_CONDITIONS)
        .order_by("pk")
        .first()
    )
    assert listing is not None, "the emulator's shop has no listing that holds a quantity"
    mismatches, statuses, started = 0, [], time.perf_counter()
    for burst in range(BURSTS):
        _burst(shop, listing.sku, [1000 * (burst + 1) + n for n in range(THREADS)], statuses)
        good, line = _ends_right(shop, listing)
        mismatches += not good
        print(f"  stock_burst: burst {burst + 1}: {line}", flush=True)
    sent = Counter(
        put.request_summary.get("inventory")
        for put in ApiCall.objects.filter(action="listings.push", target_key=listing.reverb_id)
    )
    figures = {
        "duplicates": sum(n - 1 for n in sent.values() if n > 1),
        "mismatches": mismatches,
        "failed": dict(Counter(str(s) for s in statuses if s != 200)),
        "puts": sum(sent.values()),
        "seconds": time.perf_counter() - started,
    }
    (workdir / "stock_burst.json").write_text(json.dumps(figures))


def _burst(shop: StockShop, sku: str, quantities: list[int], statuses: list[Any]) -> None:
    """A thread a quantity, released together; each PUTs its row, then drains as its worker would."""
    from django.db import connections

    from inventory import tasks

    barrier = threading.Barrier(len(quantities))

    def call(quantity: int) -> None:
        try:
            api = shop.api()
            barrier.wait(60)
            answer = api.put(
                STOCK_PUT,
                {"items": [{"sku": sku, "quantity": quantity}]},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"burst-{quantity}",
            )
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                tasks.drain_account(shop.account.pk)
        except Exception as exc:  # counted: a call that failed is a finding, not a crash of the bench
            statuses.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call, args=(q,)) for q in quantities]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)


def _ends_right(shop: StockShop, listing: Any) -> tuple[bool, str]:
    """Whether Reverb holds the last accepted quantity and the product shows it as sent; and a line."""
    from inventory.models import StockIntent

    intent = StockIntent.objects.filter(listing=listing).first()
    with shop.emulator.lock:
        on_reverb = shop.emulator.store.table("listings")[int(listing.reverb_id)]["inventory"]
    good = (
        intent is not None
        and on_reverb == intent.quantity
        and intent.sent_quantity == on_reverb
        and intent.status == StockIntent.Status.SENT
    )
    wanted, shown = (intent.quantity, intent.sent_quantity) if intent else ("-", "-")
    return good, f"Reverb {on_reverb}, wanted {wanted}, shown as on Reverb {shown}"
