"""The `bulk` and `scaled_path` scenarios of `bench` (issue 17 goals 3 and 6), and the harness the `scaled`
test runs (tests/background/test_scaled_path.py): two `manage.py qcluster` processes sharing one rate
budget, Redis as django-q2's broker (the ORM broker without it), PostgreSQL (or a SQLite file), and the
emulator as its own process enforcing Reverb's pace with a latency on every answer.

`run_scenario`, in the process whose default database the qclusters share:
1. the emulator serves a shop with at least `ships` paid orders awaiting shipment; the mirror pulls its
   orders unthrottled (set-up, not measured); a bulk ship of `ships` orders and a full mass sync are
   created (not sent);
2. the emulator then answers 429 beyond `rate` requests/s (burst: ours + JITTER_BURST, for requests that
   leave in budget order but arrive out of it) and waits `latency` seconds before each answer;
3. both jobs are sent to the cluster (with their leases) and two qclusters run them; one runs the
   scheduler, whose one-minute sweep sends again the tasks whose lease outlived the task timeout;
4. with `kill_after`, the qcluster holding the bulk job is SIGKILLed (its whole process group: the
   machine is lost) once that many items are done, and started again, as a supervisor would;
5. measured: ship calls per order and 429s (the emulator's own counters), requests / elapsed from the
   first send to the last job's end, and the items of both jobs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import requests

from ._bench_pgsync import check_scratch
from .bench import MANAGE, TOKEN, emulator_process, free_port

# The emulator's burst is ours plus this: a request granted by our budget a few ms before another may
# reach the emulator after it; beyond this allowance a 429 shows the budget was exceeded.
JITTER_BURST = 2
SHIP_PATH = "POST /api/my/orders/selling/{}/ship"
# Share of the emulator's generated orders that are paid and await shipment is about 13-15%.
ORDERS_PER_SHIPPABLE = 9


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port (no persistence); yields its URL."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def database_url_of(settings_dict: dict[str, Any]) -> str:
    """DATABASE_URL for the database Django's default connection uses now (the test database in tests)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    s = settings_dict
    where = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{where}/{s['NAME']}"


class Cluster:
    """The qcluster processes, each in its own process group (so a kill takes its workers too)."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts = 0

    def start(self, name: str, *, scheduler: bool) -> None:
        self.starts += 1
        log = open(self.logdir / f"{name}-{self.starts}.log", "wb")  # noqa: SIM115 - closed with the process
        env = {**self.env, "Q_SCHEDULER": str(scheduler)}
        self.procs[name] = subprocess.Popen(
            [sys.executable, MANAGE, "qcluster"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name].log_path = log.name  # type: ignore[attr-defined]

    def wait_running(self, seconds: float = 60) -> None:
        """Until every qcluster logged that it runs (its pusher listens to the broker)."""
        deadline = time.monotonic() + seconds
        while not all(
            " running." in Path(p.log_path).read_text(errors="replace")  # type: ignore[attr-defined]
            for p in self.procs.values()
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the qclusters did not start:\n{self.logs()}")
            time.sleep(0.2)

    def holders(self, task_name: str) -> list[str]:
        """The qcluster runs ("a-1": qcluster a, first start) whose worker logged processing `task_name`."""
        return [
            log.stem
            for log in sorted(self.logdir.glob("*.log"), key=lambda p: int(p.stem.split("-")[1]))
            if f"processing {task_name} " in log.read_text(errors="replace")
        ]

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for name in list(self.procs):
            proc = self.procs[name]
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(name)
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(self.logdir.glob("*.log"))
        )


def cluster_env(
    database_url: str, redis_url: str, *, rate: float, burst: int, timeout: int, grace: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="backoffice.settings",
        WORKER_BACKEND="django_q",
        REVERB_RATE_BUDGET="database",
        REVERB_RATE_PER_SECOND=str(rate),
        REVERB_RATE_BURST=str(burst),
        # Two worker processes per qcluster: a qcluster's pusher may take both jobs off Redis, and they
        # still run side by side.
        Q_WORKERS="2",
        Q_TIMEOUT=str(timeout),
        Q_RETRY=str(timeout + 30),
        TASK_LEASE_GRACE=str(grace),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def send_jobs(env: dict[str, str], job_ids: list[int]) -> None:
    """Send `run_job` for each job to the cluster as the web process would (a lease each), from a process
    configured like the workers (the broker is read from the settings at start-up)."""
    code = (
        "from backoffice.background.queue import send\n"
        f"for pk in {job_ids!r}:\n"
        "    send('backoffice.background.jobs.run_job', pk, backend='django_q', task_name=f'bulk-job-{pk}')\n"
    )
    done = subprocess.run(
        [sys.executable, MANAGE, "shell", "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"sending the jobs failed:\n{done.stdout}\n{done.stderr}")


class Emulator:
    """The emulator process's control API."""

    def __init__(self, api_url: str) -> None:
        self.control = api_url.removesuffix("/api") + "/__emulator__"

    def post(self, name: str, data: dict[str, Any]) -> Any:
        r = requests.post(f"{self.control}/{name}", json=data, timeout=30)
        r.raise_for_status()
        return r.json()

    def stats(self) -> dict[str, Any]:
        return requests.get(f"{self.control}/stats", timeout=30).json()


