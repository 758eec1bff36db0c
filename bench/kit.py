"""What every goal of the bench shares: the goals and their targets, the goal line, shop sizes, free ports,
the emulator as its own process, worker processes (`manage.py bench --worker <mode>`), scratch databases
and the bench's account. It imports no goal (goals import it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.management.base import CommandError

from emulator.app import SIZES

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
TOKEN = "bench-token"
PG_SYNC_TARGET_RATIO = 1.5

# The goals, in the order `bench` prints them, with their targets.
GOAL_TARGETS = {
    "economy": "<=360req/h",
    "night": "<=600s/task",
    "bulk": ">=0.9budget",
    "admin": "<300ms",
    "pg_sync": f"<={PG_SYNC_TARGET_RATIO}x",
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


# ---- shop sizes -------------------------------------------------------------------------------------------


def shop_size(listings: int) -> str:
    """The bench preset scaled to `listings` (20k listings and 20k orders, the rest in proportion)."""
    scale = listings / SIZES["bench"]["listings"]
    return ",".join(f"{kind}={max(1, round(n * scale))}" for kind, n in SIZES["bench"].items())


def big_shop_size(listings: int) -> str:
    """The big shop's shape (the issue's 100,000 listings and 200,000 orders) at `listings`: the bench
    preset scaled, with the orders (and what follows them) doubled."""
    parts = dict(part.split("=") for part in shop_size(listings).split(","))
    for kind in ("orders", "refund_requests", "payouts"):
        parts[kind] = str(int(parts[kind]) * 2)
    return ",".join(f"{k}={v}" for k, v in parts.items())


# ---- processes --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def emulator_process(size: str, *extra: str, rate: float = 0) -> Iterator[str]:
    """The emulator on a free port; unthrottled unless `rate` (requests/s) is given: the sync figures
    measure our code, not Reverb's pacing (a 429's wait would dwarf them). `extra`: more of its flags."""
    port = free_port()
    cmd = [sys.executable, MANAGE, "reverb_emulator", "--port", str(port), "--seed", "1", "--size", size]
    cmd += ["--token", TOKEN, "--rate", str(rate), *extra]
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
    mode: str,
    api_url: str,
    workdir: Path,
    per_page: int,
    database_url: str = "",
    *extra: str,
    env: dict[str, str] | None = None,
    out: Any = None,
) -> dict[str, Any]:
    """`manage.py bench --worker <mode>` in its own process on `database_url` (default a SQLite file in
    `workdir`), `env` on top of ours; returns what it wrote to <workdir>/<mode>.json. With `out`, its
    output is written there line by line as it comes; else it is shown only if the worker fails."""
    result = workdir / f"{mode}.json"
    database_url = database_url or f"sqlite:///{workdir / 'mirror.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **(env or {})}
    cmd = [sys.executable, MANAGE, "bench", "--worker", mode, "--api-url", api_url]
    cmd += ["--workdir", str(workdir), "--per-page", str(per_page), *extra]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    said = []
    for line in proc.stdout or ():
        said.append(line)
        if out is not None:
            out.write(line.rstrip("\n"))
    if proc.wait() != 0 or not result.exists():
        raise CommandError(f"{mode} worker failed:\n{''.join(said)}")
    return json.loads(result.read_text())


def worker_on_emulator(mode: str, size: str, per_page: int = 0) -> dict[str, Any]:
    """The worker `mode` on its own SQLite mirror in a temporary folder, against an emulator process
    serving a shop of `size`; returns its figures."""
    with emulator_process(size) as api_url, tempfile.TemporaryDirectory(prefix=f"bench-{mode}-") as tmp:
        return run_worker(mode, api_url, Path(tmp), per_page)


# ---- databases and the account ----------------------------------------------------------------------------


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


def fresh_database(*, debug: bool = False) -> None:
    """In a worker: the scratch database emptied (a SQLite file is new anyway) and migrated. DEBUG off by
    default, to measure what production runs: with DEBUG on (the development default) Django also renders
    every statement with its parameters into connection.queries, a dev-only cost larger than some of the
    work measured."""
    from django.core.management import call_command

    empty_scratch_database()
    call_command("migrate", verbosity=0)
    settings.DEBUG = debug


def bench_account(api_url: str, name: str = "bench", **fields: Any) -> Any:
    """A saved ReverbAccount on the emulator at `api_url`, with the bench's token."""
    from backoffice.models import ReverbAccount

    account = ReverbAccount(name=name, api_url=api_url, currency="USD", **fields)
    account.set_token(TOKEN)
    account.save()
    return account
