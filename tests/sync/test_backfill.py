"""A first pull reads what has a deadline first, then live listings, then history, in chunks that yield;
the 5-minute pulls run beside it; after an outage the deadline walks come before the catch-up; the time
left is counted from each step's size (issue 28, "today's work first")."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from backoffice.background import tasks
from backoffice.models import Backfill, ReverbAccount, SyncRun
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.sync import backfill
from backoffice.sync.engine import HISTORY, LIVE, TODAY, WAITING
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def small_pages(account: ReverbAccount) -> Any:
    """A client on the emulator with two rows a page (so every list has several pages), recording each GET."""
    client = account.client(rate_limiter=UnlimitedRateLimiter(), sleep=lambda s: None, per_page=2)
    client.sent = []
    client.send_hooks.append(lambda method, url, body: client.sent.append(url) if method == "GET" else None)
    return client


def what(url: str) -> str:
    """A request as the list it reads: its path after /api and the filter that makes it a deadline list."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    path = parts.path.removeprefix("/api")
    if path == "/my/listings":
        return f"listings state={query['state'][0]}"
    if path == "/my/refund_requests/selling":
        return "open refunds" if len(query.get("state[]", [])) == 2 else "refunds"
    if path == "/my/conversations":
        return "unread conversations" if query.get("unread_only") == ["true"] else "conversations"
    return path


def run_to_the_end(row: Backfill, client: Any, per_chunk: int = 3) -> int:
    chunks = 0
    while not backfill.run_chunk(row, client, max_requests=per_chunk):
        chunks += 1
        assert chunks < 500
    return chunks + 1


def test_a_first_pull_reads_deadline_work_then_live_listings_then_history(emulator: Any) -> None:
    account = AccountFactory(name="new-shop")
    row, started = backfill.needed(account, [])
    assert started and row.kind == Backfill.Kind.FIRST
    client = small_pages(account)

    chunks = run_to_the_end(row, client)

    sent = [what(url) for url in client.sent]
    deadline = {"/my/orders/selling/awaiting_shipment", "open refunds", "/my/listings/negotiations"}
    deadline |= {"unread conversations"}
    last_deadline = max(i for i, w in enumerate(sent) if w in deadline)
    first_unpaid = sent.index("/my/orders/selling/unpaid")
    first_live = sent.index("listings state=live")
    first_history = min(
        i for i, w in enumerate(sent) if w in {"listings state=all", "/my/orders/selling/all", "refunds"}
    )
    assert last_deadline < first_unpaid < first_live < first_history, sent
    # Within a phase, every list's first page comes before any second page: sizes are known early.
    assert set(sent[:4]) == deadline
    # History is every collection (the offers' list is whole already: not read twice).
    assert sent.count("/my/listings/negotiations") == len(
        [u for u in client.sent if "/my/listings/negotiations" in u]
    )
    assert {"/my/orders/selling/all", "/my/payments/selling", "/my/payouts", "conversations"} <= set(sent)
    assert chunks > 5  # chunks of at most 3 requests: many short tasks, not one long one

    row.refresh_from_db()
    assert row.state == Backfill.State.DONE and row.today_done_at is not None
    assert row.requests == len(client.sent)
    # The mirror holds the whole shop.
    from orders.models import Order

    assert Order.objects.filter(account=account).count() == len(emulator.store.table("orders"))
    # Its runs are slices: finished, never a watermark.
    runs = SyncRun.objects.filter(account=account)
    assert runs.exists() and not runs.filter(status=SyncRun.Status.RUNNING).exists()
    assert not runs.filter(full=True).exists() and not runs.filter(since__isnull=False).exists()


def test_sync_runs_of_the_first_pull_come_in_deadline_order(emulator: Any) -> None:
    account = AccountFactory(name="new-shop")
    row, _ = backfill.needed(account, [])
    run_to_the_end(row, small_pages(account), per_chunk=1000)  # one chunk: one run per resource
    first_run = {}
    for run in SyncRun.objects.filter(account=account).order_by("pk"):
        first_run.setdefault(run.resource, run.pk)
    # The deadline resources' runs were opened before the listings' and the history-only resources'.
    for deadline in ("orders", "refunds", "negotiations", "conversations"):
        assert first_run[deadline] < first_run["listings"] < first_run["payments"] < first_run["payouts"]


