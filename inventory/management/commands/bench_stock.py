"""`manage.py bench_stock` (also `manage.py bench --goal stock`): 10,000 stock rows of which 300 change.

In a fresh SQLite database (a child process), against the in-process emulator with a 10,000-listing shop:
pull the listings, PUT the 10,000 rows as they are on Reverb through the API (nothing to send), then PUT
them again with 300 changed (100 to zero, 200 to a new quantity) in batches of 1,000, and drain the queue.
Prints the time to accept a batch, the requests sent (every request the drain's client sent, retries and
429s included: the stock-only push is one PUT of the inventory per listing, no re-read, no SKU look-up),
whether every zero went before every other change, how long the drain takes at the configured budget
(computed by default; measured with --paced, about 300 s), and the machine-readable line
`bench goal=stock value=<requests sent> target=300 ok|SHORT`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

ROWS = 10_000
ZEROS = 100
CHANGES = 300
BATCH = 1_000
TOKEN = "bench-stock-token"
API_URL = "http://bench-stock.test/api"


class Command(BaseCommand):
    help = "Benchmark the stock API and queue: 10,000 rows of which 300 change -> requests sent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--inner", action="store_true", help="(internal) run in this database")
        parser.add_argument(
            "--paced",
            action="store_true",
            help="drain at the configured budget against an emulator that answers 429 beyond Reverb's "
            "pace (takes about 300 s at 1 request/s); by default neither paces and the time at the budget "
            "is computed from the requests sent",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["inner"]:
            return self.inner(paced=os.environ.get("BENCH_PACED") == "1")
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        with tempfile.TemporaryDirectory(prefix="bench-stock-") as tmp:
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "WORKER_BACKEND": "none",  # not sent: the bench drains itself
                "REVERB_RATE_BUDGET": "local",
                "BENCH_BUDGET_PER_SECOND": str(settings.REVERB_RATE_PER_SECOND),
                "BENCH_PACED": "1" if opts["paced"] else "0",
                "REVERB_RATE_PER_SECOND": "100000",
                "REVERB_RATE_BURST": "100000",
                "LOG_LEVEL": "ERROR",
                "ALLOWED_HOSTS": "testserver",
            }
            subprocess.run([sys.executable, manage, "migrate", "-v0"], env=env, check=True)
            done = subprocess.run([sys.executable, manage, "bench_stock", "--inner"], env=env)
            if done.returncode:
                raise SystemExit(done.returncode)

    def inner(self, *, paced: bool) -> None:
        from rest_framework.test import APIClient

        from backoffice.models import ReverbAccount
        from backoffice.reverb.ratelimit import LocalTokenBucket
        from backoffice.reverb.transport import register_transport
        from backoffice.sync.runner import sync_resource
        from emulator import Emulator
        from emulator.adapter import EmulatorAdapter
        from emulator.app import DEFAULT_RATE_BURST
        from inventory import services
        from inventory.models import Integration, StockIntent
        from listings.editing import INVENTORY_CONDITIONS
        from listings.models import Listing

        budget = float(os.environ.get("BENCH_BUDGET_PER_SECOND", "1"))
        # The pulls and the API need no pacing to be measured; --paced drains at Reverb's pace below.
        emulator = Emulator(token=TOKEN, seed=1, size=ROWS, rate_per_second=0)
        register_transport("http://bench-stock.test/", EmulatorAdapter(emulator))
        account = ReverbAccount(name="bench-stock", api_url=API_URL)
        account.set_token(TOKEN)
        account.save()
        sync_resource(account, "listings")
        integration = Integration(account=account, name="bench")
        key = integration.new_key()
        integration.save()
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

        listings = list(
            Listing.objects.filter(account=account, missing=False).exclude(sku="").order_by("reverb_id")
        )
        current: dict[str, int] = {}
        for listing in listings:
            current[listing.sku] = listing.inventory or 0
        skus = sorted(current)
        rows = [{"sku": s, "quantity": current[s]} for s in skus]
        rows += rows[: ROWS - len(rows)]  # pad to exactly ROWS (repeats change nothing)
        per_sku = Counter(x.sku for x in listings)
        unique = [
            x
            for x in listings
            if x.state == "live" and x.condition_uuid in INVENTORY_CONDITIONS and per_sku[x.sku] == 1
        ]
        to_zero = {x.sku for x in unique[:ZEROS]}
        to_more = {x.sku for x in unique[ZEROS:CHANGES]}

        def put_all(batch_rows: list[dict[str, Any]], tag: str) -> list[float]:
            times = []
            for n in range(0, len(batch_rows), BATCH):
                started = time.perf_counter()
                answer = api.put(
                    "/api/v1/stock/",
                    {"items": batch_rows[n : n + BATCH]},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY=f"{tag}-{n}",
                )
                times.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.content[:300]
            return times

        before = sum(emulator.requests.values())
        put_all(rows, "same")
        assert not StockIntent.objects.filter(status="queued").exists()
        changed_rows = [
            {
                "sku": r["sku"],
                "quantity": 0
                if r["sku"] in to_zero
                else r["quantity"] + 2
                if r["sku"] in to_more
                else r["quantity"],
            }
            for r in rows
        ]
        # Zeros are listed last in the batches: the queue must still send them first.
        changed_rows.sort(key=lambda r: r["sku"] in to_zero)
        times = put_all(changed_rows, "changed")
        accepted_requests = sum(emulator.requests.values()) - before
        waiting = services.queue_state(account)
        started = time.perf_counter()
        before_drain = Counter(emulator.requests)
        if paced:  # the real budget in front of an emulator that answers 429 beyond it
            emulator.pace = (budget, DEFAULT_RATE_BURST)
            client = account.client(rate_limiter=LocalTokenBucket(budget, DEFAULT_RATE_BURST))
        else:
            client = account.client()
        result = services.drain(account, client=client)
        during = Counter(emulator.requests)
        during.subtract(before_drain)
        sent_requests = client.request_count  # every request the client sent, retries and 429s included
        drain_seconds = time.perf_counter() - started
        puts = during.get(("PUT", "/api/listings/{listing_id}"), 0)
        reads = during.get(("GET", "/api/listings/{listing_id}"), 0)
        relists = during.get(("PUT", "/api/my/listings/{listing_id}/state/end"), 0)
        lookups = during.get(("GET", "/api/my/listings"), 0)
        zeros_first = all(sku in to_zero for sku in result.order[: len(to_zero)])
        self.stdout.write(
            f"stock: {len(rows)} rows in {len(times)} PUTs of {BATCH}; accepted in "
            f"{max(times) * 1000:.0f} ms per batch at most ({sum(times):.2f} s in all), "
            f"{accepted_requests} request(s) to Reverb while accepting"
        )
        self.stdout.write(
            f"stock: {waiting.waiting} queued ({len(to_zero)} zeros); drained in {drain_seconds:.2f} s here"
            f"{' at the budget' if paced else ''}; "
            f"at the budget of {budget:g} requests/s it takes about {sent_requests / budget:.0f} s "
            f"(the admin's ETA said {waiting.waiting * services.REQUESTS_PER_SEND / budget:.0f} s)"
        )
        self.stdout.write(
            f"stock: requests sent: {sent_requests} in all ({sum(during.values())} answered); "
            f"{puts} listing PUTs, {reads} re-reads, "
            f"{lookups} SKU look-ups, {relists} ends; zeros first: {'yes' if zeros_first else 'NO'}; "
            f"sent {result.sent}, failed {result.failed}, left {result.left}"
        )
        # The goal counts every request the drain sent, whatever its route.
        ok = sent_requests == CHANGES and zeros_first and result.failed == 0
        verdict = "ok" if ok else "SHORT"
        self.stdout.write(f"bench goal=stock value={sent_requests} target={CHANGES} {verdict}")
