"""A bulk job on the cluster never meets the task timeout: after a share of it, `run_job` stops between
items and sends itself again for the rest (at 1 request/s, 500 items outlast the 600 s timeout, and
django-q would kill the task mid-item and leave the job to the stale-job sweep)."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.background import jobs
from backoffice.background.jobs import ItemSpec, create_job, run_job
from tests.background.test_jobs import CALLS, items

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(jobs, "enqueue_now", lambda *args, **kwargs: calls.append((*args, kwargs)))
    return calls


@pytest.fixture
def ticking(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that moves 10 s each time it is read."""
    now = iter(range(0, 10_000, 10))
    monkeypatch.setattr(jobs, "clock", lambda: next(now))


def make_job(settings: Any, *keys: str) -> Any:
    settings.WORKER_BACKEND = "none"
    job = create_job("tests.echo", title="Echo", items=[ItemSpec(k) for k in keys])
    CALLS.clear()
    return job


def test_on_the_cluster_a_job_continues_in_a_new_task_before_the_timeout(
    settings: Any, sent: list[Any], ticking: None
) -> None:
    job = make_job(settings, "a", "b", "c", "d", "e")
    settings.WORKER_BACKEND = "django_q"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 40}  # a slice of 32 s: three items at 10 s
    summary = run_job(job.pk)
    assert [key for key, _ in CALLS] == ["a", "b", "c"]
    assert summary.startswith(f"job {job.pk}: continued in a new task")
    assert sent == [(jobs.RUN, job.pk, {"task_name": f"bulk-job-{job.pk}"})]
    job.refresh_from_db()
    assert (job.state, job.processed) == ("running", 3)
    run_job(job.pk)  # the continuation: the rest, from where the first task stopped
    assert [key for key, _ in CALLS] == ["a", "b", "c", "d", "e"]
    job.refresh_from_db()
    assert (job.state, job.processed) == ("succeeded", 5)
    assert [a for *_, a in items(job)] == [1, 1, 1, 1, 1]


def test_in_a_thread_or_inline_a_job_runs_to_the_end(settings: Any, sent: list[Any], ticking: None) -> None:
    job = make_job(settings, "a", "b", "c", "d", "e")
    settings.WORKER_BACKEND = "inline"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 40}
    run_job(job.pk)
    assert len(CALLS) == 5 and sent == []
