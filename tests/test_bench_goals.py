"""`bench` prints one machine-readable line per goal; a goal it cannot measure is n/a and SHORT, never ok."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bench.kit import goal_line

LINE = re.compile(r"^bench goal=(\w+) value=(\S+) target=(\S+) (ok|SHORT)$")


def test_a_goal_line_is_in_the_readable_form() -> None:
    note, line = goal_line("admin", "120ms", "<300ms", "20000 orders", ok=True).split("\n")
    assert LINE.match(line).groups() == ("admin", "120ms", "<300ms", "ok")
    assert note == "  admin: 20000 orders"
    assert LINE.match(goal_line("admin", "900ms", "<300ms", "x").split("\n")[1]).group(4) == "SHORT"
    assert LINE.match(goal_line("night", None, "t", "why", ok=True).split("\n")[1]).groups()[1:] == (
        "n/a",
        "t",
        "SHORT",
    )


def test_the_economy_goal_is_measured_on_a_small_shop() -> None:
    """The scenario runs end to end (emulator and worker processes): one simulated hour of the pull
    schedules with nothing changing, per resource, then four new objects each seen after one pull."""
    out = StringIO()
    call_command("bench", goals="economy", economy_listings=60, stdout=out)
    text = out.getvalue()
    (line,) = [m.groups() for m in map(LINE.match, text.splitlines()) if m]
    goal, value, target, verdict = line
    assert (goal, target, verdict) == ("economy", "<=360req/h", "ok")
    assert int(value.removesuffix("req/h")) <= 60  # one request per stream and pull: 52 today
    for what in ("order", "refund request", "offer", "message"):
        assert f"new {what}: in the mirror after one pull" in text


def test_pg_sync_without_a_postgresql_database_is_n_a_and_says_why() -> None:
    out = StringIO()
    call_command("bench", goals="pg_sync", pg_database_url="", stdout=out)
    note, line = out.getvalue().splitlines()[-2:]
    assert LINE.match(line).groups() == ("pg_sync", "n/a", "<=1.5x", "SHORT")
    assert "--pg-database-url" in note


def test_pg_sync_refuses_a_database_it_would_empty_unless_named_for_benches() -> None:
    with pytest.raises(CommandError, match="must contain 'bench'"):
        call_command("bench", goals="pg_sync", pg_database_url="postgres://bo:bo@127.0.0.1:5432/bo")


def test_pg_sync_counts_the_median_of_interleaved_pairs_not_each_sides_fastest() -> None:
    """A lucky baseline run (1.0 s) beside a slow sync (4.0 s) no longer sets the figure on its own."""
    from bench.goals.pg_sync import median_run, pair_ratios

    syncs = [{"seconds": s} for s in (3.0, 1.5, 4.0)]
    baselines = [{"seconds": b} for b in (2.0, 1.2, 1.0)]
    assert pair_ratios(syncs, baselines) == [1.5, 1.25, 4.0]
    assert median_run(syncs)["seconds"] == 3.0
    assert median_run([{"seconds": 2.0}, {"seconds": 1.0}])["seconds"] == 1.0  # a run that happened


def test_team_without_a_postgresql_database_is_n_a_and_says_why() -> None:
    out = StringIO()
    call_command("bench", goals="team", team_database_url="", admin_database_url="", stdout=out)
    note, line = out.getvalue().splitlines()[-2:]
    assert LINE.match(line).groups() == ("team", "n/a", "<300ms", "SHORT")
    assert "--team-database-url" in note


def test_stock_burst_without_a_postgresql_database_is_n_a_and_says_why() -> None:
    """A goal of `bench` (it was the command bench_stock_burst): SQLite serialises writers, so n/a."""
    out = StringIO()
    call_command("bench", goals="stock_burst", pg_database_url="", stdout=out)
    note, line = out.getvalue().splitlines()[-2:]
    assert LINE.match(line).groups() == ("stock_burst", "n/a", "0/0", "SHORT")
    assert "--pg-database-url" in note


@pytest.mark.django_db
def test_the_team_seed_finds_its_shop_beside_the_one_the_team_does_not_see(
    monkeypatch, strict_membership, emulator
) -> None:
    """The admin seed makes two shops ("bench" and "bench other"); the team are members of the first, and
    its listing forms' reference lists are stored as a shop in use has them, read an hour ago."""
    from datetime import timedelta

    from django.utils import timezone

    from backoffice.models import ReverbAccount
    from bench.goals import team
    from listings.models import ReferenceList
    from listings.reference import REFERENCE_TTL
    from tests.conftest import EMULATOR_API_URL, EMULATOR_TOKEN

    monkeypatch.setattr(team, "fresh_database", lambda: None)  # the test database: migrated, never emptied
    monkeypatch.setattr(team, "TOKEN", EMULATOR_TOKEN)
    data = team.seed_team(40, EMULATOR_API_URL)
    assert len(data["users"]) == team.USERS and data["orders"] and data["skus"]
    shop = ReverbAccount.objects.get(name="bench")
    assert shop.members.count() == team.USERS
    assert not ReverbAccount.objects.get(name="bench other").members.exists()
    assert ReverbAccount.objects.get(name="pulled").api_url == EMULATOR_API_URL
    lists = ReferenceList.objects.filter(account=shop)
    assert {r.name for r in lists} == {"conditions", "categories", "shipping_profiles", "carriers"}
    old = timezone.now() - timedelta(seconds=REFERENCE_TTL)
    assert all(r.choices and r.fetched_at < old for r in lists)


