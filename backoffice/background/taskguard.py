"""Which functions django-q2 may run: the project's own task entry points, nothing else.

A django-q2 task or schedule names a function by its dotted path, and the worker imports and calls
whatever it is given (`subprocess.getoutput`, `User.objects.create_superuser`...). So:

- a Schedule (or a task result hook) naming anything else is refused when it is saved (`check_schedule`,
  a pre_save receiver, and the Schedule admin's form, which shows the same message on the field);
- the worker refuses it when it runs (`refuse_at_run`, on django-q2's `pre_execute` signal), whoever
  queued it (a row written before this check, a resubmitted failure, a hand-made OrmQ row);
- a Task whose hook is not allowed is stored without it (`drop_foreign_hook`), so the monitor never calls it.

New task functions go in `<app>.tasks` of one of our apps (allowed as a module), or into ALLOWED_FUNCTIONS.
"""

from __future__ import annotations

import logging
import pydoc
from typing import Any

from django.core.exceptions import ValidationError

from backoffice.roles import OUR_APPS

log = logging.getLogger(__name__)

# Our task modules: every public function in them is an entry point meant for the cluster.
ALLOWED_MODULES = (*(f"{app}.tasks" for app in OUR_APPS), "backoffice.background.tasks")
# Entry points that live beside the code they drive.
ALLOWED_FUNCTIONS = (
    "backoffice.background.jobs.run_job",
    "backoffice.background.jobs.recover_stale_jobs",
    "backoffice.background.webhooks.process_delivery",
    "backoffice.background.webhooks.process_pending",
)


class TaskRefused(PermissionError):
    """A task named a function outside the allow-list."""


def func_path(func: Any) -> str:
    """The dotted path of a function given as a string or as a callable."""
    if isinstance(func, str):
        return func.strip()
    module = getattr(func, "__module__", None) or ""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    return f"{module}.{name}"


def _allowed_path(path: str) -> bool:
    if path in ALLOWED_FUNCTIONS:
        return True
    module, _, name = path.rpartition(".")
    # A plain function of the module: no nested attribute (`tasks.x.y`), no private helper.
    return module in ALLOWED_MODULES and name.isidentifier() and not name.startswith("_")


def is_allowed(func: Any) -> bool:
    """True for a function defined in an allowed place. A name merely imported into a task module
    (`backoffice.background.tasks.import_string`) is refused: what the path finds must be defined
    under that path."""
    if func is None:
        return False
    path = func_path(func)
    if not _allowed_path(path):
        return False
    target = pydoc.locate(path) if isinstance(func, str) else func
    return callable(target) and func_path(target) == path


def refusal(func: Any) -> str:
    return (
        f"{func_path(func)!r} is not one of the back office's task functions; "
        f"allowed: functions of {', '.join(ALLOWED_MODULES)} and {', '.join(ALLOWED_FUNCTIONS)}."
    )


def validate_func(value: Any) -> None:
    """Field validator (Schedule admin form and pre_save)."""
    if value and not is_allowed(value):
        raise ValidationError(refusal(value), code="task_not_allowed")


def check_schedule(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_save of django_q.Schedule: refuse a function or hook outside the allow-list."""
    if kwargs.get("raw"):
        return
    validate_func(instance.func)
    validate_func(instance.hook)


class _RefusedArgs:
    """Stands in for a refused task's positional arguments: the worker unpacks them (`f(*args)`) inside
    its own try block before calling, so raising here fails the task cleanly (stored as a failure with
    the reason) and the function is never called. Keeps the original arguments for the failure record."""

    def __init__(self, func: str, args: Any) -> None:
        self.func = func
        self.args = tuple(args or ())

    def __iter__(self) -> Any:
        raise TaskRefused("Refused: " + refusal(self.func))

    def __repr__(self) -> str:
        return f"refused {self.args!r}"


def refuse_at_run(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    """django-q2 pre_execute, in the worker, right before `func(*task["args"], **task["kwargs"])`."""
    if is_allowed(task.get("func")) and (func is None or is_allowed(func)):
        return
    log.error("Refused to run task %s: %s", task.get("name"), refusal(task.get("func")))
    task["args"] = _RefusedArgs(func_path(task.get("func")), task.get("args"))
    task.pop("hook", None)


def drop_foreign_hook(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_save of django_q.Task: a result hook outside the allow-list is not kept (so never called)."""
    if instance.hook and not is_allowed(instance.hook):
        log.error("Dropped the result hook of task %s: %s", instance.name, refusal(instance.hook))
        instance.hook = None


def connect() -> None:
    from django.db.models.signals import pre_save
    from django_q.models import Failure, Schedule, Success, Task
    from django_q.signals import pre_execute

    pre_save.connect(check_schedule, sender=Schedule, dispatch_uid="backoffice.taskguard.schedule")
    for model in (Task, Success, Failure):
        uid = f"backoffice.taskguard.hook.{model.__name__}"
        pre_save.connect(drop_foreign_hook, sender=model, dispatch_uid=uid)
    pre_execute.connect(refuse_at_run, dispatch_uid="backoffice.taskguard.run")
