"""Processes the scaled, bulk and team scenarios start beside the emulator: a throw-away redis-server,
`manage.py qcluster` processes each in its own process group (so a kill takes its workers too), and a web
server waited for and stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import requests

from bench.kit import MANAGE, free_port


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port (no persistence); yields its URL."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def database_url_of(settings_dict: dict[str, Any]) -> str:
    """DATABASE_URL for the database Django's default connection uses now (the test database in tests)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    s = settings_dict
    where = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{where}/{s['NAME']}"


class Cluster:
    """The qcluster processes, each in its own process group (so a kill takes its workers too)."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts = 0

    def start(self, name: str, *, scheduler: bool) -> None:
        self.starts += 1
        log = open(self.logdir / f"{name}-{self.starts}.log", "wb")  # noqa: SIM115 - closed with the process
        env = {**self.env, "Q_SCHEDULER": str(scheduler)}
        self.procs[name] = subprocess.Popen(
            [sys.executable, MANAGE, "qcluster"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name].log_path = log.name  # type: ignore[attr-defined]

    def wait_running(self, seconds: float = 60) -> None:
        """Until every qcluster logged that it runs (its pusher listens to the broker)."""
        deadline = time.monotonic() + seconds
        while not all(
            " running." in Path(p.log_path).read_text(errors="replace")  # type: ignore[attr-defined]
            for p in self.procs.values()
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the qclusters did not start:\n{self.logs()}")
            time.sleep(0.2)

    def holders(self, task_name: str) -> list[str]:
        """The qcluster runs ("a-1": qcluster a, first start) whose worker logged processing `task_name`."""
        return [
            log.stem
            for log in sorted(self.logdir.glob("*.log"), key=lambda p: int(p.stem.split("-")[1]))
            if f"processing {task_name} " in log.read_text(errors="replace")
        ]

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for name in list(self.procs):
            proc = self.procs[name]
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(name)
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(self.logdir.glob("*.log"))
        )


def cluster_env(
    database_url: str, redis_url: str, *, rate: float, burst: int, timeout: int, grace: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="backoffice.settings",
        WORKER_BACKEND="django_q",
        REVERB_RATE_BUDGET="database",
        REVERB_RATE_PER_SECOND=str(rate),
        REVERB_RATE_BURST=str(burst),
        # Two worker processes per qcluster: a qcluster's pusher may take both jobs off Redis, and they
        # still run side by side.
        Q_WORKERS="2",
        Q_TIMEOUT=str(timeout),
        Q_RETRY=str(timeout + 30),
        TASK_LEASE_GRACE=str(grace),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group started for `proc`, SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