def prepare(api_url: str, ships: int) -> tuple[Any, list[int], list[str]]:
    """The account, its orders pulled unthrottled, a mass sync and a bulk ship job (created, not sent).
    Returns (account, [mass sync job id, bulk ship job id], the order numbers shipped)."""
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from backoffice.background.mass_sync import start_mass_sync
    from backoffice.models import ReverbAccount
    from backoffice.reverb.ratelimit import UnlimitedRateLimiter
    from backoffice.sync.runner import sync_resource
    from orders import bulk, carriers
    from orders.models import Order

    account = ReverbAccount(name="scaled", api_url=api_url, currency="USD", auto_sync=False)
    account.set_token(TOKEN)
    account.save()
    sync_resource(account, "orders", full=True, client=account.client(rate_limiter=UnlimitedRateLimiter()))
    numbers = list(
        Order.objects.filter(account=account, status="paid", shipped_at=None, local_pickup=False)
        .exclude(shipping_method="local")
        .order_by("order_number")
        .values_list("order_number", flat=True)[:ships]
    )
    if len(numbers) < ships:
        raise RuntimeError(f"the emulator's shop has {len(numbers)} orders to ship, not {ships}")
    user = get_user_model().objects.create_user("scaled-bench")
    provider = carriers.reverb_names([account])[0]  # read now, while the emulator is unthrottled
    rows = [bulk.ShipRow(n, provider, f"1ZSCALED{i:06d}", i + 2) for i, n in enumerate(numbers)]
    planned = bulk.plan(account, rows, expand_bundles=False)
    refused = [p for p in planned if not p.ok]
    if refused:
        raise RuntimeError(f"{len(refused)} orders refused by the plan, e.g. {refused[0].message}")
    with override_settings(WORKER_BACKEND="none"):
        sync_job = start_mass_sync(account, user=user, full=True)
        ship_job = bulk.submit(account, user, planned, token="scaled-bench")
    return account, [sync_job.pk, ship_job.pk], numbers


