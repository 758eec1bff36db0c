"""backoffice/background/queue.py: the one way work reaches a worker, chosen by settings.WORKER_BACKEND;
and the registries each app fills in its AppConfig.ready() (job handlers, reconciliation checks)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.conf import settings as django_settings

from backoffice.background import queue
from backoffice.background.jobs import HANDLERS, handler_for
from backoffice.models import ReconciliationReport
from backoffice.sync.reconcile import CONFLICT_CHECKERS
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
CALLS: list[tuple[Any, ...]] = []


DONE = threading.Event()


def record(*args: Any, **kwargs: Any) -> None:
    CALLS.append((threading.current_thread().name, args, kwargs))
    DONE.set()


RECORD = f"{__name__}.record"


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()
    DONE.clear()


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[tuple[Any, ...]]:
    """What would go to django-q2: (func path, *args, {kwargs})."""
    import django_q.tasks

    settings.WORKER_BACKEND = "django_q"
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        django_q.tasks, "async_task", lambda func, *args, **kw: sent.append((func, *args, kw))
    )
    return sent


def test_the_setting_is_declared() -> None:
    assert django_settings.WORKER_BACKEND in queue.BACKENDS


def test_enqueue_waits_for_the_commit(queued: list[Any], django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queue.enqueue(
            "backoffice.background.tasks.sync_account_task", 7, ["orders"], False, task_name="pull-7"
        )
        assert queued == []  # not before the transaction commits
    assert len(callbacks) == 1
    assert queued == [
        ("backoffice.background.tasks.sync_account_task", 7, ["orders"], False, {"task_name": "pull-7"})
    ]


def test_enqueue_inline_runs_now(settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    settings.WORKER_BACKEND = "inline"
    account = AccountFactory(enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue("backoffice.background.tasks.reconcile_task", account.pk)
    assert not ReconciliationReport.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue(RECORD, 1, two=2)
    assert [(threading.current_thread().name, (1,), {"two": 2})] == CALLS


def test_thread_runs_elsewhere(settings: Any) -> None:
    settings.WORKER_BACKEND = "thread"
    queue.enqueue_now(RECORD, 1)
    assert DONE.wait(10)
    assert len(CALLS) == 1 and CALLS[0][0] != threading.current_thread().name


def test_none_sends_nothing_and_a_call_can_override_the_setting(settings: Any, queued: list[Any]) -> None:
    settings.WORKER_BACKEND = "none"
    queue.enqueue_now(RECORD, 1)
    assert CALLS == [] and queued == []
    queue.enqueue_now(RECORD, 2, backend="inline")
    assert [args for _, args, _ in CALLS] == [(2,)]


def test_an_unknown_backend_is_an_error(settings: Any) -> None:
    settings.WORKER_BACKEND = "celery"
    with pytest.raises(ValueError, match="WORKER_BACKEND"):
        queue.enqueue_now(RECORD)


def test_apps_register_their_job_handlers_and_checks_when_django_starts() -> None:
    from listings import conflicts
    from orders.jobs import ship_one

    assert handler_for("orders.ship") is ship_one
    assert {"listings.push", "listings.end", "listings.csv_import", "backoffice.mass_sync"} <= set(HANDLERS)
    assert conflicts.pending_edits in CONFLICT_CHECKERS["listings"]
    with pytest.raises(LookupError, match="AppConfig.ready"):
        handler_for("nobody.registered.this")
