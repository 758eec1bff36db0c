"""One holder of a named thing at a time, across threads, processes and machines (DESIGN.md: one writer
per object), for work that calls Reverb while it holds it.

PostgreSQL: a session advisory lock on the name's hash. It is not a transaction's row lock on purpose:
the holder's audit rows must commit as it goes (a worker killed mid-call still leaves its "sending" row),
and a transaction held open across HTTP calls would also keep the account's rate-budget row locked
(every request draws from it in the same connection) until the end, stalling every other worker of the
account. The server drops the lock with the connection, so a crashed holder never blocks anyone.
Elsewhere (SQLite): a `once.claim` lease (a stale one is taken over after once.STALE_CLAIM).

Re-entrant within a thread: a holder may call code that holds the same name again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from backoffice import once

POLL = 0.05  # seconds between two tries while another holder has the name
_held = threading.local()


class Busy(Exception):
    """The name stayed held by someone else for longer than the caller would wait."""


def _names() -> dict[str, int]:
    if not hasattr(_held, "names"):
        _held.names = {}
    return _held.names


@contextmanager
def hold(name: str, *, wait: float = 120.0, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Hold `name` while the block runs, waiting up to `wait` seconds for it (then Busy)."""
    names = _names()
    if names.get(name):  # this thread holds it already
        names[name] += 1
        try:
            yield
        finally:
            names[name] -= 1
        return
    conn = connections[using]
    release = _take_advisory(conn, name, wait) if conn.vendor == "postgresql" else _take_lease(name, wait)
    names[name] = 1
    try:
        yield
    finally:
        names.pop(name, None)
        release()


def _take_advisory(conn: BaseDatabaseWrapper, name: str, wait: float) -> Callable[[], None]:
    deadline = time.monotonic() + wait
    with conn.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [name])
            if cursor.fetchone()[0]:
                break
            if time.monotonic() > deadline:
                raise Busy(name)
            time.sleep(POLL)

    def release() -> None:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [name])

    return release


def _take_lease(name: str, wait: float) -> Callable[[], None]:
    deadline = time.monotonic() + wait
    while True:
        lease = once.claim(f"lock:{name}")
        try:
            lease.__enter__()
        except once.AlreadyClaimed:
            if time.monotonic() > deadline:
                raise Busy(name) from None
            time.sleep(POLL)
            continue
        return lambda: lease.__exit__(None, None, None)
