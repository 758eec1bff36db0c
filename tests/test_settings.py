"""Settings defaults, and the system checks run in a subprocess with a controlled environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
# Variables our settings read; cleared so the developer's or CI's environment cannot leak in.
SETTINGS_VARS = [
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "TOKEN_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "ADMIN_EMAILS",
    "DEFAULT_FROM_EMAIL",
    "BEHIND_PROXY",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "Q_WORKERS",
    "SQLITE_BUSY_TIMEOUT",
    "DJANGO_SETTINGS_MODULE",
    # Set for Playwright by tests/browser/conftest.py; `check --deploy` rightly warns about it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    env["DJANGO_SETTINGS_MODULE"] = "backoffice.settings"
    env.update(extra)
    return env


def settings_in_subprocess(**env: str) -> dict:
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'db': s.DATABASES['default'], 'q': s.Q_CLUSTER, 'debug': s.DEBUG}, default=str))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def env_example() -> dict[str, str]:
    """The uncommented assignments of .env.example, with the placeholder secrets replaced by real ones."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    assert values["SECRET_KEY"].startswith("replace-me"), "the example must not ship a usable secret"
    values["SECRET_KEY"] = Fernet.generate_key().decode() * 2
    values["TOKEN_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    return values


def test_sqlite_defaults_wal_immediate_and_busy_timeout() -> None:
    s = settings_in_subprocess()
    db = s["db"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] >= 5
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert s["debug"] is True


def test_orm_broker_by_default_and_redis_from_env() -> None:
    q = settings_in_subprocess()["q"]
    assert q["orm"] == "default" and "redis" not in q
    assert q["timeout"] < q["retry"]
    assert q["catch_up"] is False
    q = settings_in_subprocess(REDIS_URL="redis://127.0.0.1:6379/1")["q"]
    assert q["redis"] == "redis://127.0.0.1:6379/1" and "orm" not in q


def test_database_url_selects_postgresql() -> None:
    db = settings_in_subprocess(DATABASE_URL="postgres://bo:pw@127.0.0.1:5432/bo")["db"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["NAME"] == "bo" and "transaction_mode" not in db.get("OPTIONS", {})


def test_env_example_lists_every_variable_settings_read() -> None:
    text = (ROOT / ".env.example").read_text()
    settings_src = (ROOT / "backoffice" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings_src))
    missing = sorted(v for v in read if v not in text)
    assert not missing, f".env.example does not mention {missing}"


def test_production_configuration_passes_check_deploy_with_no_warnings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env_example())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output


def test_production_without_secrets_fails_and_names_the_variables() -> None:
    result = manage("check", DEBUG="False", ALLOWED_HOSTS="shop.example.com")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "backoffice.E001" in output and "Set SECRET_KEY" in output
    assert "backoffice.E003" in output and "Set TOKEN_ENCRYPTION_KEYS" in output


def test_placeholder_secret_key_from_env_example_is_refused() -> None:
    values = env_example()
    values["SECRET_KEY"] = "replace-me-" + "x" * 60
    result = manage("check", **values)
    assert result.returncode != 0 and "backoffice.E001" in result.stdout + result.stderr


def test_invalid_token_key_is_an_error_even_in_development() -> None:
    result = manage("check", TOKEN_ENCRYPTION_KEYS="not-a-fernet-key")
    assert result.returncode != 0
    assert "backoffice.E002" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"ALLOWED_HOSTS": "localhost"}, "backoffice.W002"),
        ({"EMAIL_URL": "consolemail://"}, "backoffice.W003"),
        ({"ADMIN_EMAILS": ""}, "backoffice.W004"),
    ],
)
def test_deploy_warnings_say_which_variable(override: dict[str, str], code: str) -> None:
    values = {**env_example(), **override}
    result = manage("check", "--deploy", **values)
    assert code in result.stdout + result.stderr


def test_the_default_request_budget_is_reverbs_pace() -> None:
    """About 1 request/s per account after a small burst (API-NOTES 16.3); .env.example says the same."""
    code = "from django.conf import settings as s; print(s.REVERB_RATE_PER_SECOND, s.REVERB_RATE_BURST)"
    env = {k: v for k, v in clean_env().items() if not k.startswith("REVERB_RATE")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rate, burst = out.stdout.split()
    assert float(rate) == 1.0 and 1 <= int(burst) <= 5
    example = env_example()
    assert float(example["REVERB_RATE_PER_SECOND"]) == 1.0 and int(example["REVERB_RATE_BURST"]) <= 5
