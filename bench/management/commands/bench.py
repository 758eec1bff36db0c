"""`python manage.py bench`: the bench's one command. `--goals` picks the scenarios (bench/goals/, one module
each; default all); each prints its detail lines, then the goal lines in the issue's order, one
`bench goal=<goal> value=<figure> target=<target> ok|SHORT` each. `--worker <mode>` (hidden) is how a
scenario runs its work in a process of its own, on its own database.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.goals import (
    admin_pages,
    economy,
    first_work,
    night,
    pg_sync,
    scaled,
    stock,
    stock_burst,
    sync,
    team,
)
from bench.kit import GOAL_TARGETS, GOALS

# `bench --worker <mode>`: what each worker process runs, from the command's options.
WORKERS = {
    "sync": lambda o: sync.sync_worker(o["api_url"], Path(o["workdir"]), o["per_page"]),
    "baseline": lambda o: sync.baseline_worker(
        o["api_url"], Path(o["workdir"]), os.environ.get("DATABASE_URL", "")
    ),
    "economy": lambda o: economy.worker(o["api_url"], Path(o["workdir"])),
    "admin": lambda o: admin_pages.admin_worker(Path(o["workdir"]), o["orders"]),
    "night": lambda o: night.night_worker(o["api_url"], Path(o["workdir"]), o["per_page"]),
    "first_work": lambda o: first_work.first_work_worker(o["api_url"], Path(o["workdir"]), o["per_page"]),
    "team": lambda o: team.team_worker(o["api_url"], Path(o["workdir"]), o["orders"]),
    "scaled": lambda o: scaled.worker(Path(o["workdir"])),
    "stock": lambda o: stock.stock_worker(Path(o["workdir"]), o["paced"]),
    "stock_burst": lambda o: stock_burst.stock_burst_worker(Path(o["workdir"])),
}


# (out, goals, opts) -> the goal lines of one scenario, which writes its detail lines to `out`.
GoalRun = Callable[[Any, list[str], dict[str, Any]], dict[str, str]]


def _sync_goal(out: Any, goals: list[str], o: dict[str, Any]) -> dict[str, str]:
    sync.sync_goal(out, [int(s) for s in o["sizes"].split(",")], o["per_page"])
    return {}  # its `bench:` line is written with its detail lines


# The scenarios, in the order they run, each with the goals that run it.
GOAL_RUNS: tuple[tuple[tuple[str, ...], GoalRun], ...] = (
    (("economy",), lambda out, goals, o: {"economy": economy.measure(o["economy_listings"], out.write)}),
    (
        ("admin",),
        lambda out, goals, o: {
            "admin": admin_pages.admin_goal(out, o["admin_orders"], o["admin_database_url"])
        },
    ),
    (("night",), lambda out, goals, o: {"night": night.night_goal(out, o["night_listings"], o["per_page"])}),
    (
        ("first_work",),
        lambda out, goals, o: {
            "first_work": first_work.first_work_goal(out, o["first_work_listings"], o["per_page"])
        },
    ),
    (("bulk", "scaled_path"), lambda out, goals, o: scaled.goal_lines(out, goals, o)),
    (("team",), lambda out, goals, o: {"team": team.team_goal(out, o)}),
    (("sync",), _sync_goal),
    (
        ("pg_sync",),
        lambda out, goals, o: {
            "pg_sync": pg_sync.pg_sync_goal(
                out, o["pg_sync_listings"], o["per_page"], o["pg_database_url"], o["pg_sync_repeat"]
            )
        },
    ),
    (("stock",), lambda out, goals, o: {"stock": stock.stock_goal(out, o["paced"])}),
    (
        ("stock_burst",),
        lambda out, goals, o: {"stock_burst": stock_burst.stock_burst_goal(out, o["pg_database_url"])},
    ),
)


def goal_lines(out: Any, goals: list[str], opts: dict[str, Any]) -> dict[str, str]:
    """Run the scenarios `goals` names (each writes its detail lines to `out`); their goal lines."""
    lines: dict[str, str] = {}
    for names, run in GOAL_RUNS:
        if any(name in goals for name in names):
            lines.update(run(out, goals, opts))
    return lines


class Command(BaseCommand):
    help = (
        "The bench: the mirror sync against a bare baseline, then the big-shop issue's goals, one "
        "machine-readable line each (--goals picks them)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--goals", default=",".join(GOALS), help=f"which scenarios to run, of {','.join(GOALS)}"
        )
        parser.add_argument(
            "--sizes",
            default="5000,500",
            help="sync: listing counts, largest first (the sync figures are per record, so they scale; the "
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
            help="a scratch PostgreSQL database for the pg_sync and stock_burst scenarios (it is emptied; "
            "its name must contain 'bench'), e.g. postgres://bo:bo@127.0.0.1:5432/bo_bench; without it "
            "both are n/a",
        )
        parser.add_argument(
            "--pg-sync-listings",
            type=int,
            default=5000,
            help="listings in the pg_sync scenario's shop (5000: runs of about 5 s, steadier than 1 s ones)",
        )
        parser.add_argument(
            "--pg-sync-repeat",
            type=int,
            default=5,
            help="pg_sync's interleaved pairs of sync and baseline runs; the median pair ratio counts",
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
            default=100_000,
            help="listings in the first_work scenario's shop (the big shop's shape; the issue's is 100000)",
        )
        parser.add_argument(
            "--paced",
            action="store_true",
            help="stock: drain at the configured budget against an emulator that answers 429 beyond "
            "Reverb's pace (about 300 s at 1 request/s); by default neither paces and the time at the "
            "budget is computed from the requests sent",
        )
        scaled.add_arguments(parser)
        team.add_arguments(parser)
        parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
        parser.add_argument("--orders", type=int, default=0, help=argparse.SUPPRESS)
        parser.add_argument("--api-url", help=argparse.SUPPRESS)
        parser.add_argument("--workdir", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["worker"]:
            return WORKERS[opts["worker"]](opts)
        goals = [g.strip() for g in opts["goals"].split(",") if g.strip()]
        unknown = set(goals) - set(GOALS)
        if unknown:
            raise CommandError(f"unknown goals: {', '.join(sorted(unknown))}")
        lines = goal_lines(self.stdout, goals, opts)
        for goal in GOAL_TARGETS:  # in the order
            if goal in goals:
                self.stdout.write(lines[goal])
