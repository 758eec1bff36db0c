"""Shared fixtures. Any attempt to reach a real network fails the test (DESIGN.md section 8)."""

import socket

import pytest

_real_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host in {"localhost", "::1"} or host.startswith("127.")
    return isinstance(address, str | bytes)  # AF_UNIX sockets (PostgreSQL over a socket)


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise RuntimeError(f"tests may not reach the network: connect({address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


EMULATOR_ORIGIN = "http://reverb.test"
EMULATOR_API_URL = f"{EMULATOR_ORIGIN}/api"
EMULATOR_TOKEN = "test-token-0123456789"
# The rate limit stays on in tests, at a pace the suite never reaches, so it stays fast; the default
# Reverb-like pacing (1 request/s after a small burst) has its own tests in tests/emulator/test_faults.py.
EMULATOR_TEST_PACE = {"rate_per_second": 1000.0, "rate_burst": 1000}


@pytest.fixture
def emulator():
    """A fresh in-process emulator (a tiny seeded shop) answering at EMULATOR_API_URL."""
    from backoffice.reverb.emulator import Emulator
    from backoffice.reverb.emulator.adapter import EmulatorAdapter
    from backoffice.reverb.transport import register_transport, unregister_transport

    emu = Emulator(token=EMULATOR_TOKEN, seed=1, size="tiny", **EMULATOR_TEST_PACE)
    register_transport(f"{EMULATOR_ORIGIN}/", EmulatorAdapter(emu))
    yield emu
    unregister_transport(f"{EMULATOR_ORIGIN}/")
