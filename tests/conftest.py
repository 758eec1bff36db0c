"""Shared fixtures. Any attempt to reach a real network fails the test (DESIGN.md section 8)."""

import copy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


@pytest.fixture(autouse=True)
def _no_first_pull_guess() -> None:
    """The sync engine guesses a first pull from the last page it wrote, and the ship-by fill keeps the
    holidays it read for a minute (both per process): each test starts without them, so its query counts
    and deadlines do not depend on the test before it."""
    from automation import stored
    from backoffice.sync import engine

    engine._LAST_PAGE_NEW.clear()
    stored.forget_holidays()  # a rolled-back test's holidays are not another test's


@pytest.fixture(autouse=True)
def _fast_budget(settings: Any) -> None:
    """Our own request budget (default 1 request/s, Reverb's pace) runs at a pace the suite never reaches;
    tests of the budget set their own."""
    settings.REVERB_RATE_PER_SECOND, settings.REVERB_RATE_BURST = 1000.0, 1000


EMULATOR_ORIGIN = "http://reverb.test"
EMULATOR_API_URL = f"{EMULATOR_ORIGIN}/api"
EMULATOR_TOKEN = "test-token-0123456789"
# The rate limit stays on in tests, at a pace the suite never reaches, so it stays fast; the default
# Reverb-like pacing (1 request/s after a small burst) has its own tests in tests/emulator/test_faults.py.
EMULATOR_TEST_PACE = {"rate_per_second": 1000.0, "rate_burst": 1000}


@pytest.fixture(autouse=True)
def _emulator_hosts_allowed(settings: Any) -> None:
    """The in-process emulators' hosts are allowed API URLs (plain http), as loopback is in development."""
    settings.REVERB_ALLOWED_HOSTS = [
        "127.0.0.1",
        "localhost",
        "::1",
        f"{EMULATOR_ORIGIN}",
        "http://reverb-two.test",
    ]


@pytest.fixture
def emulator():
    """A fresh in-process emulator (a tiny seeded shop) answering at EMULATOR_API_URL."""
    from backoffice.reverb.transport import register_transport, unregister_transport
    from emulator import Emulator
    from emulator.adapter import EmulatorAdapter

    emu = Emulator(token=EMULATOR_TOKEN, seed=1, size="tiny", **EMULATOR_TEST_PACE)
    register_transport(f"{EMULATOR_ORIGIN}/", EmulatorAdapter(emu))
    yield emu
    unregister_transport(f"{EMULATOR_ORIGIN}/")


OTHER_EMULATOR_ORIGIN = "http://reverb-two.test"
OTHER_EMULATOR_API_URL = f"{OTHER_EMULATOR_ORIGIN}/api"
OTHER_EMULATOR_TOKEN = "other-token-9876543210"


@pytest.fixture
def other_emulator():
    """A second, separate emulated Reverb shop (another seed and token) at OTHER_EMULATOR_API_URL, for
    tests with two accounts: what is done for one must never reach the other."""
    from backoffice.reverb.transport import register_transport, unregister_transport
    from emulator import Emulator
    from emulator.adapter import EmulatorAdapter

    emu = Emulator(token=OTHER_EMULATOR_TOKEN, seed=2, size="tiny", **EMULATOR_TEST_PACE)
    register_transport(f"{OTHER_EMULATOR_ORIGIN}/", EmulatorAdapter(emu))
    yield emu
    unregister_transport(f"{OTHER_EMULATOR_ORIGIN}/")


def _row_state(row: Any) -> dict[str, Any]:
    fresh = type(row)._base_manager.get(pk=row.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


@contextmanager
def nothing_changes(emulator: Any, *rows: Any) -> Iterator[None]:
    """Assert that what runs inside changes nothing: each mirror row as stored, the emulated shop's data,
    and no new successful audit row (a refusal may record itself as refused, nothing more)."""
    from backoffice.models import ApiCall

    ok = ApiCall.objects.exclude(status=ApiCall.Status.REFUSED)
    before_rows = [_row_state(row) for row in rows]
    before_remote = copy.deepcopy(dict(emulator.store.tables)) if emulator is not None else None
    before_calls = set(ok.values_list("pk", flat=True))
    yield
    assert [_row_state(row) for row in rows] == before_rows, "a mirror row changed"
    if emulator is not None:
        assert dict(emulator.store.tables) == before_remote, "the emulated shop changed"
    assert set(ok.values_list("pk", flat=True)) == before_calls, "a call was sent"


@pytest.fixture
def inline_jobs(settings: Any) -> None:
    """Bulk jobs run inline, in the request or call that submits them."""
    settings.WORKER_BACKEND = "inline"


# The fixtures below import inside their bodies: tests.factories and tests.orders.helpers import this module.


@pytest.fixture
def shop(emulator: Any, db: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An account on the emulator, with everything pulled into the mirror; its clients never wait."""
    from backoffice.models import ReverbAccount
    from backoffice.sync.runner import sync_account
    from tests.factories import AccountFactory
    from tests.orders.helpers import fast_client

    monkeypatch.setattr(ReverbAccount, "client", fast_client)
    account = AccountFactory()
    sync_account(account, client=fast_client(account))
    return account


@pytest.fixture
def other_shop(shop: Any, other_emulator: Any) -> Any:
    """A second account, created after `shop`, on its own emulator, everything pulled into the mirror."""
    from backoffice.sync.runner import sync_account
    from tests.factories import AccountFactory
    from tests.orders.helpers import fast_client

    account = AccountFactory(name="other-shop", api_url=OTHER_EMULATOR_API_URL, token=OTHER_EMULATOR_TOKEN)
    sync_account(account, client=fast_client(account))
    return account


# ---- staff see only their shops: by default every staff user works for every account -------------------

_AUTO_MEMBERSHIP = {"on": True}


def _staff_join_accounts(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    from django.contrib.auth import get_user_model

    from backoffice.models import ReverbAccount

    if raw or not _AUTO_MEMBERSHIP["on"]:
        return
    if isinstance(instance, ReverbAccount) and created:
        instance.members.add(*get_user_model().objects.filter(is_staff=True))
    elif isinstance(instance, get_user_model()) and instance.is_staff and not instance.is_superuser:
        instance.reverb_accounts.add(*ReverbAccount.objects.all())


@pytest.fixture(autouse=True)
def _staff_are_members(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests written before memberships log staff in and expect to see every shop: staff users (and new
    accounts) join every account. Tests of the scoping use `strict_membership` to manage it themselves."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_save

    from backoffice.models import ReverbAccount

    _AUTO_MEMBERSHIP["on"] = "strict_membership" not in request.fixturenames
    post_save.connect(_staff_join_accounts, sender=ReverbAccount, dispatch_uid="test-membership-account")
    post_save.connect(_staff_join_accounts, sender=get_user_model(), dispatch_uid="test-membership-user")
    yield
    post_save.disconnect(sender=ReverbAccount, dispatch_uid="test-membership-account")
    post_save.disconnect(sender=get_user_model(), dispatch_uid="test-membership-user")


@pytest.fixture
def strict_membership() -> None:
    """Staff users work only for the accounts a test makes them members of (no automatic membership)."""
