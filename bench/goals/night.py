"""The `night` scenario of `bench` (issue 17, "the night fits"): the chunked nightly reconciliation of a
shop with twice as many orders as listings (the issue's shop is 100,000 listings and 200,000 orders).

1. the emulator runs as its own process (unthrottled: the bench measures our work, the pace is computed);
2. a worker process (`bench --worker night`) migrates a fresh SQLite database, pulls the whole shop, then
   runs the night chunk by chunk exactly as the workers do (`run_chunk`, the default chunk budget), timing
   each chunk and counting its requests, and the requests of each resource;
3. the figures: the longest chunk at 1 request/s (its measured seconds plus one second per request: the
   pacing a chunk at Reverb's pace adds, an upper bound), and the night's requests, measured at this size
   and extrapolated in proportion to the issue's size, with the time they take at 1 request/s against the
   night's window (RECONCILE_WINDOW_HOURS, with 10% of the budget left to the steady-state pulls).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.kit import (
    GOAL_TARGETS,
    bench_account,
    big_shop_size,
    fresh_database,
    goal_line,
    worker_on_emulator,
)

ISSUE_LISTINGS = 100_000  # and 200,000 orders
STEADY_SHARE = 0.10  # of the 1 request/s budget, kept for the 5-minute and hourly pulls (goal 1)


def night_worker(api_url: str, workdir: Path, per_page: int) -> None:
    """In its own process (DATABASE_URL is the workdir's SQLite file): pull the shop, then the night."""
    from backoffice.models import ReconciliationReport, SyncRun
    from backoffice.reverb.ratelimit import UnlimitedRateLimiter
    from backoffice.sync.reconcile import run_chunk, start_report
    from backoffice.sync.runner import sync_account

    fresh_database()
    account = bench_account(api_url)
    client = account.client(rate_limiter=UnlimitedRateLimiter(), per_page=per_page)
    started = time.perf_counter()
    sync_account(account, full=True, client=client)
    pulled = time.perf_counter() - started

    report = start_report(account)
    chunks = []
    done = False
    while not done:
        before, started = client.request_count, time.perf_counter()
        done = run_chunk(report, client=client, notify=False)
        chunks.append({"seconds": time.perf_counter() - started, "requests": client.request_count - before})
    report = ReconciliationReport.objects.get(pk=report.pk)
    runs = SyncRun.objects.filter(pk__in=list(report.cursor.get("runs", {}).values()))
    per_resource = {run.resource: run.requests for run in runs}
    result = {
        "pull_seconds": pulled,
        "chunks": chunks,
        "requests": sum(c["requests"] for c in chunks),
        "per_resource": per_resource,
        "state": report.state,
        "error": report.error,
        "older_share": report.older_share,
        "checked": sum(c.get("checked", 0) for c in report.counts.values()),
        "chunk_requests": settings.RECONCILE_CHUNK_REQUESTS,
        "window_hours": settings.RECONCILE_WINDOW_HOURS,
        "recent_days": settings.RECONCILE_RECENT_DAYS,
    }
    (workdir / "night.json").write_text(json.dumps(result))


def night_goal(stdout: Any, listings: int, per_page: int) -> str:
    size = big_shop_size(listings)
    stdout.write(f"night: shop {size}: starting the emulator")
    result = worker_on_emulator("night", size, per_page)
    chunks = result["chunks"]
    longest = max(chunks, key=lambda c: c["seconds"] + c["requests"])
    at_pace = longest["seconds"] + longest["requests"]  # + 1 s per request at 1 request/s
    scale = ISSUE_LISTINGS / listings
    extrapolated = round(result["requests"] * scale)
    hours = extrapolated / 3600  # at 1 request/s
    hours_left = extrapolated / (3600 * (1 - STEADY_SHARE))
    window = result["window_hours"]
    fits = hours_left <= window
    stdout.write(
        f"    pulled the shop in {result['pull_seconds']:.0f}s; the night: {len(chunks)} chunks of at most "
        f"{result['chunk_requests']} requests, {result['requests']} requests, {result['checked']} records "
        f"checked, state {result['state']}{' (' + result['error'] + ')' if result['error'] else ''}"
    )
    stdout.write(
        f"    longest chunk: {longest['seconds']:.1f}s measured (unthrottled), {longest['requests']} "
        f"requests -> {at_pace:.0f}s at 1 request/s; slowest chunk measured "
        f"{max(c['seconds'] for c in chunks):.1f}s"
    )
    for name, n in sorted(result["per_resource"].items(), key=lambda kv: -kv[1]):
        stdout.write(f"    {n:7d} requests  {name}")
    stdout.write(
        f"    older history checked this night: {100 * (result['older_share'] or 0):.0f}% "
        f"(recent {result['recent_days']} days complete)"
    )
    note = (
        f"(longest chunk at 1 req/s = measured {longest['seconds']:.1f}s + 1 s x {longest['requests']} "
        f"requests; "
        f"night measured at {listings} listings/{2 * listings} orders: {result['requests']} requests; "
        f"EXTRAPOLATED x{scale:.0f} to 100k listings/200k orders: {extrapolated} requests = {hours:.1f} h at "
        f"1 req/s, {hours_left:.1f} h at the 0.9 req/s left by the steady state; window {window:g} h: "
        f"{'the night FITS' if fits else 'the night does NOT fit'}; before: one task, 691 s, 15,682 requests)"
    )
    ok = at_pace <= 600 and fits
    return goal_line("night", f"{at_pace:.0f}s", GOAL_TARGETS["night"], note, ok=ok)
