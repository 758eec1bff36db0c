"""`make run`: prepare the database, start the Reverb emulator, the django-q2 cluster and the web server in
one foreground command; Ctrl-C stops every child.

Later work plugs in as steps: add a (description, function) pair to PREPARE_STEPS (before any process
starts) or AFTER_EMULATOR_STEPS (when the emulator answers, e.g. setup_schedules or an initial sync).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandParser

from backoffice.demo import SEEDS
from backoffice.models import ReverbAccount

DEMO_ACCOUNT = "demo"


@dataclass
class Run:
    """What the steps share: options in, facts out (the emulator token, the login to print)."""

    host: str
    port: int
    emulator_port: int
    emulator_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    emulator_running: bool = False
    login: str = ""
    notes: list[str] = field(default_factory=list)  # printed under the step that wrote them

    @property
    def emulator_api_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}/api"


def migrate(run: Run) -> None:
    call_command("migrate", interactive=False, verbosity=0)


def setup_roles(run: Run) -> None:
    call_command("setup_roles", verbosity=0, stdout=_Null())


def demo_superuser(run: Run) -> None:
    """Create `admin` with a generated password if there is no superuser; the password is printed once
    and only its hash is stored."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        names = ", ".join(User.objects.filter(is_superuser=True).values_list("username", flat=True)[:3])
        run.login = f"your existing superuser ({names}); reset with: manage.py changepassword NAME"
        return
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser("admin", "admin@localhost", password)
    run.login = f"user admin, password {password}   (shown only now; change it in the admin)"


def demo_account(run: Run) -> None:
    """Point the demo account at the emulator with this run's token (a fresh one each run)."""
    if not run.emulator_running:
        return
    account, _ = ReverbAccount.objects.get_or_create(
        name=DEMO_ACCOUNT, defaults={"api_url": run.emulator_api_url}
    )
    account.api_url = run.emulator_api_url
    account.enabled = True
    account.set_token(run.emulator_token)
    account.save()


def fresh_demo_mirror(run: Run) -> None:
    """The emulator keeps its shop in memory and starts from the same seed each run, so the demo account's
    mirror from an earlier run would disagree with it (orders shipped, offers answered, ids reused). Reset
    both: clear the demo account's mirrored rows and sync runs, and queue a full pull. The audit trail
    (ApiCall) is kept."""
    from django.apps import apps
    from django.db.models import ProtectedError

    from backoffice.background.queue import enqueue_now
    from backoffice.models import RemoteModel, SyncRun

    if not run.emulator_running:
        return
    account = ReverbAccount.objects.filter(name=DEMO_ACCOUNT).first()
    if account is None:
        return
    mirrors = [m for m in apps.get_models() if issubclass(m, RemoteModel) and not m._meta.abstract]
    cleared = 0
    for _ in range(len(mirrors)):  # a protected row goes once what protects it is gone
        left = []
        for model in mirrors:
            try:
                cleared += model.objects.filter(account=account).delete()[0]
            except ProtectedError:
                left.append(model)
        mirrors = left
        if not mirrors:
            break
    SyncRun.objects.filter(account=account).delete()
    run.notes.append(
        f"the emulator starts afresh each run: cleared {cleared} mirrored rows of the '{DEMO_ACCOUNT}' "
        "account (local edits included) and queued a full pull, so the two agree"
    )
    enqueue_now("backoffice.background.tasks.sync_account_task", account.pk, full=True)


def demo_seeds(run: Run) -> None:
    """What the apps set up on the demo account (backoffice/demo.py: automation's offer rule in plan mode)."""
    if not run.emulator_running:
        return
    account = ReverbAccount.objects.get(name=DEMO_ACCOUNT)
    for seed in SEEDS:
        seed(account)


def setup_schedules(run: Run) -> None:
    """The pull and reconciliation schedules (backoffice/background/schedules.py), so the task cluster
    fires them."""
    call_command("setup_schedules", stdout=_Null())


