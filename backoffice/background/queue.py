"""The one way to send work to a worker (DESIGN.md section 7): `enqueue(dotted_path, *args)`.

The work is sent once the surrounding transaction commits (at once outside one), so a worker never sees an
id whose row is not there yet. Where it runs is settings.WORKER_BACKEND:
- "django_q" (default): a django-q2 task for the cluster (`manage.py qcluster`), with a TaskLease row
  written before the send: `requeue_lost` (a schedule) sends again every task whose lease outlived the task
  timeout without a stored result, so a worker that dies (Redis does not re-deliver) loses nothing;
- "thread": a thread of this process (live-server browser tests, where one process must do everything);
- "inline": now, in this process (unit tests, a command's --now);
- "none": nowhere; the caller or a schedule's safety net runs it (tests that drive the steps themselves).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

BACKENDS = ("django_q", "thread", "inline", "none")
# A task sent this many times without a result is given up (logged): it is killing its worker.
MAX_SENDS = 3

log = logging.getLogger(__name__)


def enqueue(
    func_path: str, *args: Any, backend: str | None = None, task_name: str = "", **kwargs: Any
) -> None:
    """Run `func_path(*args, **kwargs)` on a worker once the current transaction commits. `backend`
    overrides settings.WORKER_BACKEND for this call; `task_name` names the django-q task."""
    transaction.on_commit(
        lambda: enqueue_now(func_path, *args, backend=backend, task_name=task_name, **kwargs)
    )


def enqueue_now(
    func_path: str, *args: Any, backend: str | None = None, task_name: str = "", **kwargs: Any
) -> None:
    """Hand the task to the worker backend now, without waiting for a commit (for callers already running
    after one)."""
    backend = backend or settings.WORKER_BACKEND
    if backend == "none":
        return
    if backend == "inline":
        import_string(func_path)(*args, **kwargs)
    elif backend == "thread":
        threading.Thread(target=_in_thread, args=(func_path, args, kwargs), daemon=True).start()
    elif backend == "django_q":
        _send_leased(func_path, args, kwargs, task_name)
    else:
        raise ValueError(f"WORKER_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")


def _in_thread(func_path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        import_string(func_path)(*args, **kwargs)
    finally:
        # The thread ends: close its own connections (they are per thread), whatever CONN_MAX_AGE says, so
        # none is left open for the life of the process (a test database could not be dropped).
        connections.close_all()


def _send_leased(
    func_path: str, args: tuple[Any, ...], kwargs: dict[str, Any], task_name: str, attempts: int = 1
) -> None:
    from django_q.tasks import async_task

    from backoffice.models import TaskLease

    try:  # the lease must be able to send the very same call again
        json.dumps([args, kwargs])
    except (TypeError, ValueError):
        log.warning("%s: arguments not JSON, sent without a lease", func_path)
        lease = None
    else:
        lease = TaskLease.objects.create(
            func=func_path, args=list(args), kwargs=kwargs, task_name=task_name, attempts=attempts
        )
    options = {"task_name": task_name} if task_name else {}
    task_id = async_task(func_path, *args, **kwargs, **options)
    if lease is not None:
        TaskLease.objects.filter(pk=lease.pk).update(task_id=task_id or "")


def lease_expiry() -> timedelta:
    """How old a lease must be before its task counts as lost: the task timeout (django-q kills a task at
    it), and on the ORM broker also its re-delivery delay (`retry`), plus settings.TASK_LEASE_GRACE
    (a minute)."""
    cluster = settings.Q_CLUSTER
    timeout = cluster.get("timeout") or 600
    wait = timeout if "redis" in cluster else max(timeout, cluster.get("retry") or 0)
    return timedelta(seconds=wait + getattr(settings, "TASK_LEASE_GRACE", 60))


def requeue_lost(now: datetime | None = None) -> dict[str, int]:
    """Forget the leases of tasks django-q stored a result for (success or failure); send again the tasks
    whose lease is older than `lease_expiry()` without one. {"finished": n, "resent": n, "given up": n}."""
    from django_q.models import Task

    from backoffice.models import TaskLease

    now = now or timezone.now()
    done = {"finished": 0, "resent": 0, "given up": 0}
    ids = [i for i in TaskLease.objects.exclude(task_id="").values_list("task_id", flat=True)]
    finished = set(Task.objects.filter(id__in=ids).values_list("id", flat=True)) if ids else set()
    if finished:
        done["finished"], _ = TaskLease.objects.filter(task_id__in=finished).delete()
    for lease in TaskLease.objects.filter(sent_at__lt=now - lease_expiry()).order_by("pk"):
        lease.delete()
        if lease.attempts >= MAX_SENDS:
            log.error("%s sent %d times without a result: given up", lease.func, lease.attempts)
            done["given up"] += 1
            continue
        _send_leased(lease.func, tuple(lease.args), lease.kwargs, lease.task_name, lease.attempts + 1)
        log.warning("%s: no result %s after it was sent, sent again", lease.func, now - lease.sent_at)
        done["resent"] += 1
    return done
