"""Upsert single objects (a webhook's re-read, a write's returned payload) through the sync engine.

Same mapper and same `upsert_page` as a pull, so a row written here is indistinguishable from one a pull
wrote, and an unchanged object is skipped by the hash (processing the same object twice writes nothing).
Unlike `land_page`, a payload the mapper refuses raises `MappingError` to the caller instead of going to
the sync log: the caller (a webhook delivery, a service call) keeps the error where a person looks for it.
No SyncRun is written, so polling watermarks never move because of these writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import OperationalError, transaction

from . import registry
from .engine import MappingError, PageResult, Row, link_related, upsert_page

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount

# Mapper bugs are reported like malformed payloads (as the runner does).
_RECORD_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError)
# PostgreSQL's deadlock and serialization failures: the transaction it aborted may simply run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_TRIES = 3
T = TypeVar("T")


def retrying_deadlocks(write: Callable[[], T], tries: int = WRITE_TRIES) -> T:
    """Run the transaction `write` opens, again when PostgreSQL aborted it as a deadlock victim (a
    write-back beside a pull of the same account: both link steps update the account's unlinked rows, in
    no common order). Inside an outer transaction nothing can be retried here: the error goes up."""
    for attempt in range(1, tries + 1):
        try:
            return write()
        except OperationalError as exc:
            code = getattr(exc.__cause__, "sqlstate", None)
            if (
                code not in RETRYABLE_SQLSTATES
                or attempt == tries
                or transaction.get_connection().in_atomic_block
            ):
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


@dataclass
class Written:
    keys: list[str]  # every payload's key, in order, changed or not
    result: PageResult


def upsert_objects(
    account: ReverbAccount, resource_name: str, payloads: Sequence[Mapping[str, Any]]
) -> Written:
    """Map every payload (all or nothing), upsert them in one transaction, then (re)link related rows.
    The one write-back path for services and webhooks."""
    resource = registry.get(resource_name)
    mapped: list[tuple[str, dict[str, Any], Mapping[str, Any]]] = []
    for payload in payloads:
        try:
            key, fields = resource.mapper(payload)
        except MappingError:
            raise
        except _RECORD_ERRORS as exc:
            raise MappingError(f"{type(exc).__name__}: {exc}") from exc
        mapped.append((key, fields, payload))
    had = _raw_of(resource.model, account, [key for key, _, _ in mapped])
    # A key the payload leaves out is "not told" for `raw` too: a partial read (GET /listings/{id} has no
    # seller fields, API-NOTES 16.1.1) keeps what the fuller payload said; a pull replaces it whole.
    rows: list[Row] = [(key, fields, {**had.get(key, {}), **payload}) for key, fields, payload in mapped]

    def write() -> PageResult:
        with transaction.atomic():
            result = upsert_page(resource.model, account, rows)
            if result.rejected:  # all or nothing: the transaction rolls back
                (key, _, _), reason = result.rejected[0]
                raise MappingError(f"{resource_name} {key[:64]!r} cannot be stored: {reason}")
            if result.created or result.updated:
                for model, link in registry.links_touching(resource.model):
                    link_related(model, account, link)
        return result

    return Written([key for key, _, _ in rows], retrying_deadlocks(write))


def _raw_of(model: type, account: ReverbAccount, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = model.objects.filter(account=account, reverb_id__in=keys).values_list("reverb_id", "raw")
    return {key: raw for key, raw in rows if isinstance(raw, dict)}