def test_the_five_minute_pull_runs_beside_a_backfill(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from backoffice.background import queue

    build = ReverbAccount.client
    monkeypatch.setattr(
        ReverbAccount, "client", lambda self, **kw: build(self, rate_limiter=UnlimitedRateLimiter(), **kw)
    )
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(queue, "enqueue_now", lambda func, *args, **kw: queued.append((func, *args)))
    account = AccountFactory(name="new-shop")

    with django_capture_on_commit_callbacks(execute=True):
        summary = tasks.sync_account_task(account.pk, ["orders", "refunds"])

    row = Backfill.objects.get(account=account)
    assert queued == [("backoffice.background.tasks.backfill_task", account.pk)]
    # The pulls ran, incrementally from the backfill's start (it reads everything older): not full scans.
    assert "new-shop orders: fetched=" in summary and "new-shop refunds: fetched=" in summary
    pulls = SyncRun.objects.filter(account=account, resource__in=["orders", "refunds"])
    assert pulls.count() == 2 and not pulls.filter(full=True).exists()
    assert all(run.since is not None and run.since < row.started_at for run in pulls)

    # A chunk of the backfill is running, its orders run open: the next pull is not held by it.
    chunk_run = SyncRun.objects.create(account=account, resource="orders", started_at=timezone.now())
    row.runs = [chunk_run.pk]
    row.save()
    with django_capture_on_commit_callbacks(execute=True):
        summary = tasks.sync_account_task(account.pk, ["orders", "refunds"])
    assert "still running" not in summary and "new-shop orders: fetched=" in summary
    assert queued == [("backoffice.background.tasks.backfill_task", account.pk)]  # not queued twice


def test_after_an_outage_deadline_work_comes_before_the_catch_up(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from backoffice.background import queue

    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(queue, "enqueue_now", lambda func, *args, **kw: queued.append((func, *args)))
    account = AccountFactory(name="old-shop")
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    for name in ("orders", "refunds"):
        SyncRun.objects.create(
            account=account,
            resource=name,
            full=True,
            started_at=two_days_ago,
            status=SyncRun.Status.SUCCESS,
        )

    with django_capture_on_commit_callbacks(execute=True):
        summary = tasks.sync_account_task(account.pk, ["orders", "refunds"])

    row = Backfill.objects.get(account=account)
    assert row.kind == Backfill.Kind.CATCH_UP and row.held == ["orders", "refunds"]
    assert [s["label"] for s in row.steps] == [
        "orders awaiting shipment",
        "open refund requests",
        "unpaid orders",
    ]
    assert "after the backfill's deadline work: orders, refunds" in summary
    assert SyncRun.objects.filter(account=account).count() == 2  # the catch-up pulls wait
    assert queued == [("backoffice.background.tasks.backfill_task", account.pk)]

    client = small_pages(account)
    run_to_the_end(row, client)
    assert {what(u) for u in client.sent} == {
        "/my/orders/selling/awaiting_shipment",
        "open refunds",
        "/my/orders/selling/unpaid",
    }
    build = ReverbAccount.client
    monkeypatch.setattr(
        ReverbAccount, "client", lambda self, **kw: build(self, rate_limiter=UnlimitedRateLimiter(), **kw)
    )
    summary = tasks.sync_account_task(account.pk, ["orders", "refunds"])
    # The catch-up itself: incremental from the last success two days ago.
    assert "old-shop orders: fetched=" in summary
    catch_up = SyncRun.objects.filter(account=account, resource="orders").order_by("-pk").first()
    assert catch_up.since is not None and catch_up.since < two_days_ago


def test_a_recent_account_gets_no_backfill(emulator: Any) -> None:
    account = AccountFactory(name="steady")
    SyncRun.objects.create(
        account=account,
        resource="orders",
        full=False,
        since=timezone.now(),
        started_at=timezone.now(),
        status=SyncRun.Status.SUCCESS,
    )
    assert backfill.needed(account, ["orders"]) == (None, False)


# ---- progress and time left -----------------------------------------------------------------------------


def step(
    phase: int,
    *,
    opened: bool = True,
    pages: int = 0,
    total: int | None = None,
    requests: int = 0,
    done: bool = False,
) -> dict[str, Any]:
    s = backfill._step("orders", "x", phase, "walk", 0)
    s.update(opened=opened, pages=pages, total_pages=total, requests=requests, done=done)
    return s


def test_time_left_is_requests_left_at_the_paced_rate(settings: Any) -> None:
    settings.REVERB_RATE_PER_SECOND, settings.BACKFILL_SHARE = 1.0, 0.9
    row = Backfill(
        steps=[
            step(TODAY, pages=100, total=478, requests=100),  # the shipping queue, 378 pages left
            step(TODAY, pages=1, total=90, requests=1),  # offers, 89 left
            step(WAITING, pages=1, total=334, requests=1),  # unpaid, 333 left
            step(LIVE, pages=1, total=1076, requests=1),  # 1075 left
            step(HISTORY, pages=2, total=81, requests=4),  # payouts: 2 requests a page (line items): 158
        ],
        requests=107,
    )
    progress = backfill.progress(row)
    assert progress.today_left == 378 + 89
    assert progress.left == 378 + 89 + 333 + 1075 + 158
    assert progress.today_seconds_left == pytest.approx(467 / 0.9)
    assert progress.today_time_left == "about 9 minutes"  # 519 s
    assert progress.time_left == "about 38 minutes"  # 2033 / 0.9 = 2259 s, rounded up
    assert progress.sizes_known and progress.phase == "today's work"
    assert progress.percent == round(100 * 107 / (107 + 2033))

    row.steps[3] = step(LIVE, opened=False)  # not opened yet: its size is unknown, counted as one page
    progress = backfill.progress(row)
    assert not progress.sizes_known and progress.time_left.startswith("at least")


def test_today_is_complete_when_every_deadline_step_is(emulator: Any) -> None:
    account = AccountFactory(name="new-shop")
    row, _ = backfill.needed(account, [])
    client = small_pages(account)
    while backfill.progress(row).phase == "today's work":
        assert row.today_done_at is None
        backfill.run_chunk(row, client, max_requests=1)
    row.refresh_from_db()
    assert row.today_done_at is not None and row.state == Backfill.State.RUNNING
    assert backfill.progress(row).today_left == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "nothing left"),
        (30, "about a minute"),
        (61, "about 2 minutes"),
        (3 * 3600 + 1200, "about 3 h 20 min"),
    ],
)
def test_about(seconds: float, text: str) -> None:
    assert backfill.about(seconds) == text


