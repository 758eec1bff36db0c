"""The night in chunks (issue 17, "the night fits"): chunks resume after a worker is killed with the same
findings as one uninterrupted run and none twice; no chunk exceeds its request budget; older history is
covered by a rolling sweep within 7 nights; the summary is mailed once; a crashed or stalled chunk leaves
a record a person sees and the night goes on."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.db import transaction
from django.utils import timezone

from backoffice.background import tasks
from backoffice.models import (
    HistorySweep,
    ReconciliationReport,
    ReconciliationSeen,
    ReverbAccount,
)
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.roles import MANAGER
from backoffice.sync import reconcile
from backoffice.sync.reconcile import reconcile_account, run_chunk, start_report
from backoffice.sync.runner import sync_account
from backoffice.sync.watermark import since_for
from emulator import core
from orders.models import Order
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

State = ReconciliationReport.State
_BUILD_CLIENT = ReverbAccount.client


def small_pages(account: ReverbAccount, **options: Any) -> ReverbClient:
    """Three rows a page, so the tiny shop's walks take several pages (and chunks)."""
    return _BUILD_CLIENT(account, rate_limiter=UnlimitedRateLimiter(), sleep=lambda s: None, per_page=3)


def simulate(emulator: Any, event: str, **params: Any) -> dict[str, Any]:
    with emulator.lock:
        return core.SIMULATIONS[event](emulator, params)


@pytest.fixture
def account(emulator: Any, settings: Any) -> ReverbAccount:
    settings.RECONCILE_RECENT_DAYS = 30
    settings.RECONCILE_SWEEP_NIGHTS = 7
    account = AccountFactory(name="night-shop")
    assert all(run.ok for run in sync_account(account, client=small_pages(account)))
    return account


@pytest.fixture
def manager(account: ReverbAccount) -> User:
    """A Manager of the account (the summary goes to the shop's people: backoffice/people.py)."""
    user = User.objects.create_user("mona", "mona@example.com", "x")
    user.groups.add(Group.objects.get_or_create(name=MANAGER)[0])
    account.members.add(user)
    return user


def changes_behind_the_mirror(emulator: Any) -> None:
    """A price, a title, a deleted listing, a changed and a new order: findings in several resources."""
    with emulator.lock:
        offered = {n["listing_id"] for n in emulator.store.table("negotiations").values()}
    live = [x for x in emulator.state("listings")["listings"] if x["state"]["slug"] == "live"]
    simulate(emulator, "listing_changed", listing_id=live[0]["id"], price="1234.50")
    simulate(emulator, "listing_changed", listing_id=live[1]["id"], title="Renamed at night")
    gone = next(x for x in live[2:] if x["id"] not in offered)
    simulate(emulator, "listing_deleted", listing_id=gone["id"])
    newest = emulator.state("orders")["orders"][0]
    simulate(emulator, "order_changed", order_number=newest["order_number"], status="received")
    simulate(emulator, "new_order", listing_id=live[3]["id"])


def findings(report: ReconciliationReport) -> list[tuple[str, ...]]:
    rows = report.findings.values_list("resource", "object_key", "field", "ours", "theirs", "action")
    return sorted(rows)


class Killed(BaseException):
    """The worker dies: not an Exception, so nothing of ours catches it (a SIGKILL does not either)."""


class Rollback(Exception):
    pass


def uninterrupted(account: ReverbAccount) -> list[tuple[str, ...]]:
    """The findings of one uninterrupted run, then everything it wrote rolled back."""
    try:
        with transaction.atomic():
            report = reconcile_account(account, client=small_pages(account), notify=False)
            found = findings(report)
            raise Rollback
    except Rollback:
        pass
    assert not ReconciliationReport.objects.exists()
    return found


def dies_at(client: ReverbClient, request_number: int) -> ReverbClient:
    """A client whose worker is killed as it sends its `request_number`-th request."""

    def hook(method: str, url: str, body: Any) -> None:
        if client.request_count + 1 >= request_number:
            raise Killed(url)

    client.send_hooks.append(hook)
    return client


def worker_restarts(report: ReconciliationReport) -> None:
    """Time passes beyond the task timeout: the killed chunk's hold on the report is stale."""
    ReconciliationReport.objects.filter(pk=report.pk).update(
        last_chunk_at=timezone.now() - reconcile.stale_after() - dt.timedelta(seconds=1)
    )


