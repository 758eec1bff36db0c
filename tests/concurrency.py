"""Running things at the same time for real (`pytest -m concurrency`, DESIGN.md section 8).

Tests of overlap start real threads, each with its own database connection, released together by a
barrier so their critical sections meet. They need committed data that every thread sees: mark them
`@pytest.mark.django_db(transaction=True)` and `pytestmark = concurrency` (PostgreSQL only: SQLite
serialises every writer, so the race cannot show there)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, connections

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="overlap is tested on PostgreSQL (SQLite serialises writers)"
)
concurrency = [pytest.mark.concurrency, on_postgresql]


@dataclass
class Outcome:
    """What one of the threads returned, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None


def run_at_once(
    fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], timeout: float = 120
) -> list[Outcome]:
    """Call `fn(*args)` for each args of `calls`, each in its own thread, all released at the same moment.
    Returns one Outcome per call, in order; every thread's connections are closed when it ends."""
    barrier = threading.Barrier(len(calls))
    outcomes = [Outcome() for _ in calls]

    def worker(index: int, args: tuple[Any, ...]) -> None:
        try:
            barrier.wait(timeout)
            outcomes[index].value = fn(*args)
        except BaseException as error:  # handed to the test, which asserts on it
            outcomes[index].error = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, args), daemon=True) for i, args in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(f"a thread did not finish within {timeout} s")
    return outcomes


def errors(outcomes: Sequence[Outcome]) -> list[BaseException]:
    return [o.error for o in outcomes if o.error is not None]