def run_scenario(
    database_url: str,
    redis_url: str,
    *,
    ships: int,
    rate: float,
    burst: int = 5,
    latency: float = 0.0,
    kill_after: int | None = None,
    timeout: int = 600,
    grace: int = 60,
    deadline: float = 900.0,
    progress: Any = None,
) -> dict[str, Any]:
    """Run the scenario (see the module's docstring) against `database_url`, which Django's default
    connection in this process must also use. Returns the measured figures."""
    from django.utils import timezone
    from django_q.models import Schedule

    from backoffice.models import BulkJob, BulkJobItem

    say = progress or (lambda text: None)
    size = f"listings=40,orders={ships * ORDERS_PER_SHIPPABLE + 100}"
    env = cluster_env(database_url, redis_url, rate=rate, burst=burst, timeout=timeout, grace=grace)
    with ExitStack() as stack:
        api_url = stack.enter_context(emulator_process(size))
        emulator = Emulator(api_url)
        emulator.post("pace", {"rate_per_second": 0})
        account, job_ids, numbers = prepare(api_url, ships)
        sync_id, ship_id = job_ids
        Schedule.objects.create(
            name="reverb: re-send tasks lost with their worker",
            func="backoffice.background.tasks.requeue_lost_tasks",
            schedule_type=Schedule.MINUTES,
            minutes=1,
            repeats=-1,
            next_run=timezone.now(),
        )
        logdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scaled-")))
        cluster = Cluster(env, logdir)
        stack.callback(cluster.stop_all)
        cluster.start("a", scheduler=True)
        cluster.start("b", scheduler=False)
        cluster.wait_running()
        emulator.post("pace", {"rate_per_second": rate, "burst": burst + JITTER_BURST})
        emulator.post("faults", {"slow_rate": 1.0 if latency else 0.0, "slow_seconds": latency})
        before = emulator.stats()
        say(f"shop {size}; {ships} orders to ship; budget {rate}/s burst {burst}; latency {latency}s")
        started = time.time()
        send_jobs(env, job_ids)
        killed, restarted_at = None, None
        while True:
            jobs = {j.pk: j for j in BulkJob.objects.filter(pk__in=job_ids)}
            if all(not j.is_active for j in jobs.values()):
                break
            if time.time() - started > deadline:
                raise RuntimeError(
                    f"the jobs did not finish in {deadline:.0f}s: "
                    + ", ".join(f"{j.kind} {j.state} {j.processed}/{j.total}" for j in jobs.values())
                    + "\n"
                    + cluster.logs()
                )
            if kill_after is not None and killed is None and jobs[ship_id].processed >= kill_after:
                holders = cluster.holders(f"bulk-job-{ship_id}")
                if holders:
                    killed = holders[0].split("-")[0]
                    done = jobs[ship_id].processed
                    cluster.kill(killed)
                    say(f"SIGKILLed qcluster {killed} holding the bulk job after {done} items")
                    cluster.start(killed, scheduler=killed == "a")
                    restarted_at = time.time()
            time.sleep(0.5)
        after = emulator.stats()
        jobs = {j.pk: j for j in BulkJob.objects.filter(pk__in=job_ids)}
        ends = [j.finished_at.timestamp() for j in jobs.values() if j.finished_at]
        # From the first job's start (not the send: the sending process starts up first) to the last end.
        elapsed = max(ends) - min(j.started_at.timestamp() for j in jobs.values() if j.started_at)
        ship_calls = {n: after["writes"].get(SHIP_PATH.format(n), 0) for n in numbers}
        all_ships = sum(v for k, v in after["writes"].items() if k.endswith("/ship"))
        requests_sent = after["total"] - before["total"]
        items = BulkJobItem.objects.filter(job_id__in=job_ids)
        unfinished = items.exclude(state=BulkJobItem.State.SUCCEEDED)
        lost = [f"{i.job_id}:{i.key} {i.state} {i.message[:80]}" for i in unfinished]
        doubled = [n for n, c in ship_calls.items() if c > 1] + [
            f"job {j.pk} counted {j.processed} of {j.total}" for j in jobs.values() if j.processed > j.total
        ]
        never = [n for n, c in ship_calls.items() if c == 0]
        result = {
            "database": database_url.split(":", 1)[0],
            "broker": "redis" if redis_url else "orm",
            "ships": ships,
            "rate": rate,
            "burst": burst,
            "latency": latency,
            "elapsed": elapsed,
            "requests": requests_sent,
            "throttled": after["throttled"] - before["throttled"],
            "budget_ratio": requests_sent / elapsed / rate,
            "steady_ratio": (requests_sent - burst) / elapsed / rate,
            "ship_calls": all_ships,
            "orders_shipped_once": sum(1 for c in ship_calls.values() if c == 1),
            "never_shipped": never,
            "lost": lost,
            "doubled": doubled,
            "killed": killed,
            "ran_on": {
                name: cluster.holders(f"bulk-job-{pk}") for name, pk in (("sync", sync_id), ("ship", ship_id))
            },
            "recovered_after": (max(ends) - restarted_at) if restarted_at else None,
            "jobs": {j.kind: [j.state, j.succeeded, j.total] for j in jobs.values()},
            "by_route": {
                route: n - before["requests"].get(route, 0)
                for route, n in sorted(after["requests"].items(), key=lambda kv: -kv[1])
                if n - before["requests"].get(route, 0)
            },
            "sync_items_attempts": sorted(
                items.filter(job_id=sync_id).values_list("attempts", flat=True), reverse=True
            )[:3],
        }
        if lost or doubled or never:
            result["logs"] = cluster.logs()
        return result


# ---- the bench goals -----------------------------------------------------------------------------------

