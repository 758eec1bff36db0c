"""Issue 16 item 1: a Manager cannot add or change scheduled tasks, and the cluster runs only the back
office's own task functions (refused when a schedule is saved and again when a worker runs the task)."""

from __future__ import annotations

import multiprocessing
import queue
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from backoffice.background import schedules, taskguard
from backoffice.roles import MANAGER, ensure_roles

pytestmark = pytest.mark.django_db

HOSTILE = [
    "django.contrib.auth.models.User.objects.create_superuser",
    "subprocess.getoutput",
    "os.system",
    # Imported into a task module, defined elsewhere: `enqueue` would queue any path it is given.
    "backoffice.background.tasks.enqueue",
    "backoffice.background.tasks._in_thread",
]


def manager_client() -> Client:
    ensure_roles()
    user = User.objects.create_user("manager", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER))
    client = Client()
    client.force_login(user)
    return client


def test_manager_cannot_add_or_change_a_schedule() -> None:
    client = manager_client()
    form = {
        "name": "pwn",
        "func": "subprocess.getoutput",
        "args": "'touch /tmp/pwned'",
        "schedule_type": Schedule.ONCE,
        "repeats": "-1",
        "next_run_0": "2026-01-01",
        "next_run_1": "00:00:00",
    }
    response = client.post(reverse("admin:django_q_schedule_add"), form)
    assert response.status_code == 403
    assert not Schedule.objects.filter(name="pwn").exists()

    schedules.apply()
    row = Schedule.objects.get(name=list(schedules.SCHEDULES)[0].full_name)
    response = client.post(
        reverse("admin:django_q_schedule_change", args=[row.pk]), {**form, "name": row.name}
    )
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.func == list(schedules.SCHEDULES)[0].func
    # ...but may see them
    assert client.get(reverse("admin:django_q_schedule_changelist")).status_code == 200


def test_manager_role_has_no_django_q_write_permission() -> None:
    ensure_roles()
    codes = set(
        Group.objects.get(name=MANAGER)
        .permissions.filter(content_type__app_label="django_q")
        .values_list("codename", flat=True)
    )
    assert codes and all(code.startswith("view_") for code in codes)


