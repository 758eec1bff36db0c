"""The `team` scenario of `bench`: a team of twenty on gunicorn and PostgreSQL, with the workers running.

1. A worker process (`bench --worker team`) empties the scratch PostgreSQL database, migrates, seeds the
   admin scenario's shop (bench/seed.py: `--team-orders` orders, half as many listings, payouts,
   sync runs) plus conversations, messages and offers, makes twenty staff users (Manager members of the
   shop, not superusers), an integration key, and the schedules; the account points at an emulator, and
   a second account (the emulator's small shop, which the workers pull) beside it.
2. A qcluster (the scheduler: its 5-minute pulls read the second account's shop, and the stock API's
   drains push the seeded shop's stock to the emulator) on Redis when redis-server is installed, else
   on the ORM broker; gunicorn with `--team-gunicorn-workers` workers on a free loopback port.
3. Locust, headless, 20 users (bench/locustfiles/team.py: 7 clerks, 6 customer service, a bookkeeper,
   4 managers, 2 integration clients), spawned 1 a second, for `--team-seconds`; each staff user logs in
   through the admin login form. Then every process started here is stopped (Locust too, if it overruns).

As a team works, not as a stampede: staff arrive one a second (a team signs in over the morning; 18 password
hashes in 4 s on 2 cores measured the hasher, not the pages), the run is long enough that logins are a few
percent of the requests (120 s: about 1,200 requests), the shop's tables have been vacuumed, and the shop
has used its listing forms and shipping queue before: its Reverb reference lists and carriers are stored,
read an hour ago (so the pages show that copy and the workers read it again, listings/reference.py). The
logins and the ramp stay inside the figure.

The figure is Locust's p95 over all requests (logins included), with the requests per second and the
error count; the target is p95 < 300 ms with no error. DEBUG stays on in gunicorn: off, the session cookie
is Secure and plain loopback HTTP would never send it back.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone

from backoffice.models import ReverbAccount
from backoffice.roles import MANAGER
from bench.cluster import Cluster, cluster_env, redis_server, redis_server_binary, stop, wait_http
from bench.kit import (
    GOAL_TARGETS,
    TOKEN,
    bench_account,
    check_scratch,
    emulator_process,
    free_port,
    fresh_database,
    goal_line,
    is_postgres,
    run_worker,
    shop_size,
)
from bench.seed import BATCH, seed
from inventory.models import Integration
from listings.models import Listing
from messaging.models import Conversation, Message, Negotiation
from orders.models import Order

USERS, SPAWN_RATE = 20, 1
PASSWORD = "team-bench-password"  # a scratch database's throw-away staff
TARGET_MS = 300
LOCUSTFILE = Path(__file__).parent.parent / "locustfiles" / "team.py"
BIN = Path(sys.executable).parent


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--team-database-url",
        default=os.environ.get("BENCH_TEAM_DATABASE_URL", ""),
        help="a scratch PostgreSQL database for the team scenario (emptied; its name must contain 'bench'); "
        "default --admin-database-url; without a PostgreSQL one the team goal is n/a",
    )
    parser.add_argument(
        "--team-orders", type=int, default=200_000, help="orders in the team shop (the issue's size)"
    )
    parser.add_argument("--team-seconds", type=int, default=120, help="how long Locust runs (20 users)")
    parser.add_argument("--team-gunicorn-workers", type=int, default=3, help="gunicorn worker processes")


# ---- the worker: seeding ---------------------------------------------------------------------------------


def seed_team(orders: int, api_url: str) -> dict[str, Any]:
    """Everything the Locust users need, seeded into the database DATABASE_URL names (emptied first)."""
    from django.db import connection

    fresh_database()
    seed(orders)
    # The seeded shop is not the emulator's: its pulls would mark the seeded listings missing (Reverb no
    # longer has them), so it is not pulled; its stock pushes and reference reads go to the emulator. A
    # second account, the emulator's shop, is what the workers pull meanwhile.
    account = ReverbAccount.objects.get(name="bench")  # not "bench other", the shop the team does not see
    account.api_url, account.auto_sync = api_url, False
    account.set_token(TOKEN)
    account.save()
    bench_account(api_url, name="pulled")
    listings = list(Listing.objects.order_by("pk").values_list("pk", "reverb_id"))
    conversation_ids = _seed_conversations(account, orders, listings)
    _seed_offers(account, orders, listings)
    users = _staff(account)
    _read_reference_lists_an_hour_ago(account)
    integration = Integration(account=account, name="team-bench")
    api_key = integration.new_key()
    integration.save()
    call_command("setup_schedules", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        # A shop in use has been vacuumed: without it autovacuum's first pass over the bulk-inserted tables
        # (400k sync runs, 200k orders) ran in the middle of the measured minutes.
        # VACUUM cannot run in a transaction (a test's): there, ANALYZE alone.
        vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
    return _picks(users, api_key, [pk for pk, _ in listings], [pk for pk, _ in conversation_ids])


def _seed_conversations(account: Any, orders: int, listings: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """A conversation per 20 orders (a third unread), two messages each; returns their (pk, reverb id)."""
    now = timezone.now()
    n_conversations = max(10, orders // 20)
    Conversation.objects.bulk_create(
        (
            Conversation(
                account=account,
                reverb_id=str(7_000_000 + i),
                subject=f"About the guitar {i}",
                unread=i % 3 == 0,
                last_message_at=now - timedelta(hours=i),
                other_party_name=f"Buyer {i % 997}",
                listing_reverb_id=listings[i % len(listings)][1],
                listing_id=listings[i % len(listings)][0],
                remote_created_at=now - timedelta(hours=i),
            )
            for i in range(n_conversations)
        ),
        batch_size=BATCH,
    )
    conversation_ids = list(Conversation.objects.order_by("pk").values_list("pk", "reverb_id"))
    Message.objects.bulk_create(
        (
            Message(
                account=account,
                reverb_id=f"m-{cid}-{k}",
                conversation_reverb_id=reverb_id,
                conversation_id=cid,
                body="Is it still available? Does it ship to Canada?" if k == 0 else "Yes, it does.",
                sender_name="Buyer" if k == 0 else "Shop",
                sent_at=now - timedelta(minutes=30 * k),
                remote_created_at=now - timedelta(minutes=30 * k),
            )
            for cid, reverb_id in conversation_ids
            for k in range(2)
        ),
        batch_size=BATCH,
    )
    return conversation_ids


def _seed_offers(account: Any, orders: int, listings: list[tuple[int, str]]) -> None:
    """An offer per 40 orders, a quarter of them active, half of those the shop's turn."""
    now = timezone.now()
    Negotiation.objects.bulk_create(
        (
            Negotiation(
                account=account,
                reverb_id=str(8_000_000 + i),
                state=["active", "accepted", "declined", "expired"][i % 4],
                buyer_name=f"Buyer {i % 997}",
                offers_count=1 + i % 3,
                last_offered_price=Decimal("90.00"),
                last_offered_total=Decimal("100.00"),
                currency="USD",
                expires_at=now + timedelta(hours=1 + i % 48),
                actionable=i % 2 == 0,
                listing_reverb_id=listings[i % len(listings)][1],
                listing_id=listings[i % len(listings)][0],
                remote_created_at=now - timedelta(hours=i),
            )
            for i in range(max(10, orders // 40))
        ),
        batch_size=BATCH,
    )


def _read_reference_lists_an_hour_ago(account: Any) -> None:
    """The listing forms' lists and the carriers as a shop in use has them: read from Reverb (the emulator)
    through the product, an hour ago, so older than REFERENCE_TTL."""
    from listings import reference
    from listings.models import ReferenceList
    from orders.services import shipping_providers

    for read in (reference.conditions, reference.categories, reference.shipping_profiles, shipping_providers):
        read(account)
    ReferenceList.objects.filter(account=account).update(fetched_at=timezone.now() - timedelta(hours=1))


def _staff(account: Any) -> list[str]:
    """USERS staff users, Manager members of the shop (not superusers); returns their names."""
    manager = Group.objects.get(name=MANAGER)
    users = []
    for i in range(USERS):
        user = get_user_model().objects.create_user(f"team-{i:02d}", f"team-{i:02d}@example.com", PASSWORD)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.add(manager)
        account.members.add(user)
        users.append(user.username)
    return users


def _picks(users: list[str], api_key: str, listings: list[int], conversations: list[int]) -> dict[str, Any]:
    """What the Locust users read (TEAM_DATA): the logins, the key, and ids picked at random (seed 1)."""
    rng = random.Random(1)

    def pick(values: list[Any], n: int) -> list[Any]:
        return rng.sample(values, min(n, len(values)))

    today = timezone.localdate()
    return {
        "users": users,
        "password": PASSWORD,
        "api_key": api_key,
        "orders": pick(list(Order.objects.values_list("pk", flat=True)), 500),
        "order_numbers": pick(list(Order.objects.values_list("order_number", flat=True)), 200),
        "listings": pick(listings, 500),
        "skus": pick(list(Listing.objects.values_list("sku", flat=True)), 2000),
        "conversations": pick(conversations, 200),
        "negotiations": list(
            Negotiation.objects.filter(state="active", actionable=True).values_list("pk", flat=True)[:200]
        ),
        "last_30_days": f"start={today - timedelta(days=30):%Y-%m-%d}&end={today:%Y-%m-%d}",
    }


def team_worker(api_url: str, workdir: Path, orders: int) -> None:
    (workdir / "team.json").write_text(json.dumps(seed_team(orders, api_url)))


# ---- the goal --------------------------------------------------------------------------------------------


class LoadSampler(threading.Thread):
    """The 1-minute load average every 5 s while the load runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(5):
            self.samples.append(os.getloadavg()[0])


def read_stats(prefix: str) -> tuple[dict[str, str], list[dict[str, str]], list[dict[str, str]]]:
    """(the Aggregated row, the rows per request name, the failures) of Locust's CSV files."""
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    failures: list[dict[str, str]] = []
    if Path(f"{prefix}_failures.csv").exists():
        with open(f"{prefix}_failures.csv", newline="") as f:
            failures = list(csv.DictReader(f))
    return total, [r for r in rows if r["Name"] != "Aggregated"], failures


def _wait_locust(locust: subprocess.Popen[bytes], seconds: int) -> bytes:
    """Locust's output once it ends; one that overruns its time by two minutes (a request hung) is told to
    stop, which writes its statistics, rather than the bench failing without a figure."""
    try:
        return locust.communicate(timeout=seconds + 120)[0]
    except subprocess.TimeoutExpired:
        os.killpg(locust.pid, signal.SIGTERM)
        return locust.communicate(timeout=60)[0] + b"\n(Locust overran its time by 2 minutes: stopped)"


def team_goal(out: Any, opts: dict[str, Any]) -> str:
    target = GOAL_TARGETS["team"]
    database_url = opts["team_database_url"] or opts["admin_database_url"]
    if not is_postgres(database_url):
        reason = "no PostgreSQL database given: pass --team-database-url (or BENCH_TEAM_DATABASE_URL)"
        return goal_line("team", None, target, reason)
    check_scratch(database_url, "--team-database-url")
    orders, seconds, workers = opts["team_orders"], opts["team_seconds"], opts["team_gunicorn_workers"]
    with ExitStack() as stack:
        api_url = stack.enter_context(emulator_process(shop_size(200)))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-team-")))
        clock = time.monotonic()
        run_worker("team", api_url, workdir, opts["per_page"], database_url, "--orders", str(orders))
        out.write(f"team: {orders} orders seeded in {time.monotonic() - clock:.0f}s")
        redis_url = stack.enter_context(redis_server()) if redis_server_binary() else ""
        env = cluster_env(database_url, redis_url, rate=1.0, burst=5, timeout=600, grace=60)
        cluster = Cluster(env, workdir)
        stack.callback(cluster.stop_all)
        cluster.start("a", scheduler=True)
        cluster.wait_running()
        port = free_port()
        web_log = stack.enter_context(open(workdir / "gunicorn.log", "wb"))
        web = subprocess.Popen(
            [str(BIN / "gunicorn"), "backoffice.wsgi", "--workers", str(workers)]
            + ["--bind", f"127.0.0.1:{port}", "--timeout", "60"],
            env={**env, "DEBUG": "True"},
            stdout=web_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack.callback(stop, web)
        host = f"http://127.0.0.1:{port}"
        wait_http(f"{host}/admin/login/", web)
        out.write(
            f"    gunicorn {workers} workers, a qcluster ({'Redis' if redis_url else 'ORM broker'}), "
            f"Locust {USERS} users for {seconds}s"
        )
        sampler = LoadSampler()
        sampler.start()
        prefix = str(workdir / "locust")
        locust = subprocess.Popen(
            [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "--users", str(USERS)]
            + ["--spawn-rate", str(SPAWN_RATE), "--run-time", f"{seconds}s", "--host", host, "--csv", prefix]
            + ["--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"],
            env={**os.environ, "TEAM_DATA": str(workdir / "team.json")},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack.callback(stop, locust)
        try:
            locust_out = _wait_locust(locust, seconds)
        finally:
            sampler.done.set()
        if not Path(f"{prefix}_stats.csv").exists():
            raise RuntimeError(f"Locust wrote no statistics:\n{locust_out.decode(errors='replace')[-3000:]}")
        total, rows, failures = read_stats(prefix)
    load = sampler.samples or [os.getloadavg()[0]]
    for row in sorted(rows, key=lambda r: -float(r["95%"] or 0)):
        out.write(
            f"    p95 {row['95%']:>6} ms  median {row['50%']:>6} ms  {row['Request Count']:>5} requests  "
            f"{row['Failure Count']:>3} failed  {row['Type']} {row['Name']}"
        )
    for failure in failures[:10]:
        what = f"{failure['Method']} {failure['Name']}"
        out.write(f"    failed {failure['Occurrences']}x {what}: {failure['Error'][:300]}")
    p95, errors, rps = float(total["95%"]), int(total["Failure Count"]), float(total["Requests/s"])
    note = (
        f"(p95 over {total['Request Count']} requests of {USERS} users in {seconds}s: {rps:.1f} requests/s, "
        f"{errors} errors; {orders} orders; load {sum(load) / len(load):.1f} mean, {max(load):.1f} max)"
    )
    ok = p95 < TARGET_MS and errors == 0
    return goal_line("team", f"{p95:.0f}ms", target, note, ok=ok)