# ---- tasks that yield, the shared budget, `reverb_account add` -------------------------------------------


def test_each_task_runs_one_chunk_and_queues_the_next(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from backoffice.background import queue

    build = ReverbAccount.client
    monkeypatch.setattr(
        ReverbAccount,
        "client",
        lambda self, **kw: build(self, **{**kw, "per_page": 2, "sleep": lambda s: None}),
    )
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(queue, "enqueue_now", lambda func, *args, **kw: queued.append((func, *args)))
    settings.BACKFILL_CHUNK_REQUESTS = 2
    account = AccountFactory(name="new-shop")
    backfill.needed(account, [])

    with django_capture_on_commit_callbacks(execute=True):
        summary = tasks.backfill_task(account.pk)

    row = Backfill.objects.get(account=account)
    assert summary.startswith("new-shop: backfill chunk 1 done (today's work)")
    assert row.requests == 2 and row.chunks == 1 and row.state == Backfill.State.RUNNING
    assert queued == [("backoffice.background.tasks.backfill_task", account.pk)]
    # Nothing is left running between chunks: the account's pulls and its removal are free meanwhile.
    assert not SyncRun.objects.filter(account=account, status=SyncRun.Status.RUNNING).exists()
    assert row.runs == []


def test_reverb_account_add_queues_the_first_pull(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from io import StringIO

    from django.core.management import call_command

    from backoffice.background import queue
    from tests.conftest import EMULATOR_API_URL, EMULATOR_TOKEN

    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(queue, "enqueue_now", lambda func, *args, **kw: queued.append((func, *args)))
    monkeypatch.setenv("REVERB_TOKEN", EMULATOR_TOKEN)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "reverb_account", "add", "fresh", "--api-url", EMULATOR_API_URL, "--no-check", stdout=out
        )
    account = ReverbAccount.objects.get(name="fresh")
    assert Backfill.objects.get(account=account).kind == Backfill.Kind.FIRST
    assert queued == [("backoffice.background.tasks.backfill_task", account.pk)]
    assert "First pull queued: the shipping queue" in out.getvalue()


def test_the_backfill_paces_itself_at_its_share_of_the_rate() -> None:
    from backoffice.background.ratebudget import SharePace

    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pace = SharePace(UnlimitedRateLimiter(), 1.0, 0.8, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pace.acquire("account:1")
    # One request every 1.25 s: the other 0.2 request/s keeps refilling the shared bucket for everyone else.
    assert slept == pytest.approx([1.25] * 4)


def test_the_night_waits_for_a_first_pull(db: None) -> None:
    busy = AccountFactory(name="filling", reconcile_at=dt.time(3, 0), time_zone="UTC")
    AccountFactory(name="steady", reconcile_at=dt.time(3, 0), time_zone="UTC")
    Backfill.objects.create(account=busy)
    now = timezone.now().replace(hour=4, minute=0)
    assert [a.name for a, _ in tasks.due_accounts(now)] == ["steady"]
    Backfill.objects.filter(account=busy).update(state=Backfill.State.DONE)
    assert sorted(a.name for a, _ in tasks.due_accounts(now)) == ["filling", "steady"]


def test_a_failed_page_is_read_again_and_a_step_failing_for_good_does_not_stop_the_rest(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = AccountFactory(name="new-shop")
    row, _ = backfill.needed(account, [])
    client = small_pages(account)
    real = backfill.land_page
    calls = {"n": 0}

    def flaky(resource: Any, *args: Any, **kwargs: Any) -> Any:
        if resource.name == "refunds":
            calls["n"] += 1
            raise RuntimeError("the database went away")
        return real(resource, *args, **kwargs)

    monkeypatch.setattr(backfill, "land_page", flaky)
    assert not backfill.run_chunk(row, client, max_requests=100)
    refunds = next(s for s in row.steps if s["label"] == "open refund requests")
    assert refunds["failures"] == 1 and refunds["pages"] == 0 and not refunds["opened"]  # nothing skipped
    while not backfill.run_chunk(row, client, max_requests=100):
        pass
    refunds = next(s for s in row.steps if s["label"] == "open refund requests")
    # Both refunds steps (the open ones, then their history): MAX_STEP_FAILURES tries each, then given up.
    assert (
        calls["n"] == 2 * backfill.MAX_STEP_FAILURES and refunds["done"] and "went away" in refunds["error"]
    )
    row.refresh_from_db()
    assert row.state == Backfill.State.DONE and "open refund requests: RuntimeError" in row.error
    assert all(s["done"] for s in row.steps)


def test_newest_first_pulls_beside_a_first_pull_read_only_what_changed_since_it_started(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backoffice.sync.runner import sync_account

    account = AccountFactory(name="new-shop")
    row, _ = backfill.needed(account, [])
    # Every row of the shop is older than the backfill's start (minus the overlap): the backfill reads them.
    row.started_at = timezone.now() + dt.timedelta(hours=1)
    row.save()
    client = small_pages(account)
    runs = sync_account(account, ["conversations", "negotiations", "payouts"], client=client)
    assert len(emulator.store.table("conversations")) > 2  # more than one page of two
    # One page each (the first conversations and offers land), not the whole of each list.
    assert {run.resource: run.requests for run in runs} == {
        "conversations": 1,
        "negotiations": 1,
        "payouts": 1,
    }
    assert all(run.since is not None and not run.full for run in runs)


def test_the_chunk_that_completes_todays_work_ends_there(emulator: Any) -> None:
    """Its runs close and its rows are linked as soon as today's work is complete, not after the chunk has
    gone on through the next phases (the first_work bench counts until then)."""
    account = AccountFactory(name="new-shop")
    row, _ = backfill.needed(account, [])
    client = small_pages(account)
    assert not backfill.run_chunk(row, client, max_requests=1000)
    row.refresh_from_db()
    assert row.today_done_at is not None and row.state == Backfill.State.RUNNING
    today = [s for s in row.steps if s["phase"] == TODAY]
    assert row.requests == sum(s["requests"] for s in today)  # nothing read past today's work
    assert not SyncRun.objects.filter(account=account, status=SyncRun.Status.RUNNING).exists()