def test_the_team_locustfile_reads_a_form_as_a_browser_submits_it() -> None:
    from bench.locustfiles.team_forms import form_fields

    html = (
        '<input type="hidden" name="csrfmiddlewaretoken" value="t0k"><input name="title" value="A &amp; B">'
        '<input type="checkbox" name="offers" checked><input type="checkbox" name="off">'
        '<select name="condition"><option value="new">New</option><option value="used" selected>Used'
        '</option></select><textarea name="description">\nHello</textarea>'
        '<input type="submit" name="save" value="Save">'
    )
    assert form_fields(html) == {
        "csrfmiddlewaretoken": "t0k",
        "title": "A & B",
        "offers": "on",
        "condition": "used",
        "description": "Hello",
    }


def test_each_goal_runs_its_scenario_once_in_the_fixed_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench --goals` runs the scenarios it names (bulk and scaled_path share one), in one fixed order."""
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
    from bench.management.commands.bench import goal_lines

    ran: list[str] = []

    def fake(name: str, line: bool = True) -> object:
        def run(*args: object) -> str | None:
            ran.append(name)
            return f"{name} line" if line else None

        return run

    for module, function in [
        (economy, "measure"),
        (admin_pages, "admin_goal"),
        (night, "night_goal"),
        (first_work, "first_work_goal"),
        (team, "team_goal"),
        (pg_sync, "pg_sync_goal"),
        (stock, "stock_goal"),
        (stock_burst, "stock_burst_goal"),
    ]:
        monkeypatch.setattr(module, function, fake(function))
    monkeypatch.setattr(sync, "sync_goal", fake("sync_goal", line=False))
    monkeypatch.setattr(scaled, "goal_lines", lambda out, goals, opts: ran.append("scaled") or {"bulk": "b"})
    opts = {
        "economy_listings": 1,
        "admin_orders": 1,
        "admin_database_url": "",
        "night_listings": 1,
        "first_work_listings": 1,
        "per_page": 50,
        "sizes": "10,5",
        "pg_sync_listings": 1,
        "pg_database_url": "",
        "pg_sync_repeat": 1,
        "paced": False,
    }
    every = ["stock_burst", "stock", "pg_sync", "sync", "team", "scaled_path", "bulk", "first_work", "night"]
    lines = goal_lines(StringIO(), [*every, "admin", "economy"], opts)
    assert ran == [
        "measure",
        "admin_goal",
        "night_goal",
        "first_work_goal",
        "scaled",
        "team_goal",
        "sync_goal",
        "pg_sync_goal",
        "stock_goal",
        "stock_burst_goal",
    ]
    assert list(lines) == [
        "economy",
        "admin",
        "night",
        "first_work",
        "bulk",
        "team",
        "pg_sync",
        "stock",
        "stock_burst",
    ]
    ran.clear()
    assert goal_lines(StringIO(), ["scaled_path", "sync"], opts) == {"bulk": "b"} and ran == [
        "scaled",
        "sync_goal",
    ]


def test_a_locust_that_overruns_is_stopped_for_its_figures(monkeypatch) -> None:
    """A request that hangs (the machine stalled) kept Locust past its time: the goal stops it, and Locust
    writes its statistics on the way out, instead of the bench failing with a traceback and no figure."""
    import signal
    import subprocess

    from bench.goals import team

    class Overrunning:
        pid = 4242
        waits: list[float | None] = []

        def communicate(self, timeout=None):
            self.waits.append(timeout)
            if len(self.waits) == 1:
                raise subprocess.TimeoutExpired("locust", timeout)
            return b"stats written", b""

    signals = []
    monkeypatch.setattr(team.os, "killpg", lambda pid, sig: signals.append((pid, sig)))
    out = team._wait_locust(Overrunning(), 60)
    assert signals == [(4242, signal.SIGTERM)] and out.startswith(b"stats written")
    assert Overrunning.waits == [180, 60]