BULK_RATE, BULK_LATENCY = 1.0, 0.25


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--bulk-orders",
        type=int,
        default=60,
        help="orders in the bulk scenario (the issue's size is 500: about 15 minutes at 1 request/s, the "
        "mass sync beside it included; 120 take about 5)",
    )
    parser.add_argument(
        "--scaled-database-url",
        default=os.environ.get("BENCH_SCALED_DATABASE_URL", ""),
        help="a scratch PostgreSQL database for bulk and scaled_path (emptied; its name must contain "
        "'bench'); default --admin-database-url; without one bulk runs on a SQLite file and scaled_path "
        "is not measured",
    )


def goal_lines(out: Any, goals: list[str], opts: dict[str, Any]) -> dict[str, str]:
    from .bench import GOAL_TARGETS, goal_line

    database_url = opts["scaled_database_url"] or opts["admin_database_url"]
    check_scratch(database_url, "--scaled-database-url")
    has_redis = redis_server_binary() is not None
    lines = {}
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server()) if has_redis else ""
        if "bulk" in goals:
            run = {"rate": BULK_RATE, "latency": BULK_LATENCY, "deadline": 3 * opts["bulk_orders"] + 300}
            r = scenario(out, "bulk", database_url, redis_url, opts["bulk_orders"], run)
            ok = r["budget_ratio"] >= 0.9 and not r["throttled"] and r["orders_shipped_once"] == r["ships"]
            note = (
                f"({r['ships']} orders + a mass sync on two qclusters, {r['database']}/{r['broker']}, "
                f"budget {r['rate']:g}/s burst {r['burst']}, latency {r['latency'] * 1000:.0f} ms: "
                f"{r['requests']} requests in {r['elapsed']:.1f}s, {r['throttled']} 429s, "
                f"{r['orders_shipped_once']} shipped once; without the burst {r['steady_ratio']:.2f})"
            )
            lines["bulk"] = goal_line("bulk", f"{r['budget_ratio']:.2f}", GOAL_TARGETS["bulk"], note, ok)
        if "scaled_path" in goals:
            if not (database_url.startswith("postgres") and redis_url):
                why = "needs --scaled-database-url (PostgreSQL) and redis-server"
                lines["scaled_path"] = goal_line("scaled_path", None, GOAL_TARGETS["scaled_path"], why)
            else:
                run = {"rate": 10.0, "kill_after": 40, "timeout": 45, "grace": 5, "deadline": 300}
                r = scenario(out, "scaled_path", database_url, redis_url, 200, run)
                bad = len(r["lost"]) + len(r["doubled"]) + len(r["never_shipped"])
                note = (
                    f"(lost or doubled items: mass sync + {r['ships']}-order bulk ship on two qclusters, "
                    f"PostgreSQL + Redis, qcluster {r['killed']} SIGKILLed mid-job, done "
                    f"{r['recovered_after']:.0f}s after its restart; {r['throttled']} 429s)"
                )
                ok = bad == 0 and bool(r["killed"]) and not r["throttled"]
                target = GOAL_TARGETS["scaled_path"]
                lines["scaled_path"] = goal_line("scaled_path", str(bad), target, note, ok)
    return lines


def scenario(
    out: Any, name: str, database_url: str, redis_url: str, ships: int, run: dict[str, Any]
) -> dict[str, Any]:
    from .bench import run_worker

    out.write(f"{name}: {ships} orders, {run}")
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        workdir = Path(tmp)
        database_url = database_url or f"sqlite:///{workdir / 'scaled.sqlite3'}"
        options = {"ships": ships, "redis_url": redis_url, "run": run}
        (workdir / "options.json").write_text(json.dumps(options))
        result = run_worker("scaled", "", workdir, 0, database_url)
    out.write(f"    {json.dumps({k: v for k, v in result.items() if k != 'logs'})}")
    return result


def worker(workdir: Path) -> None:
    """`bench --worker scaled`: empty and migrate the database DATABASE_URL names (a scratch one), run
    the scenario options.json describes, write the figures to scaled.json."""
    from django.core.management import call_command
    from django.db import connection

    options = json.loads((workdir / "options.json").read_text())
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0)
    result = run_scenario(
        database_url_of(connection.settings_dict),
        options["redis_url"],
        ships=options["ships"],
        progress=lambda text: print(text, flush=True),
        **options["run"],
    )
    (workdir / "scaled.json").write_text(json.dumps(result))
