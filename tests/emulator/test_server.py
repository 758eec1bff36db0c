"""The emulator over loopback HTTP: keep-alive, faults, and the management command."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from emulator import Emulator
from emulator.server import start_in_thread, stop
from tests.conftest import EMULATOR_TEST_PACE

TOKEN = "loopback-token"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(token=TOKEN, seed=3, size="tiny", **EMULATOR_TEST_PACE)
    server, origin = start_in_thread(emulator)
    yield emulator, origin
    stop(server)


def session() -> requests.Session:
    s = requests.Session()
    s.headers.update(
        {"Authorization": f"Bearer {TOKEN}", "Accept": "application/hal+json", "Accept-Version": "3.0"}
    )
    return s


def test_serves_the_api_over_loopback_with_keep_alive(served: tuple[Emulator, str]) -> None:
    emulator, origin = served
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", origin)
    s = session()
    first = s.get(f"{origin}/api/my/listings", params={"state": "all", "per_page": 5})
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("application/hal+json")
    assert first.json()["total"] == len(emulator.store.table("listings"))
    nxt = first.json()["_links"]["next"]["href"]
    assert nxt.startswith(f"{origin}/api/my/listings?")  # links use the host the client called
    second = s.get(nxt)  # same pooled connection (HTTP/1.1 keep-alive)
    assert second.status_code == 200 and second.json()["current_page"] == 2
    created = s.post(
        f"{origin}/api/listings",
        json={
            "make": "Boss",
            "model": "DS-1",
            "price": {"amount": "50", "currency": "USD"},
            "condition": {"uuid": "df268ad1-c462-4ba6-b6db-e007e23922ea"},
        },
    )
    assert created.status_code == 201
    ended = s.put(
        f"{origin}/api/my/listings/{created.json()['listing']['id']}/state/end", json={"reason": "not_sold"}
    )
    assert ended.status_code == 422  # a draft cannot be ended; the connection stays usable
    assert s.get(f"{origin}/api/shop").status_code == 200
    assert requests.get(f"{origin}/api/shop").status_code == 401


def test_control_api_and_dropped_connections(served: tuple[Emulator, str]) -> None:
    _, origin = served
    s = session()
    assert s.post(f"{origin}/__emulator__/faults", json={"rate_drop": 1.0}).status_code == 200
    with pytest.raises(requests.ConnectionError):
        s.get(f"{origin}/api/shop")
    assert s.post(f"{origin}/__emulator__/faults", json={}).status_code == 200
    assert s.get(f"{origin}/api/shop").status_code == 200


def test_management_command_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "reverb_emulator", "--port", "0", "--size", "tiny", "--seed", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)/api \(token (\S+)\)", line)
        assert m, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        r = requests.get(
            f"{m.group(1)}/api/shop",
            headers={"Authorization": f"Bearer {m.group(2)}", "Accept-Version": "3.0"},
            timeout=10,
        )
        assert r.status_code == 200 and r.json()["id"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
