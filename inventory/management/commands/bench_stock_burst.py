"""`manage.py bench_stock_burst` (also `manage.py bench --goals stock_burst`): parallel API bursts on one
SKU, as an integrating system sends them (issue 23).

In a scratch PostgreSQL database (`--pg-database-url`, emptied and migrated in a child process; SQLite
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

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

BURSTS = 5
THREADS = 20
TOKEN = "bench-burst-token"
API_URL = "http://bench-burst.test/api"
BUDGET = (200.0, 1)  # requests/s and burst of the account's budget: each send waits its turn
TARGET = "0/0"


class Command(BaseCommand):
    help = "Benchmark parallel stock API bursts on one SKU: duplicate PUTs / final mismatches (target 0/0)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--pg-database-url",
            default=os.environ.get("BENCH_PG_DATABASE_URL", ""),
            help="a scratch PostgreSQL database (emptied; its name must contain 'bench'); without it n/a",
        )
        parser.add_argument("--inner", action="store_true", help="(internal) run in this database")

    def handle(self, *args: Any, **opts: Any) -> None:
        from backoffice.management.commands._bench_pgsync import check_scratch, is_postgres

        if opts["inner"]:
            return self.inner()
        url = opts["pg_database_url"]
        if not is_postgres(url):
            self.stdout.write(
                "  stock_burst: needs --pg-database-url (PostgreSQL: SQLite serialises writers)\n"
                f"bench goal=stock_burst value=n/a target={TARGET} SHORT"
            )
            return
        check_scratch(url, "--pg-database-url")
        self.stdout.write(
            f"stock_burst: {BURSTS} bursts of {THREADS} parallel API calls on {urlsplit(url).path}"
        )
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "WORKER_BACKEND": "none",  # each thread runs the drain task itself, as its worker would
            "REVERB_RATE_BUDGET": "local",
            "REVERB_RATE_PER_SECOND": str(BUDGET[0]),
            "REVERB_RATE_BURST": str(BUDGET[1]),
            "LOG_LEVEL": "ERROR",
            "ALLOWED_HOSTS": "testserver",
        }
        code = "from backoffice.management.commands._bench_pgsync import empty_scratch_database as e; e()"
        subprocess.run([sys.executable, manage, "shell", "--no-imports", "-c", code], env=env, check=True)
        subprocess.run([sys.executable, manage, "migrate", "-v0"], env=env, check=True)
        done = subprocess.run([sys.executable, manage, "bench_stock_burst", "--inner"], env=env)
        if done.returncode:
            raise SystemExit(done.returncode)

    def inner(self) -> None:
        from django.db import connections
        from rest_framework.test import APIClient

        from backoffice.audit import ApiCall
        from backoffice.models import ReverbAccount
        from backoffice.reverb.transport import register_transport
        from backoffice.sync.runner import sync_resource
        from emulator import Emulator
        from emulator.adapter import EmulatorAdapter
        from inventory import tasks
        from inventory.models import Integration, StockIntent
        from listings.editing import INVENTORY_CONDITIONS
        from listings.models import Listing

        emulator = Emulator(token=TOKEN, seed=1, size="tiny", rate_per_second=0)
        register_transport("http://bench-burst.test/", EmulatorAdapter(emulator))
        account = ReverbAccount(name="bench-burst", api_url=API_URL)
        account.set_token(TOKEN)
        account.save()
        sync_resource(account, "listings")
        integration = Integration(account=account, name="bench")
        key = integration.new_key()
        integration.save()
        listing = (
            Listing.objects.filter(account=account, state="live", condition_uuid__in=INVENTORY_CONDITIONS)
            .order_by("pk")
            .first()
        )
        assert listing is not None, "the emulator's shop has no listing that holds a quantity"

        def call(quantity: int, barrier: threading.Barrier, statuses: list[int]) -> None:
            try:
                api = APIClient()
                api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
                barrier.wait(60)
                answer = api.put(
                    "/api/v1/stock/",
                    {"items": [{"sku": listing.sku, "quantity": quantity}]},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY=f"burst-{quantity}",
                )
                statuses.append(answer.status_code)
                if answer.status_code == 200:
                    tasks.drain_account(account.pk)
            except Exception as exc:  # counted: a call that failed is a finding, not a crash of the bench
                statuses.append(type(exc).__name__)
            finally:
                connections.close_all()

        mismatches, statuses, started = 0, [], time.perf_counter()
        for burst in range(BURSTS):
            quantities = [1000 * (burst + 1) + n for n in range(THREADS)]
            barrier = threading.Barrier(THREADS)
            threads = [threading.Thread(target=call, args=(q, barrier, statuses)) for q in quantities]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            intent = StockIntent.objects.filter(listing=listing).first()
            with emulator.lock:
                on_reverb = emulator.store.table("listings")[int(listing.reverb_id)]["inventory"]
            good = (
                intent is not None
                and on_reverb == intent.quantity
                and intent.sent_quantity == on_reverb
                and intent.status == StockIntent.Status.SENT
            )
            mismatches += not good
            wanted, shown = (intent.quantity, intent.sent_quantity) if intent else ("-", "-")
            self.stdout.write(
                f"  stock_burst: burst {burst + 1}: Reverb {on_reverb}, wanted {wanted}, "
                f"shown as on Reverb {shown}"
            )
        sent = Counter(
            put.request_summary.get("inventory")
            for put in ApiCall.objects.filter(action="listings.push", target_key=listing.reverb_id)
        )
        duplicates = sum(n - 1 for n in sent.values() if n > 1)
        failed = [s for s in statuses if s != 200]
        ok = duplicates == 0 and mismatches == 0 and not failed
        self.stdout.write(
            f"  stock_burst: {BURSTS * THREADS} API calls, {len(failed)} not 200 {dict(Counter(failed))}, "
            f"{sum(sent.values())} PUTs, {duplicates} duplicate, {mismatches} burst(s) ending wrong, "
            f"{time.perf_counter() - started:.1f} s"
        )
        verdict = "ok" if ok else "SHORT"
        self.stdout.write(f"bench goal=stock_burst value={duplicates}/{mismatches} target={TARGET} {verdict}")