@pytest.mark.parametrize("kill_at", [1, 3, 6, 10])
def test_a_killed_chunk_resumes_with_the_same_findings_and_none_twice(
    account: ReverbAccount, emulator: Any, kill_at: int
) -> None:
    changes_behind_the_mirror(emulator)
    expected = uninterrupted(account)
    assert {f[0] for f in expected} >= {"listings", "orders"}
    assert len(expected) == len(set(expected))

    report = start_report(account)
    chunks = 0
    while chunks < 1:  # a chunk, then the worker dies inside the next one (the night takes ~18 requests)
        assert not run_chunk(report, client=small_pages(account), max_requests=4, notify=False)
        chunks += 1
    with pytest.raises(Killed):
        run_chunk(report, client=dies_at(small_pages(account), kill_at), max_requests=20, notify=False)
    report.refresh_from_db()
    assert report.state == State.RUNNING and report.chunk_token  # held by a chunk that is gone
    with pytest.raises(reconcile.Busy):  # a re-sent task does not run beside a chunk that may live
        run_chunk(report, client=small_pages(account), notify=False)

    worker_restarts(report)
    while not run_chunk(report, client=small_pages(account), max_requests=4, notify=False):
        pass

    report.refresh_from_db()
    assert report.state != State.RUNNING and report.finished_at
    assert findings(report) == expected  # the same findings, none twice
    assert "stopped without finishing" in report.log  # the crash is on the record
    assert not ReconciliationSeen.objects.exists()


@pytest.mark.parametrize("where", ["land_page", "save"])
def test_a_kill_while_a_page_lands_loses_nothing_and_lands_nothing_twice(
    account: ReverbAccount, emulator: Any, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Killed while a page is written (land_page: rows and findings) or just before its cursor is saved:
    the page's transaction is lost whole, and the next chunk lands that very page again."""
    changes_behind_the_mirror(emulator)
    expected = uninterrupted(account)
    report = start_report(account)
    calls = Counter[str]()
    owner = reconcile.Chunk if where == "save" else reconcile
    real = getattr(owner, where)

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] in (3, 8):
            raise Killed(where)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, where, dying)
    for _ in range(200):
        try:
            if run_chunk(report, client=small_pages(account), max_requests=5, notify=False):
                break
        except Killed:
            worker_restarts(report)
    report.refresh_from_db()
    assert calls["n"] > 8 and report.finished_at
    assert findings(report) == expected
    assert report.log.count("stopped without finishing") == 2


def test_no_chunk_exceeds_its_request_budget(account: ReverbAccount, emulator: Any) -> None:
    changes_behind_the_mirror(emulator)
    report = start_report(account)
    spent = []
    while True:
        client = small_pages(account)
        done = run_chunk(report, client=client, max_requests=2, notify=False)
        spent.append(client.request_count)
        if done:
            break
    assert max(spent) <= 2  # listings alone take 4 pages
    assert len(spent) >= 9  # the night (about 18 requests) really was cut
    report.refresh_from_db()
    assert report.chunks == len(spent)


def test_the_chunk_stops_at_its_time_budget(account: ReverbAccount, emulator: Any) -> None:
    report = start_report(account)
    client = small_pages(account)
    assert not run_chunk(report, client=client, max_requests=1000, max_seconds=1e-9, notify=False)
    assert client.request_count == 0  # the budget is checked before each request


# ---- the rolling sweep of older history ------------------------------------------------------------------


def night(account: ReverbAccount, at: dt.datetime) -> ReconciliationReport:
    report = ReconciliationReport.objects.create(account=account, started_at=at)
    return reconcile_account(account, client=small_pages(account), report=report, notify=False)


