"""The `pg_sync` scenario of `bench`: the mirror sync against a bare fetch-and-insert, on SQLite and on
PostgreSQL, with the same emulator shop and the very same pages.

For each database, back to back: the `sync` worker (a full sync of every resource into a fresh mirror)
then the `baseline` worker (the same URLs with `requests`, each page written with one multi-row INSERT
into a plain table: `executemany` into SQLite as in the `sync` scenario, one INSERT ... VALUES (...), ...
into PostgreSQL). The pair runs `repeat` times, interleaved (sync, baseline, sync, baseline, ...); each
pair's ratio compares two runs a few seconds apart, under about the same load from the rest of the shared
machine, and the figure is the median of the PostgreSQL pairs' ratios (the fastest of N kept each side's
lucky run: 1.41x-1.45x at load 0.4-1.8 and 2.37x in a run at load 2-3; a median rewards no luck and one
slow run moves it little). Every run's seconds and every pair's ratio are printed.

The PostgreSQL database is a scratch one (`--pg-database-url`, its name containing 'bench'): the sync
worker empties it (drops its public schema) before migrating.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import CommandError

TARGET_RATIO = 1.5
BASELINE_TABLE = "bench_baseline_item"


def is_postgres(database_url: str) -> bool:
    return urlsplit(database_url).scheme.startswith("postgres")


def check_scratch(database_url: str, flag: str) -> None:
    """Every bench database is emptied: refuse one whose name does not say it is for benches."""
    if database_url and "bench" not in urlsplit(database_url).path:
        raise CommandError(f"{flag}: the database is emptied, so its name must contain 'bench'")


def empty_scratch_database() -> None:
    """In a worker whose DATABASE_URL is the scratch PostgreSQL database (checked by the caller): drop
    everything, so the sync starts from an empty mirror as it does on a fresh SQLite file."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")


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


def postgres_baseline(urls: list[str], fetch: Any, database_url: str) -> int:
    """Fetch every URL (`fetch(url) -> items`) and write each page with one multi-row INSERT into a plain
    PostgreSQL table, committing per page as the sync does; returns the record count."""
    import json

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


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median seconds (the lower middle of an even count: a run that happened)."""
    ordered = sorted(runs, key=lambda run: run["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def pair_ratios(syncs: list[dict[str, Any]], baselines: list[dict[str, Any]]) -> list[float]:
    """Each interleaved pair's sync seconds / baseline seconds, in run order."""
    return [s["seconds"] / b["seconds"] for s, b in zip(syncs, baselines, strict=True)]


def seconds_of(runs: list[dict[str, Any]]) -> str:
    return " ".join(f"{run['seconds']:.2f}" for run in runs)


def pg_sync_goal(stdout: Any, listings: int, per_page: int, database_url: str, repeat: int = 5) -> str:
    """Run the scenario and return its goal line (n/a SHORT, saying why, without a PostgreSQL URL)."""
    from .bench import GOAL_TARGETS, emulator_process, goal_line, run_worker, shop_size

    target = GOAL_TARGETS["pg_sync"]
    if not database_url:
        reason = (
            "no PostgreSQL database given: pass --pg-database-url (or BENCH_PG_DATABASE_URL), e.g. "
            "postgres://bo:bo@127.0.0.1:5432/bo_bench"
        )
        return goal_line("pg_sync", None, target, reason)
    if not is_postgres(database_url):
        raise CommandError("--pg-database-url must be a postgres:// URL")
    check_scratch(database_url, "--pg-database-url")
    size = shop_size(listings)
    stdout.write(f"pg_sync: shop {size}; the median ratio of {repeat} interleaved pairs (sync, baseline)")
    ratios: dict[str, float] = {}
    with emulator_process(size) as api_url, tempfile.TemporaryDirectory(prefix="bench-pgsync-") as tmp:
        workdir = Path(tmp)
        for name, url in (("sqlite", ""), ("postgresql", database_url)):
            syncs, baselines = [], []
            for _ in range(max(repeat, 1)):
                for stale in workdir.glob("*.sqlite3*"):  # each run starts from empty files, as PostgreSQL's
                    stale.unlink()
                syncs.append(run_worker("sync", api_url, workdir, per_page, url))
                if syncs[-1]["failed"]:
                    raise CommandError(f"pg_sync: the sync on {name} failed: {syncs[-1]['failed']}")
                baselines.append(run_worker("baseline", api_url, workdir, per_page, url))
            ours, bare = median_run(syncs), median_run(baselines)
            pairs = pair_ratios(syncs, baselines)
            ratios[name] = statistics.median(pairs)
            cpu = ""
            if ours.get("db_cpu_seconds") is not None:
                cpu = f"; CPU: worker {ours['cpu_seconds']:.1f}s, PostgreSQL {ours['db_cpu_seconds']:.1f}s"
            stdout.write(
                f"    {name:10s} sync {ours['records']} records in {ours['seconds']:.2f}s "
                f"({ours['records'] / ours['seconds']:,.0f}/s); baseline {bare['records']} in "
                f"{bare['seconds']:.2f}s ({bare['records'] / bare['seconds']:,.0f}/s); "
                f"median of the pairs' ratios {ratios[name]:.2f}x{cpu}; all runs: sync "
                f"{seconds_of(syncs)}, baseline {seconds_of(baselines)}, ratios "
                + " ".join(f"{r:.2f}" for r in pairs)
            )
    value = ratios["postgresql"]
    note = (
        f"(median over {repeat} interleaved pairs of full sync / bare fetch-and-insert of the same pages, "
        f"{listings} listings: "
        f"PostgreSQL {value:.2f}x, SQLite {ratios['sqlite']:.2f}x; load {os.getloadavg()[0]:.2f})"
    )
    return goal_line("pg_sync", f"{value:.2f}x", target, note, ok=value <= TARGET_RATIO)
