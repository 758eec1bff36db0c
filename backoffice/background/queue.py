"""The one way to send work to a worker (DESIGN.md section 7): `enqueue(dotted_path, *args)`.

The work is sent once the surrounding transaction commits (at once outside one), so a worker never sees an
id whose row is not there yet. Where it runs is settings.WORKER_BACKEND:
- "django_q" (default): a django-q2 task for the cluster (`manage.py qcluster`);
- "thread": a thread of this process (live-server browser tests, where one process must do everything);
- "inline": now, in this process (unit tests, a command's --now);
- "none": nowhere; the caller or a schedule's safety net runs it (tests that drive the steps themselves).
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils.module_loading import import_string

BACKENDS = ("django_q", "thread", "inline", "none")


def enqueue(
    func_path: str, *args: Any, backend: str | None = None, task_name: str = "", **kwargs: Any
) -> None:
    """Run `func_path(*args, **kwargs)` on a worker once the current transaction commits. `backend`
    overrides settings.WORKER_BACKEND for this call; `task_name` names the django-q task."""
    transaction.on_commit(lambda: send(func_path, *args, backend=backend, task_name=task_name, **kwargs))


def send(func_path: str, *args: Any, backend: str | None = None, task_name: str = "", **kwargs: Any) -> None:
    """Send now, without waiting for a commit (for callers already running after one)."""
    backend = backend or settings.WORKER_BACKEND
    if backend == "none":
        return
    if backend == "inline":
        import_string(func_path)(*args, **kwargs)
    elif backend == "thread":
        threading.Thread(target=_in_thread, args=(func_path, args, kwargs), daemon=True).start()
    elif backend == "django_q":
        from django_q.tasks import async_task

        if task_name:
            kwargs["task_name"] = task_name
        async_task(func_path, *args, **kwargs)
    else:
        raise ValueError(f"WORKER_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")


def _in_thread(func_path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        import_string(func_path)(*args, **kwargs)
    finally:
        close_old_connections()
