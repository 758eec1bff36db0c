"""Serve an Emulator over loopback HTTP/1.1 (keep-alive), for the demo, browser tests and benchmarks.

Lean on purpose: one `send` per response (status line, headers and body together) with Nagle off, so a
keep-alive client never waits out the ~40 ms delayed-ACK stall (PLATFORM.md).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import Emulator
from .faults import DroppedConnection

_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    412: "Precondition Failed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # PLATFORM.md: otherwise ~40 ms per keep-alive response
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        try:
            answer = self.server.emulator.handle(
                self.command, path, query, dict(self.headers.items()), body, f"http://{host}"
            )
        except DroppedConnection:
            # Close without a byte of answer: the client sees a reset / remote disconnect.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = answer.encode()
        lines = [
            f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Unknown')}",
            f"Content-Length: {len(payload)}",
        ]
        if "Content-Type" not in answer.headers:
            lines.append("Content-Type: application/hal+json; charset=utf-8")
        lines += [f"{k}: {v}" for k, v in answer.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: a benchmark makes tens of thousands of requests


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A bound, not yet running server; call `serve_forever()` on it."""
    return _Server((host, port), emulator)


def start_in_thread(
    emulator: Emulator, port: int = 0, host: str = "127.0.0.1"
) -> tuple[ThreadingHTTPServer, str]:
    """Serve on a daemon thread; returns the server and its origin, e.g. http://127.0.0.1:54321."""
    server = serve(emulator, host, port)
    thread = threading.Thread(target=server.serve_forever, name="reverb-emulator", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return server, f"http://{bound_host}:{bound_port}"


def stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()
