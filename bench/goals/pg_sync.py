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

from django.core.management.base import CommandError

from bench.kit import (
    GOAL_TARGETS,
    PG_SYNC_TARGET_RATIO,
    check_scratch,
    emulator_process,
    goal_line,
    is_postgres,
    run_worker,
    shop_size,
)


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
    return goal_line("pg_sync", f"{value:.2f}x", target, note, ok=value <= PG_SYNC_TARGET_RATIO)