def test_older_history_is_covered_within_seven_nights(account: ReverbAccount, emulator: Any) -> None:
    orders = list(Order.objects.filter(account=account).values_list("reverb_id", "remote_created_at"))
    first = timezone.now()
    recent_start = first - dt.timedelta(days=30)
    older = [key for key, created in orders if created < recent_start]
    assert len(older) >= 4  # the tiny shop has a year of orders
    # An old order changes behind the mirror's back: the sweep finds it within the week.
    oldest = min(orders, key=lambda o: o[1])[0]
    simulate(emulator, "order_changed", order_number=oldest, status="received")

    covered: list[tuple[dt.datetime | None, dt.datetime]] = []
    shares, found_on, nights = [], None, 0
    while nights < 7:
        report = night(account, first + dt.timedelta(days=nights))
        nights += 1
        assert report.state != State.FAILED, report.error
        seg = next(s for s in report.plan if s["resource"] == "orders" and s["kind"] == "older")
        start = dt.datetime.fromisoformat(seg["start"]) if seg["start"] else None
        covered.append((start, dt.datetime.fromisoformat(seg["end"])))
        shares.append(report.older_share)
        assert report.older_range  # this night's slice, shown on the report
        if found_on is None and report.findings.filter(resource="orders", object_key=oldest).exists():
            found_on = nights
        if report.history_covered_at is not None:
            break
    assert report.history_covered_at == report.started_at  # shown on the report: all of it, last covered
    assert found_on is not None and found_on <= nights <= 7
    assert nights >= 3  # a share a night, not everything at once
    # Contiguous slices from the very beginning up to the last night's recent months: nothing skipped.
    assert covered[0][0] is None
    for (_, end), (start, _) in zip(covered, covered[1:], strict=False):
        assert start == end
    assert covered[-1][1] == report.started_at - dt.timedelta(days=30)
    assert all(0 < s <= 1 for s in shares) and 0.99 <= sum(shares) <= 1.01
    sweep = HistorySweep.objects.get(account=account)
    assert sweep.position is None and sweep.nights == 0 and sweep.covered_at == report.started_at
    # The next night starts the next sweep from the beginning.
    again = night(account, first + dt.timedelta(days=nights))
    seg = next(s for s in again.plan if s["resource"] == "orders" and s["kind"] == "older")
    assert seg["start"] is None and again.history_covered_at == report.started_at


def test_a_failed_night_does_not_move_the_sweep(account: ReverbAccount, emulator: Any) -> None:
    from emulator.faults import Faults

    emulator.faults = Faults(rate_5xx=1.0)
    report = night(account, timezone.now())
    assert report.state == State.FAILED
    unfinished = report.findings.filter(action="failed", object_key="")
    assert sorted(unfinished.values_list("resource", flat=True)) == sorted(  # once per resource
        ["listings", "orders", "payments", "feedback", "refunds", "conversations", "negotiations", "payouts"]
    )
    sweep = HistorySweep.objects.get(account=account)
    assert sweep.position is None and sweep.nights == 0


def test_a_nightly_slice_does_not_move_the_incremental_watermark(account: ReverbAccount) -> None:
    before = since_for(account.pk, "orders")
    night(account, timezone.now())
    assert since_for(account.pk, "orders") == before
    assert since_for(account.pk, "listings") > before  # a complete pass counts as one


def test_all_history_checks_everything_and_ends_the_sweep(account: ReverbAccount, emulator: Any) -> None:
    oldest = Order.objects.filter(account=account).order_by("remote_created_at").first()
    simulate(emulator, "order_changed", order_number=oldest.reverb_id, status="received")
    report = reconcile_account(account, client=small_pages(account), notify=False, all_history=True)
    assert report.findings.filter(resource="orders", object_key=oldest.reverb_id).exists()
    assert report.history_covered_at == report.started_at


# ---- the summary mail, the tasks, crashes -----------------------------------------------------------


def needs_a_person(emulator: Any, account: ReverbAccount) -> None:
    from listings import editing
    from listings.models import Listing

    listing = next(x for x in emulator.state("listings")["listings"] if x["state"]["slug"] == "live")
    row = Listing.objects.get(account=account, reverb_id=str(listing["id"]))
    editing.record_edits(row, {"price": "999.00"})
    row.save(update_fields=["pending_changes"])
    simulate(emulator, "listing_changed", listing_id=listing["id"], price="1500.00")


