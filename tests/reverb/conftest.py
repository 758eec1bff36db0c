"""Fixtures for the Reverb client tests: a client on the in-process emulator with sleeps recorded,
and small `requests` adapters to script answers or capture what was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from backoffice.reverb.client import ReverbClient
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from tests.conftest import EMULATOR_API_URL, EMULATOR_ORIGIN, EMULATOR_TOKEN


def simulate(event: str, **params: Any) -> dict[str, Any]:
    """The buyer side, through the emulator's control API."""
    from backoffice.reverb.transport import new_session

    response = new_session().post(f"{EMULATOR_ORIGIN}/__emulator__/simulate/{event}", json=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(emulator: Any, sleeps: list[float]) -> ReverbClient:
    return make_client(sleep=sleeps.append)


def make_client(**kwargs: Any) -> ReverbClient:
    kwargs.setdefault("rate_limiter", UnlimitedRateLimiter())
    kwargs.setdefault("sleep", lambda seconds: None)
    kwargs.setdefault("max_retries", 3)
    base_url, token = kwargs.pop("base_url", EMULATOR_API_URL), kwargs.pop("token", EMULATOR_TOKEN)
    return ReverbClient(base_url, token, **kwargs)


def require(method: str, template: str) -> None:
    """Fail, naming the route, when the emulator does not implement the endpoint the test needs: a missing
    route is a broken emulator, never a reason to skip the client test."""
    from emulator import core

    if not any(r.method == method and r.template == template for r in core.router.routes):
        pytest.fail(f"emulator endpoint missing: {method} {template}")


def reply(status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> Callable:
    """A scripted answer for ScriptedAdapter."""

    def answer(request: requests.PreparedRequest) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = b"" if body is None else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/hal+json", **(headers or {})})
        response.url = request.url
        response.request = request
        return response

    return answer


class ScriptedAdapter(BaseAdapter):
    """Answers each request with the next scripted step: a `reply(...)` or an exception to raise."""

    def __init__(self, *steps: Callable | BaseException) -> None:
        super().__init__()
        self.steps = list(steps)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        return step(request)

    def close(self) -> None:
        pass


class RecordingAdapter(BaseAdapter):
    """Wraps another adapter and keeps every request it forwards (to check headers and bodies)."""

    def __init__(self, inner: BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.sent: list[requests.PreparedRequest] = []
        self.kwargs: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        self.kwargs.append(kwargs)
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def scripted_client(*steps: Callable | BaseException, **kwargs: Any) -> tuple[ReverbClient, ScriptedAdapter]:
    adapter = ScriptedAdapter(*steps)
    session = requests.Session()
    session.mount(f"{EMULATOR_ORIGIN}/", adapter)
    return make_client(session=session, **kwargs), adapter


def recording_client(**kwargs: Any) -> tuple[ReverbClient, RecordingAdapter]:
    from backoffice.reverb.transport import new_session

    session = new_session()
    recorder = RecordingAdapter(session.get_adapter(EMULATOR_API_URL))
    session.mount(f"{EMULATOR_ORIGIN}/", recorder)
    return make_client(session=session, **kwargs), recorder
