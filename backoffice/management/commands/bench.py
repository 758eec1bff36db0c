"""`python manage.py bench`: how fast a full mirror sync runs, against a bare baseline.

For each shop size (20k listings + 20k orders, then a 2k shop, the rest in proportion):
1. the emulator runs as its own process on loopback (so it does not share our interpreter's GIL);
2. a worker process syncs every resource into a fresh SQLite database, then syncs again with nothing
   changed, counting queries per page, mirror writes, requests, and its own peak memory;
3. a baseline process fetches the very same URLs with a plain `requests.Session`, parses them and writes
   each page with one `executemany` into a plain SQLite table.
The last line is machine-readable; see the Mirrors issue for the targets.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from emulator.app import SIZES

from ._bench_pgsync import (
    TARGET_RATIO,
    backend_cpu_seconds,
    check_scratch,
    empty_scratch_database,
    is_postgres,
    pg_sync_goal,
    postgres_baseline,
)

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
TOKEN = "bench-token"
# A write and its table.
WRITE_RE = re.compile(r'^\s*(INSERT|UPDATE|DELETE)\s+(?:INTO\s+|FROM\s+)?"?(\w+)"?', re.IGNORECASE)
# Bookkeeping tables: the run records themselves, not mirror data.
BOOKKEEPING = {"backoffice_syncrun", "backoffice_synclogentry"}


# The goals, in the order `bench` prints them, with their targets.
GOAL_TARGETS = {
    "economy": "<=360req/h",
    "night": "<=600s/task",
    "bulk": ">=0.9budget",
    "admin": "<300ms",
    "pg_sync": f"<={TARGET_RATIO}x",
    "scaled_path": "no-loss",
    "stock": "300",
    "stock_burst": "0/0",
    "first_work": "<=300s",
    "team": "<300ms",
}
GOALS = ["sync", *GOAL_TARGETS]
# Every goal has its scenario; one that cannot run here (no PostgreSQL URL, no redis-server) prints its own
# value=n/a ... SHORT line saying why, never a made-up figure.


def goal_line(goal: str, value: str | None, target: str, note: str, ok: bool = False) -> str:
    """`  <goal>: note` then `bench goal=<goal> value=<figure> target=<target> ok|SHORT` (the line a script
    reads, exactly that form); a goal not measured is `value=n/a` and SHORT, the note saying why."""
    verdict = "ok" if value is not None and ok else "SHORT"
    return f"  {goal}: {note}\nbench goal={goal} value={value or 'n/a'} target={target} {verdict}"


def admin_worker(workdir: Path, orders: int) -> None:
    from ._bench_admin import measure

    empty_scratch_database()  # on PostgreSQL (a scratch database, its name checked by the caller)
    (workdir / "admin.json").write_text(json.dumps(measure(orders)))


def shop_size(listings: int) -> str:
    """The bench preset scaled to `listings` (20k listings and 20k orders, the rest in proportion)."""
    scale = listings / SIZES["bench"]["listings"]
    return ",".join(f"{kind}={max(1, round(n * scale))}" for kind, n in SIZES["bench"].items())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def emulator_process(size: str, *extra: str, rate: float = 0) -> Iterator[str]:
    """The emulator on a free port; unthrottled unless `rate` (requests/s) is given: the sync figures
    measure our code, not Reverb's pacing (a 429's wait would dwarf them). `extra`: more of its flags."""
    port = free_port()
    cmd = [
        sys.executable,
        MANAGE,
        "reverb_emulator",
        "--port",
        str(port),
        "--seed",
        "1",
        "--size",
        size,
        "--token",
        TOKEN,
        "--rate",
        str(rate),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise CommandError(f"the emulator exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                requests.get(f"{origin}/__emulator__/faults", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise CommandError("the emulator did not start within 300 s")
        yield f"{origin}/api"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_worker(
    mode: str, api_url: str, workdir: Path, per_page: int, database_url: str = "", *extra: str
) -> dict[str, Any]:
    out = workdir / f"{mode}.json"
    database_url = database_url or f"sqlite:///{workdir / 'mirror.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    cmd = [
        sys.executable,
        MANAGE,
        "bench",
        "--worker",
        mode,
        "--api-url",
        api_url,
        "--workdir",
        str(workdir),
        "--per-page",
        str(per_page),
        *extra,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        raise CommandError(f"{mode} worker failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(out.read_text())


def with_page_size(url: str, page: int, per_page: int) -> str:
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in {"page", "per_page"}
    ]
    query += [("page", str(page)), ("per_page", str(per_page))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def expected_requests(urls: list[str], per_page: int) -> tuple[int, dict[str, int]]:
    """Sum over every collection the sync read of ceil(total / per_page), where `total` comes from the
    emulator itself (a one-item probe of the collection's first page). A URL that is not a collection
    page (a per-object detail read) expects 0 requests, so such calls show up as requests > expected."""
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {TOKEN}", "Accept-Version": "3.0", "Accept": "application/hal+json"}
    )
    collections: dict[str, str] = {}
    for url in urls:
        parts = urlsplit(url)
        query = sorted((k, v) for k, v in parse_qsl(parts.query) if k not in {"page", "per_page", "offset"})
        collections.setdefault(f"{parts.path}?{urlencode(query)}", url)
    expected, per_collection = 0, {}
    for name, url in collections.items():
        data = session.get(with_page_size(url, 1, 1), timeout=30).json()
        total = data.get("total") if isinstance(data, dict) else None
        pages = math.ceil(total / per_page) if isinstance(total, int) else 0
        pages = max(pages, 1) if isinstance(total, int) else 0  # an empty collection is still one request
        per_collection[name] = pages
        expected += pages
    return expected, per_collection


class Command(BaseCommand):
    help = "Benchmark a full mirror sync over loopback HTTP against a bare requests+sqlite3 baseline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes",
            default="5000,500",
            help="listing counts, largest first (the sync figures are per record, so they scale; the "
            "issue measured 20000,2000 and 100000)",
        )
        parser.add_argument("--per-page", type=int, default=settings.REVERB_PER_PAGE)
        parser.add_argument(
            "--admin-orders",
            type=int,
            default=20_000,
            help="orders in the admin scenario's shop (the issue's size is 200000; the default fits the "
            "15 minutes; PostgreSQL's index paths keep the figure nearly flat with size)",
        )
        parser.add_argument(
            "--admin-database-url",
            default=os.environ.get("BENCH_ADMIN_DATABASE_URL", ""),
            help="a scratch database for the admin scenario (it is emptied; its name must contain "
            "'bench'), e.g. postgres://bo:bo@127.0.0.1:5432/bo_bench; default a temporary SQLite file",
        )
        parser.add_argument(
            "--economy-listings",
            type=int,
            default=2_000,
            help="listings in the economy scenario's shop (twice as many orders; the issue's size is 100000)",
        )
        parser.add_argument(
            "--pg-database-url",
            default=os.environ.get("BENCH_PG_DATABASE_URL", ""),
            help="a scratch PostgreSQL database for the pg_sync scenario (it is emptied; its name must "
            "contain 'bench'), e.g. postgres://bo:bo@127.0.0.1:5432/bo_bench; without it pg_sync is n/a",
        )
        parser.add_argument(
            "--pg-sync-listings", type=int, default=2000, help="listings in the pg_sync scenario's shop"
        )
        parser.add_argument(
            "--pg-sync-repeat",
            type=int,
            default=5,
            help="pg_sync's interleaved pairs of sync and baseline runs; the median pair ratio counts",
        )
        parser.add_argument(
            "--goals", default=",".join(GOALS), help=f"which scenarios to run, of {','.join(GOALS)}"
        )
        parser.add_argument(
            "--night-listings",
            type=int,
            default=5_000,
            help="listings in the night scenario's shop (twice as many orders; the issue's is 100000)",
        )
        parser.add_argument(
            "--first-work-listings",
            type=int,
            default=2_000,
            help="listings in the first_work scenario's shop (the big shop's shape; the issue's is 100000)",
        )
        from ._bench_scaled import add_arguments as add_scaled_arguments

        add_scaled_arguments(parser)
        from ._bench_team import add_arguments as add_team_arguments

        add_team_arguments(parser)
        workers = ["sync", "baseline", "admin", "night", "scaled", "first_work", "team"]
        parser.add_argument("--worker", choices=workers, help=argparse_hidden())
        parser.add_argument("--orders", type=int, default=0, help=argparse_hidden())
        parser.add_argument("--api-url", help=argparse_hidden())
        parser.add_argument("--workdir", help=argparse_hidden())

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["worker"] == "sync":
            return sync_worker(opts["api_url"], Path(opts["workdir"]), opts["per_page"])
        if opts["worker"] == "baseline":
            return baseline_worker(opts["api_url"], Path(opts["workdir"]), os.environ.get("DATABASE_URL", ""))
        if opts["worker"] == "admin":
            return admin_worker(Path(opts["workdir"]), opts["orders"])
        if opts["worker"] == "night":
            from ._bench_night import night_worker

            return night_worker(opts["api_url"], Path(opts["workdir"]), opts["per_page"])
        if opts["worker"] == "first_work":
            from ._bench_first_work import first_work_worker

            return first_work_worker(opts["api_url"], Path(opts["workdir"]), opts["per_page"])
        if opts["worker"] == "team":
            from ._bench_team import team_worker

            return team_worker(opts["api_url"], Path(opts["workdir"]), opts["orders"])
        if opts["worker"] == "scaled":
            from ._bench_scaled import worker as scaled_worker

            return scaled_worker(Path(opts["workdir"]))
        goals = [g.strip() for g in opts["goals"].split(",") if g.strip()]
        unknown = set(goals) - set(GOALS)
        if unknown:
            raise CommandError(f"unknown goals: {', '.join(sorted(unknown))}")
        lines: dict[str, str] = {}
        if "economy" in goals:
            from ._bench_economy import measure

            lines["economy"] = measure(opts["economy_listings"], self.stdout.write)
        if "admin" in goals:
            lines["admin"] = self.admin_goal(opts["admin_orders"], opts["admin_database_url"])
        if "night" in goals:
            from ._bench_night import night_goal

            lines["night"] = night_goal(self.stdout, opts["night_listings"], opts["per_page"])
        if "first_work" in goals:
            from ._bench_first_work import first_work_goal

            lines["first_work"] = first_work_goal(self.stdout, opts["first_work_listings"], opts["per_page"])
        if "bulk" in goals or "scaled_path" in goals:
            from ._bench_scaled import goal_lines as scaled_goal_lines

            lines.update(scaled_goal_lines(self.stdout, goals, opts))
        if "team" in goals:
            from ._bench_team import team_goal

            lines["team"] = team_goal(self.stdout, opts)
        if "sync" in goals:
            self.sync_bench(opts)
        if "pg_sync" in goals:
            lines["pg_sync"] = pg_sync_goal(
                self.stdout,
                opts["pg_sync_listings"],
                opts["per_page"],
                opts["pg_database_url"],
                opts["pg_sync_repeat"],
            )
        for goal in GOAL_TARGETS:  # in the order
            if goal == "stock" and goal in goals:  # inventory/management/commands/bench_stock.py prints it
                call_command("bench_stock", stdout=self.stdout)
            elif goal == "stock_burst" and goal in goals:  # and bench_stock_burst.py this one
                call_command("bench_stock_burst", pg_database_url=opts["pg_database_url"], stdout=self.stdout)
            elif goal in goals:
                self.stdout.write(lines[goal])

    def admin_goal(self, orders: int, database_url: str) -> str:
        check_scratch(database_url, "--admin-database-url")
        self.stdout.write(f"admin: {orders} orders on {urlsplit(database_url).scheme or 'sqlite'}")
        with tempfile.TemporaryDirectory(prefix="bench-admin-") as tmp:
            result = run_worker("admin", "", Path(tmp), 0, database_url, "--orders", str(orders))
        worst_name, worst = "", 0.0
        for name, page in result["pages"].items():
            self.stdout.write(
                f"    {page['ms']:8.1f} ms  {page['queries']:3d} queries  HTTP {page['status']}  {name}"
            )
            if page["status"] != 200:
                raise CommandError(f"admin: {name} answered HTTP {page['status']}")
            if page["ms"] > worst:
                worst_name, worst = name, page["ms"]
        self.stdout.write(
            f"    migrated in {result['migrate_seconds']:.0f}s, seeded in {result['seed_seconds']:.0f}s; "
            f"worst: {worst_name}"
        )
        note = f"({result['orders']} orders on {result['vendor']}, median of 5, worst page)"
        return goal_line("admin", f"{worst:.0f}ms", GOAL_TARGETS["admin"], note, ok=worst < 300)

    def sync_bench(self, opts: dict[str, Any]) -> None:
        sizes = [int(s) for s in opts["sizes"].split(",")]
        per_page = opts["per_page"]
        results = []
        for listings in sizes:
            size = shop_size(listings)
            self.stdout.write(f"shop {size}: starting the emulator")
            with emulator_process(size) as api_url, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
                workdir = Path(tmp)
                ours = run_worker("sync", api_url, workdir, per_page)
                bare = run_worker("baseline", api_url, workdir, per_page)
                urls = json.loads((workdir / "urls.json").read_text())
                expected, per_collection = expected_requests(urls, per_page)
            ours.update(
                listings=listings,
                baseline_seconds=bare["seconds"],
                expected_requests=expected,
                baseline_records=bare["records"],
            )
            results.append(ours)
            self.stdout.write(
                f"  full sync: {ours['records']} records in {ours['seconds']:.2f}s "
                f"({ours['records'] / ours['seconds']:,.0f}/s); baseline {bare['records']} records in "
                f"{bare['seconds']:.2f}s; requests {ours['requests']} (expected {expected}); "
                f"queries/page max {ours['queries_per_page']}; second sync {ours['second_seconds']:.2f}s, "
                f"{ours['second_sync_writes']} mirror writes; peak RSS {ours['max_rss_kb'] / 1024:.0f} MiB"
            )
            for name, pages in per_collection.items():
                self.stdout.write(f"    {pages:6d} pages  {name}")
        big, small = results[0], results[-1]
        self.stdout.write(
            f"bench: records_per_s={big['records'] / big['seconds']:.0f} "
            f"baseline_ratio={big['seconds'] / big['baseline_seconds']:.2f} "
            f"requests={big['requests']} expected_requests={big['expected_requests']} "
            f"queries_per_page={max(r['queries_per_page'] for r in results)} "
            f"second_sync_writes={max(r['second_sync_writes'] for r in results)} "
            f"memory_ratio={big['max_rss_kb'] / small['max_rss_kb']:.2f}"
        )


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


class QueryCounter:
    """Counts every SQL statement, and mirror-table writes, through Django's execute wrapper."""

    def __init__(self) -> None:
        self.queries = 0
        self.mirror_writes = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.queries += 1
        match = WRITE_RE.match(sql)
        if match and match.group(2).lower() not in BOOKKEEPING:
            self.mirror_writes += 1
        return execute(sql, params, many, context)


def sync_worker(api_url: str, workdir: Path, per_page: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from backoffice.models import ReverbAccount
    from backoffice.reverb.ratelimit import UnlimitedRateLimiter
    from backoffice.sync import runner

    empty_scratch_database()
    call_command("migrate", verbosity=0)
    # Measure what production runs: with DEBUG on (the development default) Django also renders every
    # statement with its parameters into connection.queries, a dev-only cost larger than some of the work
    # measured. Queries are still counted, by QueryCounter below.
    settings.DEBUG = False
    account = ReverbAccount(name="bench", api_url=api_url, currency="USD")
    account.set_token(TOKEN)
    account.save()
    urls: list[str] = []
    # The emulator has no rate limit; the bench measures our code, not Reverb's pacing.
    client = account.client(rate_limiter=UnlimitedRateLimiter(), per_page=per_page)
    client.session.hooks["response"].append(lambda r, *a, **k: urls.append(r.url))

    counter = QueryCounter()
    page_queries: list[int] = []
    land_page = runner.land_page

    def counted_land_page(*args: Any, **kwargs: Any) -> Any:
        before = counter.queries
        try:
            return land_page(*args, **kwargs)
        finally:
            page_queries.append(counter.queries - before)

    runner.land_page = counted_land_page
    with connection.execute_wrapper(counter):
        cpu_before, db_cpu_before = time.process_time(), backend_cpu_seconds()
        started = time.perf_counter()
        runs = runner.sync_account(account, full=True, client=client)
        seconds = time.perf_counter() - started
        cpu_seconds, db_cpu_after = time.process_time() - cpu_before, backend_cpu_seconds()
        all_runs = [r for run in runs for r in (run, *getattr(run, "children", []))]
        failed = [f"{r.resource}: {r.error}" for r in all_runs if r.error]
        records = sum(r.fetched for r in all_runs)
        requests_sent = client.request_count
        first_urls = list(urls)
        writes_before = counter.mirror_writes
        started = time.perf_counter()
        runner.sync_account(account, full=True, client=client)
        second_seconds = time.perf_counter() - started
        second_writes = counter.mirror_writes - writes_before
    (workdir / "urls.json").write_text(json.dumps(first_urls))
    result = {
        "records": records,
        "seconds": seconds,
        "requests": requests_sent,
        "failed": failed,
        "queries_per_page": max(page_queries, default=0),
        "pages": len(page_queries),
        "cpu_seconds": cpu_seconds,
        "db_cpu_seconds": None
        if db_cpu_before is None or db_cpu_after is None
        else db_cpu_after - db_cpu_before,
        "second_seconds": second_seconds,
        "second_sync_writes": second_writes,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    (workdir / "sync.json").write_text(json.dumps(result))


def baseline_worker(api_url: str, workdir: Path, database_url: str = "") -> None:
    """The same pages, fetched and stored with nothing but requests, json and sqlite3 (or psycopg, one
    multi-row INSERT per page, when `database_url` is a PostgreSQL one)."""
    urls = json.loads((workdir / "urls.json").read_text())
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {TOKEN}",
            "Accept-Version": "3.0",
            "Accept": "application/hal+json",
            "Content-Type": "application/hal+json",
        }
    )

    def fetch(url: str) -> tuple[str | None, list[Any]]:
        response = session.get(url, timeout=60)
        response.raise_for_status()
        data = response.json()
        key = (
            next((k for k, v in data.items() if isinstance(v, list)), None)
            if isinstance(data, dict)
            else None
        )
        return key, data[key] if key else [data]

    started = time.perf_counter()
    if is_postgres(database_url):
        records = postgres_baseline(urls, fetch, database_url)
    else:
        db = sqlite3.connect(workdir / "baseline.sqlite3")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE item (collection TEXT, body TEXT)")
        records = 0
        for url in urls:
            key, items = fetch(url)
            db.executemany("INSERT INTO item VALUES (?, ?)", [(key, json.dumps(i)) for i in items])
            db.commit()
            records += len(items)
    seconds = time.perf_counter() - started
    (workdir / "baseline.json").write_text(json.dumps({"records": records, "seconds": seconds}))
