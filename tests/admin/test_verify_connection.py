"""A person's request never waits on Reverb (issue 23): "Verify connection" answers at once when Reverb asks
for a pause (a 429's Retry-After), and a server that drips its answer is cut off at the short deadline a
person's request has (REVERB_INTERACTIVE_DEADLINE), not the worker's minute."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from backoffice.models import ReverbAccount
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
DRIP_BYTES, DRIP_EVERY = 60, 0.5  # 30 s for the whole answer, as the issue saw


def verify(admin_user: User, account: ReverbAccount) -> tuple[float, str]:
    """Post the admin action as a person does; (seconds the page took, its text)."""
    client = Client()
    client.force_login(admin_user)
    changelist = reverse("admin:backoffice_reverbaccount_changelist")
    started = time.monotonic()
    response = client.post(changelist, {"action": "verify_connection", "_selected_action": [account.pk]})
    seconds = time.monotonic() - started
    assert response.status_code == 302
    page = client.get(changelist).content.decode()  # the message, as the person sees it
    return seconds, page


def test_a_pause_reverb_asks_for_is_reported_at_once(admin_user: User, emulator: Any) -> None:
    account = AccountFactory(name="asked-to-wait")
    emulator.faults.rate_429, emulator.faults.retry_after = 1.0, 2  # short: a worker would wait it out
    seconds, text = verify(admin_user, account)
    assert seconds < 2  # not the pause, nor four retries after it
    assert "Asked-to-wait: Reverb asks to wait 2 s: try again then" in text


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """A loopback server that answers with headers, then one body byte every half second."""

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(DRIP_BYTES))
            self.end_headers()
            try:
                for _ in range(DRIP_BYTES):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(DRIP_EVERY)
            except OSError:  # the client hung up: what we want
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_a_dripping_server_is_cut_off_at_a_persons_deadline(
    admin_user: User, dripping_server: str, settings: Any
) -> None:
    settings.REVERB_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.REVERB_INTERACTIVE_DEADLINE = 2.0
    assert settings.REVERB_REQUEST_DEADLINE == 60  # a worker's deadline is left as it is
    account = AccountFactory(name="dripping", api_url=dripping_server)
    seconds, text = verify(admin_user, account)
    assert seconds < 4  # the person's deadline (and the page around it), not the 30 s of the drip
    assert "Dripping: " in text and "no complete answer within 2 s" in text
