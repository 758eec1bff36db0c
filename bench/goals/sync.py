"""The `sync` scenario of `bench`: how fast a full mirror sync runs, against a bare baseline.

For each shop size (20k listings + 20k orders, then a 2k shop, the rest in proportion):
1. the emulator runs as its own process on loopback (so it does not share our interpreter's GIL);
2. a worker process syncs every resource into a fresh SQLite database, then syncs again with nothing
   changed, counting queries per page, mirror writes, requests, and its own peak memory;
3. a baseline process fetches the very same URLs with a plain `requests.Session`, parses them and writes
   each page with one `executemany` into a plain SQLite table (or one multi-row INSERT into PostgreSQL:
   the pg_sync scenario runs these two workers on both databases).
The last line is machine-readable; see the Mirrors issue for the targets.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from bench.kit import (
    TOKEN,
    bench_account,
    emulator_process,
    fresh_database,
    is_postgres,
    run_worker,
    shop_size,
)

# A write and its table.
WRITE_RE = re.compile(r'^\s*(INSERT|UPDATE|DELETE)\s+(?:INTO\s+|FROM\s+)?"?(\w+)"?', re.IGNORECASE)
# Bookkeeping tables: the run records themselves, not mirror data.
BOOKKEEPING = {"backoffice_syncrun", "backoffice_synclogentry"}
BASELINE_TABLE = "bench_baseline_item"


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


def sync_goal(out: Any, sizes: list[int], per_page: int) -> None:
    """Run the scenario for each size; write the detail lines and the machine-readable `bench:` line."""
    results = []
    for listings in sizes:
        size = shop_size(listings)
        out.write(f"shop {size}: starting the emulator")
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
        out.write(
            f"  full sync: {ours['records']} records in {ours['seconds']:.2f}s "
            f"({ours['records'] / ours['seconds']:,.0f}/s); baseline {bare['records']} records in "
            f"{bare['seconds']:.2f}s; requests {ours['requests']} (expected {expected}); "
            f"queries/page max {ours['queries_per_page']}; second sync {ours['second_seconds']:.2f}s, "
            f"{ours['second_sync_writes']} mirror writes; peak RSS {ours['max_rss_kb'] / 1024:.0f} MiB"
        )
        for name, pages in per_collection.items():
            out.write(f"    {pages:6d} pages  {name}")
    big, small = results[0], results[-1]
    out.write(
        f"bench: records_per_s={big['records'] / big['seconds']:.0f} "
        f"baseline_ratio={big['seconds'] / big['baseline_seconds']:.2f} "
        f"requests={big['requests']} expected_requests={big['expected_requests']} "
        f"queries_per_page={max(r['queries_per_page'] for r in results)} "
        f"second_sync_writes={max(r['second_sync_writes'] for r in results)} "
        f"memory_ratio={big['max_rss_kb'] / small['max_rss_kb']:.2f}"
    )


# ---- the workers (each in its own process) ---------------------------------------------------------------


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


def backend_cpu_seconds() -> float | None:
    """CPU time the PostgreSQL backend serving Django's connection has used so far (it runs on this
    machine in the bench; None when its /proc entry cannot be read)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def sync_worker(api_url: str, workdir: Path, per_page: int) -> None:
    from django.db import connection

    from backoffice.reverb.ratelimit import UnlimitedRateLimiter
    from backoffice.sync import runner

    fresh_database()
    account = bench_account(api_url)
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


def postgres_baseline(urls: list[str], fetch: Any, database_url: str) -> int:
    """Fetch every URL (`fetch(url) -> items`) and write each page with one multi-row INSERT into a plain
    PostgreSQL table, committing per page as the sync does; returns the record count."""
    import psycopg

    records = 0
    with psycopg.connect(database_url) as db:
        db.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
        db.execute(f"CREATE TABLE {BASELINE_TABLE} (collection text, body text)")
        db.commit()
        for url in urls:
            key, items = fetch(url)
            if items:
                values = ", ".join(["(%s, %s)"] * len(items))
                params = [v for item in items for v in (key, json.dumps(item))]
                db.execute(f"INSERT INTO {BASELINE_TABLE} VALUES {values}", params)
            db.commit()
            records += len(items)
    return records


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
