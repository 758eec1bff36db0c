"""setup_schedules writes backoffice/background/schedules.py into django-q2's Schedule table, idempotently."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from backoffice.background import schedules

pytestmark = pytest.mark.django_db


def rows() -> list[tuple[object, ...]]:
    return list(
        Schedule.objects.order_by("name").values_list(
            "pk", "name", "func", "args", "kwargs", "schedule_type", "minutes", "repeats", "next_run"
        )
    )


def run() -> list[str]:
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    return out.getvalue().splitlines()


def test_setup_schedules_is_idempotent() -> None:
    first = run()
    assert len(first) == len(schedules.SCHEDULES)
    assert all(line.startswith("created") for line in first)
    before = rows()
    assert [r[1] for r in before] == sorted(spec.full_name for spec in schedules.SCHEDULES)

    second = run()
    assert all(line.startswith("unchanged") for line in second)
    assert rows() == before


def test_the_schedules() -> None:
    run()
    by_name = {s.name: s for s in Schedule.objects.all()}
    pulls = {
        s.name: (s.minutes, eval(s.kwargs)["resources"])  # our own repr, as django-q reads it
        for s in by_name.values()
        if s.func == "backoffice.background.tasks.pull_accounts"
    }
    assert pulls == {
        "reverb: orders and refund requests": (5, ["orders", "refunds"]),
        "reverb: offers and conversations": (5, ["negotiations", "conversations"]),
        "reverb: payments, feedback and payouts": (60, ["payments", "feedback", "payouts"]),
    }
    assert not any("listings" in resources for _, resources in pulls.values())  # the nightly pass reads them
    nightly = Schedule.objects.get(func="backoffice.background.tasks.run_due_reconciliations")
    assert nightly.schedule_type == Schedule.MINUTES and nightly.minutes <= 15 and nightly.repeats == -1
    assert all(s.schedule_type == Schedule.MINUTES for s in by_name.values())


def test_changed_and_stale_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    run()
    Schedule.objects.create(
        name="reverb: retired pull", func=schedules.PULL, minutes=7, schedule_type=Schedule.MINUTES
    )
    Schedule.objects.create(
        name="someone's own",
        func="backoffice.background.tasks.pull_accounts",
        args=None,
        schedule_type=Schedule.DAILY,
    )
    Schedule.objects.filter(name="reverb: payments, feedback and payouts").update(minutes=1)

    out = run()

    assert "removed   reverb: retired pull" in out
    assert any(line.startswith("updated   reverb: payments, feedback and payouts") for line in out)
    assert Schedule.objects.get(name="reverb: payments, feedback and payouts").minutes == 60
    assert Schedule.objects.filter(name="someone's own").exists()  # not ours: left alone
    assert not Schedule.objects.filter(name="reverb: retired pull").exists()


def test_make_run_sets_up_schedules() -> None:
    from backoffice.management.commands.run_backoffice import PREPARE_STEPS

    assert any(step.__name__ == "setup_schedules" for _, step in PREPARE_STEPS)


def test_django_q_is_configured_safely(settings: object) -> None:
    from django.conf import settings as live

    q = live.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert q["max_attempts"] >= 1 and q["ack_failures"] is True and q["catch_up"] is False
    assert q["save_limit"] > 0
    assert "orm" in q or "redis" in q


def test_safety_net_schedules_point_at_real_functions() -> None:
    """Every scheduled function path must import, or django-q would fail it at run time."""
    import importlib

    for spec in schedules.SCHEDULES:
        module, _, name = spec.func.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), spec.func
    names = {spec.func for spec in schedules.SCHEDULES}
    assert {
        "backoffice.background.jobs.recover_stale_jobs",
        "backoffice.background.webhooks.process_pending",
    } <= names


def test_rows_from_before_the_move_get_the_new_function_paths() -> None:
    """Schedules written when the tasks lived in backoffice/tasks.py, backoffice/jobs.py and
    backoffice/webhooks.py point at paths that no longer import: setup_schedules rewrites them in place
    (same rows, by name)."""
    run()
    old = {
        "pull_accounts": "backoffice.tasks.pull_accounts",
        "recover": "backoffice.jobs.recover_stale_jobs",
        "process_pending": "backoffice.webhooks.process_pending",
    }
    Schedule.objects.filter(func=schedules.PULL).update(func=old["pull_accounts"])
    Schedule.objects.filter(func__endswith=".recover_stale_jobs").update(func=old["recover"])
    Schedule.objects.filter(func__endswith=".process_pending").update(func=old["process_pending"])
    before = {pk for pk, *_ in rows()}
    lines = run()
    pulls = sum(spec.func == schedules.PULL for spec in schedules.SCHEDULES)  # 3 since the listings scan left
    assert sum(line.startswith("updated") for line in lines) == pulls + 2
    assert {pk for pk, *_ in rows()} == before
    assert not Schedule.objects.filter(func__in=old.values()).exists()