def test_manager_runs_our_schedules_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.admin import schedules as admin_schedules

    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(admin_schedules, "enqueue", lambda func, **kw: sent.append((func, kw)))
    schedules.apply()
    ours = Schedule.objects.get(name=list(schedules.SCHEDULES)[0].full_name)
    ours.func = "backoffice.background.tasks.run_due_reconciliations"  # edited row: the spec wins
    Schedule.objects.filter(pk=ours.pk).update(func=ours.func)
    theirs = Schedule.objects.create(
        name="other", func="backoffice.background.tasks.pull_accounts", schedule_type=Schedule.DAILY
    )
    response = manager_client().post(
        reverse("admin:django_q_schedule_changelist"),
        {"action": "run_now", "_selected_action": [ours.pk, theirs.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert sent == [(list(schedules.SCHEDULES)[0].func, list(schedules.SCHEDULES)[0].kwargs)]
    assert "Not run" in response.content.decode()


@pytest.mark.parametrize("func", HOSTILE)
def test_a_hostile_schedule_is_refused_at_save(func: str) -> None:
    with pytest.raises(ValidationError):
        Schedule.objects.create(name="x", func=func, schedule_type=Schedule.ONCE)
    with pytest.raises(ValidationError):
        Schedule.objects.create(name="y", func="backoffice.background.tasks.pull_accounts", hook=func)
    assert not Schedule.objects.exists()


def test_superuser_form_shows_the_refusal(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:django_q_schedule_add"),
        {
            "name": "pwn",
            "func": "subprocess.getoutput",
            "schedule_type": Schedule.ONCE,
            "repeats": "-1",
            "next_run_0": "2026-01-01",
            "next_run_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert "is not one of the back office" in response.content.decode()
    assert not Schedule.objects.exists()


def test_every_scheduled_and_queued_function_of_the_project_is_allowed() -> None:
    for spec in schedules.SCHEDULES:
        assert taskguard.is_allowed(spec.func), spec.func
    # Every literal path handed to the cluster in our code (enqueue / async_task / create_job runners).
    import inspect
    import pydoc
    import re

    root = Path(__file__).resolve().parents[2]
    found = set()
    for path in root.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        text = path.read_text()
        found |= set(re.findall(r"(?:enqueue|async_task|send)\(\s*\"([\w.]+)\"", text))
        # Paths kept in constants (RUN = "backoffice.background.jobs.run_job") that name a function; the
        # settings' paths are Django's and django-axes' hooks (AXES_LOCKOUT_CALLABLE), not tasks.
        if path.name == "settings.py":
            continue
        for dotted in re.findall(
            r"^[A-Z_]+ = \"((?:backoffice|listings|orders|refunds|messaging|payouts)\.[\w.]+)\"", text, re.M
        ):
            if inspect.isfunction(pydoc.locate(dotted)):
                found.add(dotted)
    assert found, "the scan found nothing: its pattern is stale"
    assert [f for f in found if not taskguard.is_allowed(f)] == []


def imported_into_task_modules() -> list[str]:
    """Public callables of our task modules that are defined in another module (imports), as dotted paths
    under the task module: each passes the path rule (allowed module, public name), so only "defined under
    that path" refuses them."""
    import importlib

    found = []
    for module_name in taskguard.ALLOWED_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue  # an app without tasks
        for name, value in vars(module).items():
            if callable(value) and not name.startswith("_") and value.__module__ != module_name:
                found.append(f"{module_name}.{name}")
    return found


def test_a_name_merely_imported_into_a_task_module_is_refused() -> None:
    imported = imported_into_task_modules()
    # The guard's reason to exist: a real function that queues whatever path it is given.
    assert "backoffice.background.tasks.enqueue" in imported
    for path in imported:
        assert taskguard._allowed_path(path), path  # the path alone would admit it...
        assert not taskguard.is_allowed(path), path  # ...what it names is defined elsewhere
        with pytest.raises(ValidationError):
            taskguard.validate_func(path)
    assert taskguard.is_allowed("backoffice.background.tasks.pull_accounts")  # defined there: allowed


def run_in_worker(func: str, *args: object) -> dict:
    """One task through django-q2's own worker loop (in this process), as the cluster runs it."""
    from django_q.worker import worker

    tasks: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()
    tasks.put(
        {
            "id": "t1",
            "name": "t1",
            "func": func,
            "args": args,
            "kwargs": {},
            "started": timezone.now(),
            "hook": "subprocess.getoutput",
        }
    )
    tasks.put("STOP")
    worker(tasks, results, multiprocessing.Value("f", -1), timeout=None)
    return results.get_nowait()


@pytest.mark.django_db(transaction=True)  # the worker closes the connection between tasks
@pytest.mark.parametrize(
    "func", ["django.contrib.auth.models.User.objects.create_superuser", "subprocess.getoutput"]
)
def test_a_hostile_task_is_refused_at_run(func: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    args = (f"touch {marker}",) if func == "subprocess.getoutput" else ("root2", "r@x.io", "pw")
    done = run_in_worker(func, *args)
    assert done["success"] is False
    assert "Refused" in done["result"] and "not one of the back office's task functions" in done["result"]
    assert not marker.exists()
    assert not User.objects.filter(username="root2").exists()
    assert "hook" not in done


@pytest.mark.django_db(transaction=True)
def test_an_allowed_task_still_runs() -> None:
    done = run_in_worker("backoffice.background.jobs.recover_stale_jobs")
    assert done["success"] is True, done["result"]


def test_a_foreign_result_hook_is_never_stored() -> None:
    from django_q.models import Task

    task = Task.objects.create(
        id="a" * 32,
        name="n",
        func="backoffice.background.tasks.pull_accounts",
        hook="subprocess.getoutput",
        started=timezone.now(),
        stopped=timezone.now(),
        success=True,
    )
    task.refresh_from_db()
    assert task.hook is None
