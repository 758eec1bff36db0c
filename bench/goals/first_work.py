"""The `first_work` scenario of `bench` (issue 28, "today's work first"): from `reverb_account add` of a big
shop until the shipping queue, the refund queue, the offers and the unread conversations are complete.

MEASURED, not extrapolated: the emulator runs as its own process with the issue's shop (`--first-work-
listings`, default 100,000 listings and 200,000 orders: bench/kit.py `big_shop_size`), generated before the
clock starts, and answers 429 beyond Reverb's pace (`--rate` 1 request/s, API-NOTES 16.3). A worker process on
a fresh SQLite mirror runs the real `reverb_account add` (its connection check included), then the queued
backfill's chunks one after another (backoffice/sync/backfill.py `run_chunk`, the default chunk size) on the
product's own paced client (the shared rate budget, at BACKFILL_SHARE of the rate) until the backfill says
today's work is complete (the chunk that completes it ends there, with its rows linked). The figure is that
wall-clock time, plus one second for each chunk after the first (the time for a worker to pick the next queued
chunk up: an allowance, not measured). Every deadline list is checked whole (rows landed = the list's total).

The shop is the emulator's big shop, shaped by age as live shops are (emulator/generator/commerce.py): its
deadline lists hold the last days' work. The emulator's older shape, one order in eight awaiting shipment
spread over the year, is what the admin and team scenarios still seed as their worst case; at that shape
the shipping queue alone is 25,283 orders, at least 506 pages of 50 (Reverb clamps per_page at 50,
API-NOTES 16.1.5): over 300 s at 1 request/s whatever the order of the pull.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import requests
from django.conf import settings

from bench.kit import (
    GOAL_TARGETS,
    TOKEN,
    big_shop_size,
    emulator_process,
    fresh_database,
    goal_line,
    run_worker,
)

ISSUE_LISTINGS = 100_000  # and 200,000 orders
REVERB_PACE = 1.0  # requests/s (API-NOTES 16.3)


def first_work_worker(api_url: str, workdir: Path, per_page: int) -> None:
    """In its own process (DATABASE_URL is the workdir's SQLite file)."""
    from urllib.parse import urlsplit

    from django.core.management import call_command
    from django.db.models import Sum

    from backoffice.models import ApiUsage, Backfill, ReverbAccount
    from backoffice.sync.backfill import pace_client, run_chunk
    from backoffice.sync.engine import TODAY

    fresh_database()
    settings.WORKER_BACKEND = "none"  # the chunk `add` queues is run below, by hand, like a worker would
    settings.REVERB_RATE_PER_SECOND = REVERB_PACE
    parts = urlsplit(api_url)
    settings.REVERB_ALLOWED_HOSTS = [f"http://{parts.netloc}"]
    os.environ["REVERB_TOKEN"] = TOKEN
    started = time.perf_counter()
    call_command("reverb_account", "add", "bench", "--api-url", api_url, stdout=io.StringIO())
    check_requests = ApiUsage.objects.aggregate(n=Sum("requests"))["n"] or 0
    account = ReverbAccount.objects.get(name="bench")
    row = Backfill.objects.get(account=account)
    client = pace_client(account)  # the product's paced client on the shared budget
    client.per_page = per_page  # --per-page (Reverb's own clamp is 50)
    chunks = []
    while row.today_done_at is None and row.state == Backfill.State.RUNNING:
        before, at = row.requests, time.perf_counter()
        run_chunk(row, client)
        chunks.append({"seconds": time.perf_counter() - at, "requests": row.requests - before})
    seconds = time.perf_counter() - started
    steps = [
        {k: s[k] for k in ("label", "resource", "total", "total_pages", "pages", "rows", "requests", "error")}
        for s in row.steps
        if s["phase"] == TODAY
    ]
    result = {
        "seconds": seconds,
        "check_requests": check_requests,
        "requests": row.requests,
        "chunks": chunks,
        "steps": steps,
        "share": settings.BACKFILL_SHARE,
    }
    (workdir / "first_work.json").write_text(json.dumps(result))


def first_work_goal(stdout: Any, listings: int, per_page: int) -> str:
    size = big_shop_size(listings)
    stdout.write(f"first_work: shop {size} (the big shop, shaped by age): generating it in the emulator")
    with (
        emulator_process(size, rate=REVERB_PACE) as api_url,
        TemporaryDirectory(prefix="bench-first-") as tmp,
    ):
        result = run_worker("first_work", api_url, Path(tmp), per_page)
        throttled = requests.get(api_url.removesuffix("/api") + "/__emulator__/stats", timeout=10).json()
    whole = True
    for step in result["steps"]:
        # Offers are counted by the listings they are on (the list's rows), so only the others compare.
        whole &= step["total"] is None or step["rows"] >= step["total"] or step["resource"] == "negotiations"
        error = f"  {step['error']}" if step["error"] else ""
        stdout.write(
            f"    {step['label']:<28} {step['rows']:6d} rows of {step['total']}, "
            f"{step['requests']:4d} requests{error}"
        )
    chunks = result["chunks"]
    seconds = result["seconds"] + max(len(chunks) - 1, 0)
    today = sum(step["requests"] for step in result["steps"])
    stdout.write(
        f"    `reverb_account add` + {len(chunks)} chunk(s): {result['seconds']:.1f}s wall clock, "
        f"{result['check_requests']} check requests + {result['requests']} backfill requests "
        f"({today} for today's work); "
        f"429s from the emulator: {throttled['throttled']}"
    )
    note = (
        f"(MEASURED at {listings} listings/{2 * listings} orders, the emulator answering 429 beyond "
        f"{REVERB_PACE:g} req/s: the product's own `reverb_account add` and backfill chunks, paced at "
        f"{result['share']:g} of the rate, wall clock until today's work was complete, +1 s for each of "
        f"{max(len(chunks) - 1, 0)} later chunk(s) for a worker to pick it up; the shop shaped by age; "
        f"at the old 1-in-8 shape the shipping queue alone is over 506 requests)"
    )
    ok = whole and seconds <= 300 and listings >= ISSUE_LISTINGS
    return goal_line("first_work", f"{seconds:.0f}s", GOAL_TARGETS["first_work"], note, ok=ok)
