"""Faults: 429 with Retry-After, 5xx, dropped connections, lost writes, and the rate limit."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from backoffice.reverb.transport import new_session
from tests.conftest import EMULATOR_API_URL as API
from tests.conftest import EMULATOR_ORIGIN, EMULATOR_TOKEN

CONTROL = f"{EMULATOR_ORIGIN}/__emulator__"


@pytest.fixture
def s(emulator: Any) -> requests.Session:
    session = new_session()
    session.headers["Authorization"] = f"Bearer {EMULATOR_TOKEN}"
    session.headers["Accept-Version"] = "3.0"
    return session


def faults(s: requests.Session, **settings: Any) -> None:
    assert s.post(f"{CONTROL}/faults", json=settings).status_code == 200


def test_429_with_retry_after(s: requests.Session) -> None:
    faults(s, rate_429=1.0, retry_after=7)
    r = s.get(f"{API}/my/listings")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and r.json()["message"]
    faults(s)
    assert s.get(f"{API}/my/listings").status_code == 200


def test_5xx(s: requests.Session) -> None:
    faults(s, rate_5xx=1.0)
    assert s.get(f"{API}/shop").status_code >= 500


def test_dropped_connection_raises_connection_error(s: requests.Session) -> None:
    faults(s, rate_drop=1.0)
    with pytest.raises(requests.ConnectionError):
        s.get(f"{API}/shop")


def test_lost_write_is_applied_but_the_answer_never_comes(s: requests.Session, emulator: Any) -> None:
    faults(s, rate_lost_write=1.0)
    before = len(emulator.store.table("listings"))
    with pytest.raises(requests.ConnectionError):
        s.post(
            f"{API}/listings",
            json={
                "make": "Boss",
                "model": "DS-1",
                "sku": "LOST-1",
                "price": {"amount": "50", "currency": "USD"},
                "condition": {"uuid": "df268ad1-c462-4ba6-b6db-e007e23922ea"},
            },
        )
    assert len(emulator.store.table("listings")) == before + 1
    found = s.get(f"{API}/my/listings", params={"sku": "LOST-1", "state": "all"}).json()
    assert found["total"] == 1  # the create happened: a client must re-read by SKU, not retry blindly


def test_rate_limit_per_second(s: requests.Session) -> None:
    faults(s, rate_limit_per_second=3)
    answers = [s.get(f"{API}/shop/vacation") for _ in range(6)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]  # a burst of one second's worth
    limited = [a for a in answers[3:] if a.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1


def test_unknown_fault_setting_is_refused(s: requests.Session) -> None:
    assert s.post(f"{CONTROL}/faults", json={"nonsense": 1}).status_code == 400


def test_reverb_pacing_is_on_by_default() -> None:
    """API-NOTES 16.3: a small burst, then about one request a second per account; 429 + Retry-After."""
    from emulator import Emulator
    from emulator.app import DEFAULT_RATE_BURST

    emu = Emulator(token="t", size="tiny")
    headers = {"authorization": "Bearer t", "accept-version": "3.0"}
    answers = [emu.handle("GET", "/api/shop/vacation", "", headers, b"", "http://x") for _ in range(8)]
    assert [a.status for a in answers[:DEFAULT_RATE_BURST]] == [200] * DEFAULT_RATE_BURST
    assert answers[DEFAULT_RATE_BURST].status == 429
    assert int(answers[DEFAULT_RATE_BURST].headers["Retry-After"]) >= 1
    other = emu.handle("GET", "/api/shop/vacation", "", {"authorization": "Bearer u"}, b"", "http://x")
    assert other.status == 401  # another account has its own budget: refused for its token, not paced
