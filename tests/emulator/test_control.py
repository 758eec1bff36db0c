"""The emulator's control calls (/__emulator__/...): each answers its own method(s), anything else is 404."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from backoffice.reverb.transport import new_session
from tests.conftest import EMULATOR_ORIGIN

CONTROL = f"{EMULATOR_ORIGIN}/__emulator__"


@pytest.fixture
def s(emulator: Any) -> requests.Session:
    return new_session()


def test_reads_and_sets(s: requests.Session, emulator: Any) -> None:
    assert s.post(f"{CONTROL}/pace", json={"rate_per_second": 5, "burst": 0}).json() == {
        "rate_per_second": 5.0,
        "burst": 1,  # at least one
    }
    assert s.get(f"{CONTROL}/pace").json() == {"rate_per_second": 5.0, "burst": 1}
    assert s.post(f"{CONTROL}/scopes", json={"scopes": "read_listings"}).json()["scopes"] == ["read_listings"]
    assert s.get(f"{CONTROL}/scopes").json()["scopes"] == ["read_listings"]
    assert s.get(f"{CONTROL}/faults").status_code == 200
    assert {"requests", "total", "writes", "throttled", "webhooks"} == set(s.get(f"{CONTROL}/stats").json())
    assert s.post(f"{CONTROL}/clock", json={"advance_seconds": 60}).json()["now"]
    assert s.get(f"{CONTROL}/state/listings").json()["total"] > 0
    assert s.post(f"{CONTROL}/reset", json={"seed": 4, "size": "tiny"}).json()["seed"] == 4


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("GET", "reset"),  # POST only
        ("POST", "stats"),  # GET only
        ("GET", "clock"),
        ("POST", "state/listings"),
        ("GET", "simulate/payout"),
        ("GET", "state"),  # a collection is named after the slash
        ("GET", "pace/x"),
        ("GET", "nothing"),
    ],
)
def test_anything_else_is_404(s: requests.Session, method: str, name: str) -> None:
    r = s.request(method, f"{CONTROL}/{name}")
    assert r.status_code == 404
    assert r.json()["message"] == f"unknown control call {method} /__emulator__/{name}"


def test_errors(s: requests.Session) -> None:
    unknown = s.post(f"{CONTROL}/simulate/nope", json={})
    assert unknown.status_code == 404 and unknown.json()["message"].startswith("unknown event 'nope'")
    assert s.get(f"{CONTROL}/state/nope").status_code == 404
    bad = s.post(f"{CONTROL}/pace", json={"rate_per_second": "fast"})
    assert bad.status_code == 400 and "fast" in bad.json()["message"]
