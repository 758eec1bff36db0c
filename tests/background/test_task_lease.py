"""No task is lost when a worker dies: every task sent to the cluster has a lease until django-q stores its
result, and the sweep sends again what outlived the task timeout without one (Redis does not re-deliver)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_q.models import Task

from backoffice.background import queue, schedules, tasks
from backoffice.models import TaskLease

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """django-q's async_task, recorded: (func, args, kwargs) per send; task ids t1, t2..."""
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def fake_async_task(func: str, *args: Any, **kwargs: Any) -> str:
        calls.append((func, args, kwargs))
        return f"t{len(calls)}"

    monkeypatch.setattr("django_q.tasks.async_task", fake_async_task)
    return calls


def finished(task_id: str) -> None:
    now = timezone.now()
    Task.objects.create(id=task_id, name=task_id, func="f", started=now, stopped=now, success=False)


def age(minutes: int) -> None:
    TaskLease.objects.update(sent_at=timezone.now() - timedelta(minutes=minutes))


def test_a_task_sent_to_the_cluster_has_a_lease_with_its_task_id(sent: list[Any]) -> None:
    queue.enqueue_now(
        "backoffice.background.tasks.sync_account_task", 7, backend="django_q", task_name="sync 7", full=True
    )
    assert sent == [
        ("backoffice.background.tasks.sync_account_task", (7,), {"full": True, "task_name": "sync 7"})
    ]
    (lease,) = TaskLease.objects.all()
    assert (lease.func, lease.args, lease.kwargs, lease.task_name, lease.task_id) == (
        "backoffice.background.tasks.sync_account_task",
        [7],
        {"full": True},
        "sync 7",
        "t1",
    )


def test_other_backends_write_no_lease(sent: list[Any]) -> None:
    queue.enqueue_now("backoffice.background.tasks.pull_accounts", backend="none")
    assert not TaskLease.objects.exists() and not sent


def test_a_finished_task_loses_its_lease_and_is_not_sent_again(sent: list[Any]) -> None:
    queue.enqueue_now("backoffice.background.jobs.run_job", 3, backend="django_q")
    finished("t1")  # a result stored: success or failure, django-q has it
    age(60)
    assert queue.requeue_lost() == {"finished": 1, "resent": 0, "given up": 0}
    assert len(sent) == 1 and not TaskLease.objects.exists()


def test_a_task_lost_with_its_worker_is_sent_again_after_the_timeout(sent: list[Any]) -> None:
    queue.enqueue_now("backoffice.background.jobs.run_job", 3, backend="django_q", task_name="job 3")
    assert queue.requeue_lost() == {"finished": 0, "resent": 0, "given up": 0}  # may still be running
    TaskLease.objects.update(sent_at=timezone.now() - queue.lease_expiry() + timedelta(seconds=5))
    assert queue.requeue_lost()["resent"] == 0
    TaskLease.objects.update(sent_at=timezone.now() - queue.lease_expiry() - timedelta(seconds=1))
    assert queue.requeue_lost()["resent"] == 1
    assert sent[-1] == ("backoffice.background.jobs.run_job", (3,), {"task_name": "job 3"})
    (lease,) = TaskLease.objects.all()
    assert (lease.attempts, lease.task_id) == (2, "t2")
    finished("t2")
    assert queue.requeue_lost()["finished"] == 1


def test_a_task_that_keeps_dying_is_given_up(sent: list[Any]) -> None:
    queue.enqueue_now("backoffice.background.jobs.run_job", 3, backend="django_q")
    for _ in range(queue.MAX_SENDS - 1):
        age(60)
        assert queue.requeue_lost()["resent"] == 1
    age(60)
    assert queue.requeue_lost() == {"finished": 0, "resent": 0, "given up": 1}
    assert len(sent) == queue.MAX_SENDS and not TaskLease.objects.exists()


def test_the_expiry_is_the_timeout_on_redis_and_also_the_retry_on_the_orm(settings) -> None:
    settings.Q_CLUSTER = {"timeout": 600, "retry": 720, "redis": "redis://127.0.0.1:1/0"}
    assert queue.lease_expiry() == timedelta(seconds=660)
    settings.Q_CLUSTER = {"timeout": 600, "retry": 720, "orm": "default"}
    assert queue.lease_expiry() == timedelta(seconds=780)


def test_the_sweep_is_scheduled_every_five_minutes(sent: list[Any]) -> None:
    (spec,) = [s for s in schedules.SCHEDULES if s.func.endswith(".requeue_lost_tasks")]
    assert spec.minutes == 5
    queue.enqueue_now("backoffice.background.jobs.run_job", 3, backend="django_q")
    age(60)
    assert tasks.requeue_lost_tasks() == "0 finished, 1 resent, 0 given up"
