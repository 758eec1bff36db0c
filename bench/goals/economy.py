"""The `economy` scenario of `bench`: what keeping a shop fresh costs in requests when nothing changes.

1. An emulator process (no rate limit) with a shop of `listings`
   listings, twice as many orders and the rest in the `bench` preset's proportions (the issue's shop is
   100,000 listings and 200,000 orders).
2. A worker process with its own SQLite mirror runs a first sync, then one simulated hour of the pull
   schedules of backoffice/background/schedules.py: each pull as many times as the hour holds (12 x a
   5-minute one, 1 x an hourly one), with nothing changing at Reverb. Requests are counted per resource
   from the SyncRun rows (what the admin shows), and checked against every request the client sent.
3. Then one new order, one refund request, one offer and one message (in the oldest conversation, the
   hardest case for a newest-first read) happen at Reverb; one run of each 5-minute pull must bring each
   into the mirror.

The per-resource figures are printed with how they grow with the shop: a resource whose steady-state
cost is one request per pull is constant; one that scans is proportional to its collection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.kit import GOAL_TARGETS, bench_account, fresh_database, goal_line, worker_on_emulator
from emulator.app import SIZES

BUDGET_PER_HOUR = 360  # 10% of 1 request/s (issue 17, goal 1)


def shop_size(listings: int) -> str:
    """`listings` listings, twice as many orders (the issue's 100k/200k), the rest as the bench preset."""
    preset = SIZES["bench"]
    scale = listings / preset["listings"]
    sizes = {kind: max(1, round(n * scale)) for kind, n in preset.items()}
    sizes["orders"] = 2 * listings
    return ",".join(f"{kind}={n}" for kind, n in sizes.items())


def measure(listings: int, write: Callable[[str], None]) -> str:
    """Run the scenario; write the detail lines; return the goal line."""
    size = shop_size(listings)
    write(f"economy: shop {size}")
    # No rate limit at the emulator: the figure is a count of requests, not a time.
    result = worker_on_emulator("economy", size)
    for line in report_lines(result):
        write(line)
    total = result["hour_total"]
    fresh = all(result["fresh"].values())
    note = (
        f"(requests in one hour of schedules, nothing changing, {result['listings']} listings / "
        f"{result['orders']} orders; each new object in the mirror after one 5-minute pull: "
        f"{'yes' if fresh else 'NO'})"
    )
    ok = total <= BUDGET_PER_HOUR and fresh
    return goal_line("economy", f"{total}req/h", GOAL_TARGETS["economy"], note, ok=ok)


def report_lines(result: dict[str, Any]) -> list[str]:
    lines = [
        f"  first sync: {result['first_requests']} requests in {result['first_seconds']:.1f}s; "
        f"the hour: {result['hour_total']} requests ({result['hour_client']} sent by the client)",
        "    req/h  per pull  complete scan  resource (pulls/h)",
    ]
    for name, row in sorted(result["per_resource"].items(), key=lambda kv: -kv[1]["requests"]):
        per_pull = row["requests"] / row["pulls"] if row["pulls"] else 0
        scan = row["scan"] or 0
        lines.append(f"    {row['requests']:5d}  {per_pull:8.1f}  {scan:13d}  {name} ({row['pulls']})")
    lines.append(
        "    (a pull that costs one request per stream is constant with the shop's size; the complete scan,"
        " the first pull's cost, grows with it: ceil(rows / 50))"
    )
    for what, seen in result["fresh"].items():
        lines.append(f"  new {what}: {'in the mirror' if seen else 'NOT in the mirror'} after one pull")
    lines.append(f"  the 5-minute pulls that brought them: {result['fresh_requests']} requests")
    return lines


# ---- the worker process (its own SQLite mirror) ---------------------------------------------------------


def _post(api_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    origin = api_url.removesuffix("/api")
    response = requests.post(f"{origin}/__emulator__/{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def _pull_specs() -> list[tuple[list[str], int]]:
    """(resources, runs per hour) of every pull schedule."""
    from backoffice.background.schedules import PULL, SCHEDULES

    return [(list(s.kwargs["resources"]), max(1, 60 // s.minutes)) for s in SCHEDULES if s.func == PULL]


def worker(api_url: str, workdir: Path) -> None:
    """`bench --worker economy`, on its own SQLite mirror."""
    from django.db.models import Count, Sum

    from backoffice.models import SyncRun
    from backoffice.reverb.ratelimit import UnlimitedRateLimiter
    from backoffice.sync.runner import sync_account
    from listings.models import Listing
    from messaging.models import Message, Negotiation
    from orders.models import Order
    from refunds.models import RefundRequest

    fresh_database()
    account = bench_account(api_url)
    client = account.client(rate_limiter=UnlimitedRateLimiter())

    started = time.perf_counter()
    sync_account(account, client=client)
    first_seconds = time.perf_counter() - started
    first_requests = client.request_count

    hour_start = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    before = client.request_count
    for resources, runs in _pull_specs():
        for _ in range(runs):
            sync_account(account, resources, client=client)
    hour_client = client.request_count - before
    first = SyncRun.objects.filter(pk__lte=hour_start).values("resource").annotate(requests=Sum("requests"))
    scan = {r["resource"]: r["requests"] or 0 for r in first}
    rows = (
        SyncRun.objects.filter(pk__gt=hour_start)
        .values("resource")
        .annotate(requests=Sum("requests"), pulls=Count("pk"))
    )
    per_resource = {
        r["resource"]: {"requests": r["requests"] or 0, "pulls": r["pulls"], "scan": scan.get(r["resource"])}
        for r in rows
    }

    # Something happens at Reverb: is it in the mirror after one run of each 5-minute pull?
    order = _post(api_url, "simulate/new_order", {})
    refund = _post(api_url, "simulate/refund_request", {"order_number": order["order_number"]})
    offer = _post(api_url, "simulate/offer", {})
    oldest = _oldest_conversation(account)
    conversation = _post(api_url, "simulate/message", {"conversation_id": oldest, "body": "Still there?"})
    message = conversation["messages"][-1]
    before = client.request_count
    for resources, runs in _pull_specs():
        if runs >= 12:
            sync_account(account, resources, client=client)
    fresh_requests = client.request_count - before
    fresh = {
        "order": Order.objects.filter(account=account, reverb_id=str(order["order_number"])).exists(),
        "refund request": RefundRequest.objects.filter(account=account, reverb_id=str(refund["id"])).exists(),
        "offer": Negotiation.objects.filter(account=account, reverb_id=str(offer["id"])).exists(),
        "message": Message.objects.filter(account=account, reverb_id=str(message["id"])).exists(),
    }
    result = {
        "listings": Listing.objects.filter(account=account).count(),
        "orders": Order.objects.filter(account=account).count() - 1,
        "first_requests": first_requests,
        "first_seconds": first_seconds,
        "hour_total": sum(r["requests"] for r in per_resource.values()),
        "hour_client": hour_client,
        "per_resource": per_resource,
        "fresh": fresh,
        "fresh_requests": fresh_requests,
    }
    (workdir / "economy.json").write_text(json.dumps(result))


def _oldest_conversation(account: Any) -> str:
    """The conversation with the oldest last message: the last row of the newest-first list."""
    from messaging.models import Conversation

    rows = Conversation.objects.filter(account=account).order_by("last_message_at", "pk")
    return rows.values_list("reverb_id", flat=True).first() or ""
