"""A write-back PostgreSQL aborts as a deadlock victim runs again (found by the scaled test: a ship's
write-back and a mass sync's orders page both run the account-wide link step, in no common row order)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from backoffice.sync import objects


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def failing(times: int, sqlstate: str = "40P01") -> tuple[list[int], object]:
    calls: list[int] = []

    def write() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("deadlock detected") from PgError(sqlstate)
        return "written"

    return calls, write


def test_a_deadlock_victim_is_run_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(objects.time, "sleep", lambda s: None)
    calls, write = failing(2)
    assert objects.retrying_deadlocks(write) == "written" and len(calls) == 3


def test_it_gives_up_after_the_last_try(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(objects.time, "sleep", lambda s: None)
    calls, write = failing(3)
    with pytest.raises(OperationalError):
        objects.retrying_deadlocks(write)
    assert len(calls) == 3


def test_other_errors_are_not_retried() -> None:
    calls, write = failing(1, sqlstate="08006")  # connection failure
    with pytest.raises(OperationalError):
        objects.retrying_deadlocks(write)
    assert len(calls) == 1


@pytest.mark.django_db
def test_inside_an_outer_transaction_nothing_is_retried() -> None:
    calls, write = failing(1)  # the test's own transaction is the outer one
    with pytest.raises(OperationalError):
        objects.retrying_deadlocks(write)
    assert len(calls) == 1
