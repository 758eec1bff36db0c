"""A loopback receiver of outbound events for the tests: answers the given status codes in turn (then 200),
optionally after a delay (a slow receiver), and records every request it got."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Receiver:
    def __init__(self, codes: list[int], delay: float = 0.0) -> None:
        self.codes = list(codes)
        self.delay = delay
        self.seen: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.seen.append((dict(self.headers), body))
                    code = receiver.codes.pop(0) if receiver.codes else 200
                time.sleep(receiver.delay)
                self.send_response(code)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"ok  " if code < 300 else b"nope")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory(settings: Any) -> Iterator[Any]:
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the receivers listen on loopback (backoffice/outbound.py)
    made: list[Receiver] = []

    def make(codes: list[int], delay: float = 0.0) -> Receiver:
        made.append(Receiver(codes, delay))
        return made[-1]

    yield make
    for r in made:
        r.close()