Step = Callable[[Run], None]
PREPARE_STEPS: list[tuple[str, Step]] = [
    ("migrating the database", migrate),
    ("setting up roles", setup_roles),
    ("checking for a superuser", demo_superuser),
    ("setting up the background schedules", setup_schedules),
]
AFTER_EMULATOR_STEPS: list[tuple[str, Step]] = [
    ("pointing the demo account at the emulator", demo_account),
    ("resetting the demo account's mirror to the emulator's fresh shop", fresh_demo_mirror),
    ("setting up the apps' demo data (backoffice/demo.py)", demo_seeds),
]


class _Null:
    def write(self, *_: Any) -> None:
        pass

    def flush(self) -> None:
        pass


class Command(BaseCommand):
    help = "Run the whole back office in the foreground: emulator, task cluster and web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--emulator-port", type=int, default=8765)
        parser.add_argument("--no-emulator", action="store_true", help="Do not start the Reverb emulator.")

    def handle(self, *args: Any, **options: Any) -> None:
        run = Run(host=options["host"], port=options["port"], emulator_port=options["emulator_port"])
        for text, step in PREPARE_STEPS:
            self.stdout.write(f"-> {text}")
            step(run)

        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            if not options["no_emulator"]:
                self._start_emulator(run)
            for text, step in AFTER_EMULATOR_STEPS:
                self.stdout.write(f"-> {text}")
                step(run)
                for note in run.notes:
                    self.stdout.write(self.style.WARNING(f"   {note}"))
                run.notes.clear()
            self._spawn("task cluster", ["qcluster"])
            self._spawn("web server", ["runserver", f"{run.host}:{run.port}", "--noreload"])
            if not self._wait_for_port(run.host, run.port, timeout=30):
                self.stderr.write("The web server did not start; see its output above.")
                return
            self._banner(run)
            self._watch()
        finally:
            self._stop_all()

    # processes

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]
        # Own session: Ctrl-C reaches only us, and we stop each child's whole process group in order.
        proc = subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL)
        self.children.append((name, proc))
        return proc

    def _start_emulator(self, run: Run) -> None:
        if "reverb_emulator" not in get_commands():
            self.stdout.write(
                self.style.WARNING(
                    "-> the Reverb emulator command (manage.py reverb_emulator) is not available yet; "
                    "running without it and without the demo account."
                )
            )
            return
        self.stdout.write(f"-> starting the Reverb emulator on {run.emulator_api_url}")
        self._spawn(
            "Reverb emulator",
            [
                "reverb_emulator",
                "--port",
                str(run.emulator_port),
                "--seed",
                "1",
                "--size",
                "demo",
                "--token",
                run.emulator_token,
                # The demo shop keeps its costs on Reverb: the first pull sets them, so the margin report
                # and the margin columns show real numbers.
                "--seller-costs",
            ],
        )
        run.emulator_running = self._wait_for_port("127.0.0.1", run.emulator_port, timeout=60)
        if not run.emulator_running:
            self.stdout.write(self.style.WARNING("-> the emulator did not start; see its output above."))

    def _wait_for_port(self, host: str, port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            if any(proc.poll() is not None for _, proc in self.children):
                return False
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.2)
        return False

    def _watch(self) -> None:
        while not self.stopping:
            for name, proc in self.children:
                if proc.poll() is not None:
                    self.stderr.write(f"The {name} exited (code {proc.returncode}); stopping everything.")
                    return
            time.sleep(0.5)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.children:
            self.stdout.write("Stopped.")

    def _banner(self, run: Run) -> None:
        url = f"http://{run.host}:{run.port}/admin/"
        lines = [
            "",
            "Reverb back office is running.",
            f"  Admin:  {url}",
            f"  Login:  {run.login}",
        ]
        if run.emulator_running:
            lines.append(f"  Reverb: emulator at {run.emulator_api_url} (account {DEMO_ACCOUNT!r})")
        lines += ["Press Ctrl-C to stop.", ""]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
