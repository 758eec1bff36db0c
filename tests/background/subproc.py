"""Run Django code in a separate Python process against its own file SQLite database.

The test database lives in the pytest process; a worker that can be killed needs a real file that a
second process can open after the first died. `migrated_db` migrates one once per session (slow) and
copies it per test (fast).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import os, sys, json
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
import django
django.setup()
"""


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=f"sqlite:///{db}",
        DJANGO_SETTINGS_MODULE="backoffice.settings",
        WORKER_BACKEND="inline",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def script(body: str) -> str:
    return PRELUDE.format(root=str(ROOT)) + body


def popen(db: Path, body: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script(body)],
        env=env_for(db, **extra),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(db: Path, body: str, timeout: float = 120, **extra: str) -> str:
    """Run `body` to completion; returns its stdout, raising with stderr if it failed."""
    proc = popen(db, body, **extra)
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{err[-4000:]}")
    return out


def migrate_template(directory: Path) -> Path:
    db = directory / "template.sqlite3"
    run(db, "from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n", 300)
    return db


def copy_db(template: Path, directory: Path) -> Path:
    db = directory / "db.sqlite3"
    shutil.copyfile(template, db)
    return db
