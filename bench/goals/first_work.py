"""The `first_work` scenario of `bench` (issue 28, "today's work first"): from `reverb_account add` of a big
shop until the shipping queue, the refund queue, the offers and the unread conversations are complete.

A first pull of the issue's shop (100,000 listings, 200,000 orders) at 1 request/s takes hours for real, so:
1. MEASURED: the emulator runs as its own process (unthrottled) with a smaller shop of the big shop's shape
   (bench/kit.py `big_shop_size(listings)`, as the night scenario's); a worker process on a fresh SQLite
   mirror runs the real `reverb_account add` (its connection check included, counted from ApiUsage), then
   runs the queued backfill's chunks for real (backoffice/sync/backfill.py run_chunk, the default chunk
   size) on an unthrottled client until today's work is complete; it counts each deadline list's rows and
   the requests each took, and checks every list was read whole (rows landed = the list's total).
2. EXTRAPOLATED: each deadline list's rows x (100,000 / listings), in pages of --per-page (its requests a
   page as measured), plus the check's requests; the seconds those requests take at 1 request/s paced at
   BACKFILL_SHARE (the backfill leaves the rest to the 5-minute pulls and staff), plus one second per chunk
   for a worker to pick the next chunk up (an allowance, not measured). Our own work per page (measured,
   printed) runs inside that pacing gap, so it adds nothing while it stays under a second a page.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.kit import GOAL_TARGETS, TOKEN, big_shop_size, fresh_database, goal_line, worker_on_emulator

ISSUE_LISTINGS = 100_000  # and 200,000 orders
# Before: the first scheduled pull read /my/orders/selling/all whole before the shipping queue was complete.
BEFORE_ORDER_PAGES = math.ceil(200_000 / 50)


def first_work_worker(api_url: str, workdir: Path, per_page: int) -> None:
    """In its own process (DATABASE_URL is the workdir's SQLite file)."""
    from urllib.parse import urlsplit

    from django.core.management import call_command
    from django.db.models import Sum

    from backoffice.models import ApiUsage, Backfill, ReverbAccount
    from backoffice.reverb.ratelimit import UnlimitedRateLimiter
    from backoffice.sync.backfill import run_chunk
    from backoffice.sync.engine import TODAY

    fresh_database()
    settings.WORKER_BACKEND = "none"  # the chunk `add` queues is run below, by hand, like a worker would
    parts = urlsplit(api_url)
    settings.REVERB_ALLOWED_HOSTS = [f"http://{parts.netloc}"]
    os.environ["REVERB_TOKEN"] = TOKEN
    started = time.perf_counter()
    call_command("reverb_account", "add", "bench", "--api-url", api_url, stdout=io.StringIO())
    check_requests = ApiUsage.objects.aggregate(n=Sum("requests"))["n"] or 0
    account = ReverbAccount.objects.get(name="bench")
    row = Backfill.objects.get(account=account)
    client = account.client(rate_limiter=UnlimitedRateLimiter(), per_page=per_page)
    chunks = []
    while row.today_done_at is None and row.state == Backfill.State.RUNNING:
        before, at = client.request_count, time.perf_counter()
        run_chunk(row, client)
        chunks.append({"seconds": time.perf_counter() - at, "requests": client.request_count - before})
    steps = [
        {k: s[k] for k in ("label", "resource", "total", "total_pages", "pages", "rows", "requests", "error")}
        for s in row.steps
        if s["phase"] == TODAY
    ]
    result = {
        "seconds": time.perf_counter() - started,
        "check_requests": check_requests,
        "requests": row.requests,
        "chunks": chunks,
        "steps": steps,
        "chunk_requests": settings.BACKFILL_CHUNK_REQUESTS,
        "share": settings.BACKFILL_SHARE,
    }
    (workdir / "first_work.json").write_text(json.dumps(result))


def first_work_goal(stdout: Any, listings: int, per_page: int) -> str:
    size = big_shop_size(listings)
    stdout.write(f"first_work: shop {size} (the big shop's shape): starting the emulator")
    result = worker_on_emulator("first_work", size, per_page)
    scale = ISSUE_LISTINGS / listings
    extrapolated, shipping, whole = 0, 0, True
    for step in result["steps"]:
        total = step["total"] if step["total"] is not None else step["rows"]
        per_request = step["requests"] / step["pages"] if step["pages"] else 1.0
        need = math.ceil(max(1, math.ceil(total * scale / per_page)) * per_request)
        extrapolated += need
        shipping = need if step["label"] == "orders awaiting shipment" else shipping
        # Offers are counted by the listings they are on (the list's rows), so only the others compare.
        whole &= step["total"] is None or step["rows"] >= step["total"] or step["resource"] == "negotiations"
        error = f"  {step['error']}" if step["error"] else ""
        stdout.write(
            f"    {step['label']:<28} measured: {total:6d} rows, {step['requests']:4d} requests; "
            f"at 100k/200k: {round(total * scale):7d} rows, {need:5d} requests{error}"
        )
    chunks = result["chunks"]
    at_scale_chunks = math.ceil(extrapolated / result["chunk_requests"])
    seconds = (result["check_requests"] + extrapolated) / (1.0 * result["share"]) + at_scale_chunks
    ours = sum(c["seconds"] for c in chunks) / max(result["requests"], 1)
    today = sum(step["requests"] for step in result["steps"])
    stdout.write(
        f"    measured: `reverb_account add`, {len(chunks)} chunk(s): {result['seconds']:.1f}s, unthrottled: "
        f"{result['check_requests']} check requests, {today} for today's work (the chunk went on with the "
        f"next phase: {result['requests']} in all); our work {1000 * ours:.0f} ms a request (inside the "
        f"{1 / result['share']:.2f} s gap)"
    )
    note = (
        f"(MEASURED on {listings} listings/{2 * listings} orders: the deadline lists' rows and requests, "
        f"run for real through `reverb_account add` and the backfill's chunks; EXTRAPOLATED x{scale:.0f} to "
        f"100k listings/200k orders: {result['check_requests']} check + {extrapolated} requests in pages of "
        f"{per_page} = {seconds:.0f}s at 1 req/s paced at {result['share']:g} (+1 s for each of "
        f"{at_scale_chunks} chunks); the shipping queue alone is {shipping} requests at this shape, "
        f"{shipping / result['share']:.0f}s; before: the first pull read all {BEFORE_ORDER_PAGES} pages of "
        f"orders before the shipping queue was complete, over an hour)"
    )
    return goal_line(
        "first_work", f"{seconds:.0f}s", GOAL_TARGETS["first_work"], note, ok=whole and seconds <= 300
    )