@pytest.fixture
def chunked_tasks(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.WORKER_BACKEND = "inline"
    settings.RECONCILE_CHUNK_REQUESTS = 4
    monkeypatch.setattr(ReverbAccount, "client", small_pages)


def test_the_tasks_chain_chunks_to_the_end_and_mail_once(
    account: ReverbAccount,
    emulator: Any,
    manager: User,
    chunked_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    needs_a_person(emulator, account)
    now = timezone.now()
    account.reconcile_at = (now - dt.timedelta(minutes=1)).time()
    account.time_zone = "UTC"
    account.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_due_reconciliations(now).startswith("started 1 reconciliation")
    report = ReconciliationReport.objects.get()
    assert report.state == State.NEEDS_ATTENTION and report.chunks >= 5
    assert len(mail.outbox) == 1
    assert "Older history: " in mail.outbox[0].body and "checked this night" in mail.outbox[0].body
    # A task sent again for the finished night, a second finish: no second mail.
    assert tasks.reconcile_task(account.pk, report.pk) == f"report {report.pk} already attention"
    assert not reconcile.send_summary(report)
    assert len(mail.outbox) == 1


def test_a_crashing_chunk_is_on_the_record_and_the_next_resumes(
    account: ReverbAccount,
    emulator: Any,
    chunked_tasks: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    walk = reconcile.Chunk.walk
    crashes = Counter[str]()

    def buggy_run(self: reconcile.Chunk) -> bool:
        if crashes["n"] < 2:
            crashes["n"] += 1
            raise RuntimeError("a bug in chunk code")
        return reconcile.Chunk.__dict__["_real_run"](self)

    monkeypatch.setattr(reconcile.Chunk, "_real_run", reconcile.Chunk.run, raising=False)
    monkeypatch.setattr(reconcile.Chunk, "run", buggy_run)
    assert walk  # the pages themselves are untouched
    report = start_report(account)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.reconcile_task(account.pk, report.pk)
    report.refresh_from_db()
    assert report.log.count("failed: RuntimeError: a bug in chunk code") == 2
    assert report.state == State.CLEAN and report.finished_at


def test_three_crashes_in_a_row_fail_the_night_visibly(
    account: ReverbAccount,
    manager: User,
    chunked_tasks: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    def always(self: reconcile.Chunk) -> bool:
        raise RuntimeError("broken")

    monkeypatch.setattr(reconcile.Chunk, "run", always)
    report = start_report(account)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.reconcile_task(account.pk, report.pk)
    report.refresh_from_db()
    assert report.state == State.FAILED and "3 chunks failed in a row" in report.error
    assert len(mail.outbox) == 1


def test_a_stalled_night_is_resumed_by_the_schedule(
    account: ReverbAccount, chunked_tasks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = start_report(account)
    assert not run_chunk(report, notify=False)  # the chunk's worker died before it queued the next
    worker_restarts(report)
    queued = []
    monkeypatch.setattr(tasks, "enqueue", lambda *args: queued.append(args))
    summary = tasks.run_due_reconciliations(timezone.now())
    assert summary.endswith("resumed 1 stalled: night-shop")
    assert queued == [("backoffice.background.tasks.reconcile_task", account.pk, report.pk)]


def test_the_report_page_shows_where_the_night_stands(account: ReverbAccount, admin_client: Any) -> None:
    report = start_report(account)
    assert not run_chunk(report, client=small_pages(account), max_requests=2, notify=False)
    ReconciliationReport.objects.filter(pk=report.pk).update(log="01:02:03 chunk 2 stopped without finishing")
    html = admin_client.get(f"/admin/backoffice/reconciliationreport/{report.pk}/change/").content.decode()
    assert "1 chunk," in html and "segment 1 of" in html and "listings, part-way" in html
    assert "older history checked this night" in html and "not yet" in html
    assert "chunk 2 stopped without finishing" in html
    listing = admin_client.get("/admin/backoffice/reconciliationreport/").content.decode()
    assert f"{100 * report.older_share:.0f}%" in listing


def test_a_night_whose_chunks_keep_dying_fails_visibly(account: ReverbAccount, manager: User) -> None:
    report = start_report(account)
    for _ in range(reconcile.MAX_STOPS + 1):
        with pytest.raises(Killed):
            run_chunk(report, client=dies_at(small_pages(account), 2), notify=False)
        worker_restarts(report)
    with pytest.raises(reconcile.Busy, match="failed"):
        run_chunk(report, client=small_pages(account))
    report.refresh_from_db()
    assert report.state == State.FAILED and "stopped without finishing 6 times" in report.error
    assert report.log.count("stopped without finishing") == reconcile.MAX_STOPS
    assert len(mail.outbox) == 1


def test_the_command_can_check_all_history(account: ReverbAccount, capsys: Any) -> None:
    from django.core.management import call_command

    call_command("reconcile", "--account", "night-shop", "--all-history", "--no-email")
    assert capsys.readouterr().out.startswith("night-shop: Clean")
    assert HistorySweep.objects.get(account=account).covered_at is not None
    call_command("reconcile", "--account", "night-shop", "--no-email")
    assert "older history checked: " in capsys.readouterr().out
