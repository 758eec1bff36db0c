"""Pull runner: fetch a resource page by page, map, upsert, log failures, keep SyncRun bookkeeping.

One transaction per page, so an error part-way keeps the pages already landed; a scan that did not finish
marks nothing missing. Mapping failures and records a column cannot hold (engine.unstorable) are logged
(with the raw payload and the reason) and the rest of the page lands; the scan still counts as complete.
A record refused again for the reason an earlier run logged is logged "skipped" and does not make the
run "partial" (`_skip_known`): a known-bad record is seen in every run's log without failing every run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from django.db import transaction
from django.utils import timezone

from backoffice.models import SyncLogEntry, SyncRun

from . import registry
from .engine import (
    UNCHANGED_PAGE,
    Ahead,
    MappingError,
    PageResult,
    Resource,
    Row,
    commit_without_flush,
    ensure_statistics,
    link_related,
    mark_missing,
    pull_session,
    upsert_page,
    work_out_ahead,
)
from .mapping import link
from .objects import retrying_deadlocks
from .pipeline import prepared
from .watermark import since_for

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount
    from backoffice.reverb.client import ReverbClient

log = logging.getLogger(__name__)

# A mapper bug must not stop a sync either: such records are logged like malformed ones.
RECORD_ERRORS = (MappingError, TypeError, ValueError, AttributeError, KeyError, IndexError)


class AccountDisabled(Exception):
    """Disabled accounts are never synced nor called."""


class PageObserver(Protocol):
    """Optional watcher of each page write (the nightly reconciliation uses it to record what changed).
    Both calls run inside the page's transaction: `before_write` before the upsert, `after_write` after."""

    def before_write(self, resource: Resource, account: ReverbAccount, rows: Sequence[Row]) -> None: ...

    def after_write(
        self, resource: Resource, account: ReverbAccount, rows: Sequence[Row], result: PageResult
    ) -> None: ...


@dataclass
class PageOutcome:
    keys: list[str] = field(default_factory=list)  # every key the page returned, failures included
    changed: list[dict[str, Any]] = field(default_factory=list)  # payloads created or changed
    keyless_failure: bool = False
    latest: Any = None  # the newest remote_updated_at among the page's rows (None when none says)


def _guess_key(payload: Any) -> str:
    if isinstance(payload, Mapping):
        for name in ("id", "order_number"):
            if payload.get(name) not in (None, ""):
                return str(payload[name])
    return ""


def _failure(
    resource: Resource,
    account: ReverbAccount,
    run: SyncRun,
    payload: Any,
    reason: str,
    field_errors: Mapping[str, list[str]] | None = None,
) -> SyncLogEntry:
    payload = without_nul(payload)  # the log's own text and jsonb columns take no NUL on PostgreSQL
    data = payload if isinstance(payload, Mapping) else {}
    sku = data.get("sku")
    return SyncLogEntry(
        account=account,
        run=run,
        resource=resource.name,
        reverb_id=_guess_key(payload)[:64],
        sku=str(sku)[:255] if isinstance(sku, str | int) else "",
        web_url=link(data, "web")[:500],
        status=SyncLogEntry.Status.FAILED,
        message=reason,
        field_errors=dict(field_errors or {}),
        raw=payload,
    )


def without_nul(value: Any) -> Any:
    """`value` with every NUL character in its strings (and keys) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, Mapping):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value


class MappedPage(list):  # type: ignore[type-arg]
    """A page's payloads with what `premap` worked out for them ahead, on the read-ahead thread: per
    payload the mapper's (key, fields) or the exception it raised, and by key what the upsert works out
    before it writes (engine.Ahead)."""

    mapped: list[tuple[str, dict[str, Any]] | Exception]
    ahead: dict[str, Ahead]


def premap(resource: Resource, payloads: Sequence[Any]) -> MappedPage:
    """The mapping `land_page` does and what the upsert works out before it writes, done ahead and kept
    with the page. Pure (no query, no clock), so a page worked out early lands exactly as one worked out
    as it lands; a mapper's exception is kept, to be raised or logged when the page lands."""
    page = MappedPage(payloads)
    page.mapped = []
    for payload in payloads:
        try:
            page.mapped.append(resource.mapper(payload))
        except Exception as exc:
            page.mapped.append(exc)
    rows = [(*m, p) for m, p in zip(page.mapped, payloads, strict=True) if not isinstance(m, Exception)]
    page.ahead = work_out_ahead(resource.model, rows)
    return page


def _map(
    resource: Resource, payload: Any, mapped: list[Any] | None, index: int
) -> tuple[str, dict[str, Any]]:
    """The mapper's (key, fields) for the page's `index`th payload: mapped ahead (`premap`) or now; a
    mapper's exception is raised here either way."""
    if mapped is None:
        return resource.mapper(payload)
    result = mapped[index]
    if isinstance(result, Exception):
        raise result
    return result


def land_page(
    resource: Resource,
    account: ReverbAccount,
    run: SyncRun,
    payloads: Sequence[Any],
    observer: PageObserver | None = None,
) -> PageOutcome:
    """Map one page and write it in one transaction: upsert (<= 2 queries) + failure log (0-1 query)."""
    outcome = PageOutcome()
    rows: list[Row] = []
    failures: list[SyncLogEntry] = []
    mapped = getattr(payloads, "mapped", None)
    for index, payload in enumerate(payloads):
        try:
            key, fields = _map(resource, payload, mapped, index)
        except RECORD_ERRORS as exc:
            reason = exc.reason if isinstance(exc, MappingError) else f"{type(exc).__name__}: {exc}"
            failures.append(
                _failure(resource, account, run, payload, reason, getattr(exc, "field_errors", None))
            )
            guessed = _guess_key(payload)
            if guessed:
                outcome.keys.append(guessed)
            else:
                outcome.keyless_failure = True
            continue
        rows.append((key, fields, payload))
        outcome.keys.append(key)
        updated = fields.get("remote_updated_at")
        if updated is not None and (outcome.latest is None or updated > outcome.latest):
            outcome.latest = updated
    with transaction.atomic():
        commit_without_flush(resource.model)
        if observer is not None:
            observer.before_write(resource, account, rows)
        result = upsert_page(
            resource.model, account, rows, run=run.pk, ahead=getattr(payloads, "ahead", None)
        )
        if observer is not None:
            observer.after_write(resource, account, rows, result)
        for (_, _, raw), reason in result.rejected:  # a value no column here can hold: the rest landed
            failures.append(_failure(resource, account, run, raw, f"not stored: {reason}"))
        if failures:
            _skip_known(account, resource, run, failures)
            SyncLogEntry.objects.bulk_create(failures)
    changed = set(result.changed_keys)
    outcome.changed = [raw for key, _, raw in rows if key in changed]
    run.pages += 1
    run.fetched += len(payloads)
    run.created += result.created
    run.updated += result.updated
    run.unchanged += result.unchanged
    run.failed += sum(entry.status == SyncLogEntry.Status.FAILED for entry in failures)
    return outcome


def _skip_known(
    account: ReverbAccount, resource: Resource, run: SyncRun, entries: list[SyncLogEntry]
) -> None:
    """A record refused for the very reason an earlier run logged (the same value Reverb keeps sending) is
    logged "skipped", not "failed": it stays in every run's log, and one known-bad record does not keep
    every later pull "partial". A new reason (or a record never refused before) is a failure again."""
    keys = {entry.reverb_id for entry in entries if entry.reverb_id}
    if not keys:
        return
    earlier = (
        SyncLogEntry.objects.filter(
            account=account,
            resource=resource.name,
            reverb_id__in=keys,
            status__in=[SyncLogEntry.Status.FAILED, SyncLogEntry.Status.SKIPPED],
        )
        .exclude(run=run)
        .order_by("reverb_id", "-id")
        .values_list("reverb_id", "message")
    )
    last: dict[str, str] = {}
    for key, message in earlier:
        last.setdefault(key, message)
    for entry in entries:
        if entry.reverb_id and last.get(entry.reverb_id) == entry.message:
            entry.status = SyncLogEntry.Status.SKIPPED


def _finish(run: SyncRun, requests: int, started: float, error: str = "") -> None:
    run.requests = requests
    run.seconds = round(time.perf_counter() - started, 3)
    run.finished_at = timezone.now()
    run.error = error[:5000]
    if error:
        run.status = SyncRun.Status.FAILED
    else:
        run.status = SyncRun.Status.PARTIAL if run.failed else SyncRun.Status.SUCCESS
    run.save()


def _relink(resource: Resource, account: ReverbAccount) -> None:
    for model, related in registry.links_touching(resource.model):
        # Beside a write-back's link step (another transaction) either may be PostgreSQL's deadlock victim.
        retrying_deadlocks(lambda model=model, related=related: link_related(model, account, related))


# Child payloads written per upsert: the children of many parents (a page of conversations' messages) in
# one, within what one statement may carry on SQLite (about 30 parameters a row, 32,766 at most).
CHILD_BATCH = 200


def _pull_children(
    resource: Resource,
    account: ReverbAccount,
    client: ReverbClient,
    parents: Iterable[dict[str, Any]],
    child_runs: dict[str, SyncRun],
    observer: PageObserver | None = None,
    children: Sequence[tuple[str, Any]] | None = None,
) -> None:
    """Child collections of the given parents, fetched one parent at a time and written together (a page
    of conversations' messages in one upsert, not one per conversation): a child that fails to fetch is
    logged and its parent's hash cleared, so the next run fetches it again."""
    parents = list(parents)
    if not parents:
        return
    for child_name, fetch_children in resource.children if children is None else children:
        child = registry.get(child_name)
        if child_name not in child_runs:  # created on demand: a sync with nothing new writes no child run
            child_runs[child_name] = SyncRun.objects.create(
                account=account, resource=child_name, full=False, started_at=timezone.now()
            )
        child_run = child_runs[child_name]
        batch: list[Any] = []
        for parent in parents:
            before = client.request_count
            try:
                for payloads in fetch_children(client, [parent]):
                    batch.extend(payloads)
                    if len(batch) >= CHILD_BATCH:
                        land_page(child, account, child_run, batch, observer)
                        batch = []
            except Exception as exc:  # any failure: log it, retry this parent next run
                child_run.failed += 1
                key = resource.mapper(parent)[0]
                SyncLogEntry.objects.create(
                    account=account,
                    run=child_run,
                    resource=child_name,
                    reverb_id=key[:64],
                    status=SyncLogEntry.Status.FAILED,
                    message=f"fetching {child_name} of {key}: {exc}",
                    web_url=link(parent, "web")[:500],
                )
                resource.model.objects.filter(account=account, reverb_id=key).update(payload_hash="")
            child_run.requests += client.request_count - before
        if batch:
            land_page(child, account, child_run, batch, observer)


def sync_resource(
    account: ReverbAccount,
    resource_name: str,
    *,
    full: bool = False,
    client: ReverbClient | None = None,
    observer: PageObserver | None = None,
) -> SyncRun:
    """Pull one resource. Incremental resources start at the watermark unless `full`; others (and first
    runs) are complete scans, after which rows the scan did not return are marked missing.
    `observer` (optional) sees every page written, the resource's children included."""
    if not account.enabled:
        raise AccountDisabled(f"account {account.name!r} is disabled; it is never synced")
    resource = registry.get(resource_name)
    if resource.fetch is None:
        raise ValueError(f"{resource_name} is pulled with its parent resource, not on its own")
    with pull_session(resource.model):
        return _pull(account, resource, full, client or account.client(), observer)


def _pull(
    account: ReverbAccount,
    resource: Resource,
    full: bool,
    client: ReverbClient,
    observer: PageObserver | None,
) -> SyncRun:
    since = None if full or not resource.incremental else since_for(account.pk, resource.name)
    now = timezone.now()
    run = SyncRun.objects.create(
        account=account, resource=resource.name, full=since is None, since=since, started_at=now
    )
    child_runs: dict[str, SyncRun] = {}
    started, requests_before = time.perf_counter(), client.request_count
    error = ""
    try:
        _land_pages(account, resource, full, client, observer, since, run, child_runs)
    except Exception as exc:  # a failed request or a bug: the run fails, landed pages stay
        log.warning("sync of %s for %s failed: %s", resource.name, account, exc, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
    _relink_written(account, resource, run, child_runs)
    child_requests = 0
    for child_run in child_runs.values():
        child_requests += child_run.requests
        _finish(child_run, child_run.requests, started, error and "parent run failed")
    _finish(run, client.request_count - requests_before - child_requests, started, error)
    run.children = list(child_runs.values())  # not a column: for callers that report child runs
    return run


def _land_pages(
    account: ReverbAccount,
    resource: Resource,
    full: bool,
    client: ReverbClient,
    observer: PageObserver | None,
    since: Any,
    run: SyncRun,
    child_runs: dict[str, SyncRun],
) -> None:
    """Land every page the resource's fetch yields (and its children's); after a complete scan, mark
    missing the rows it did not return."""
    seen: set[str] = set()
    keyless = False
    pages = iter(prepared(resource.fetch(client, since), lambda page: premap(resource, page)))
    signal: str | None = None
    while True:
        try:
            payloads = pages.send(signal) if signal is not None else next(pages)
        except StopIteration:
            break
        outcome = land_page(resource, account, run, payloads, observer)
        if run.created:
            ensure_statistics(resource.model)
        signal = _signal_after(resource, since, payloads, outcome)
        if since is None:
            seen.update(outcome.keys)
        keyless |= outcome.keyless_failure
        _pull_page_children(account, resource, full, client, observer, since, payloads, outcome, child_runs)
    if since is None and resource.mark_missing and not keyless:
        run.missing = mark_missing(resource.model, account, seen)


def _signal_after(resource: Resource, since: Any, payloads: Any, outcome: PageOutcome) -> str | None:
    """UNCHANGED_PAGE when an incremental pull of a newest-first stream has read all that is new."""
    if since is None or not resource.newest_first:
        return None
    if payloads and not outcome.changed:
        return UNCHANGED_PAGE  # the rest of this stream is older and already mirrored
    if _older(outcome, since):
        # Nothing on the page changed since `since`: what follows is older still, and not this pull's
        # to read (a first pull's backfill reads it, backoffice/sync/backfill.py).
        return UNCHANGED_PAGE
    return None


def _pull_page_children(
    account: ReverbAccount,
    resource: Resource,
    full: bool,
    client: ReverbClient,
    observer: PageObserver | None,
    since: Any,
    payloads: Any,
    outcome: PageOutcome,
    child_runs: dict[str, SyncRun],
) -> None:
    """The children of one landed page: those of its changed rows, or of every row on a full pull of a
    resource that reads all children then."""
    if since is not None and resource.incremental_children:
        _pull_children(
            resource,
            account,
            client,
            outcome.changed,
            child_runs,
            observer,
            resource.incremental_children,
        )
    if resource.children:
        everything = full and resource.children_on_full
        parents = [p for p in payloads if isinstance(p, Mapping)] if everything else outcome.changed
        if everything:  # skip rows that failed to map: they have no usable key
            parents = [p for p in parents if _maps(resource, p)]
        _pull_children(resource, account, client, parents, child_runs, observer)


def _relink_written(
    account: ReverbAccount, resource: Resource, run: SyncRun, child_runs: dict[str, SyncRun]
) -> None:
    # New links can only come from rows written now (earlier runs linked what they wrote).
    if run.created or run.updated:
        _relink(resource, account)
    for name, child_run in child_runs.items():
        if child_run.created or child_run.updated:
            _relink(registry.get(name), account)


def _older(outcome: PageOutcome, since: Any) -> bool:
    return outcome.latest is not None and outcome.latest < since


def _maps(resource: Resource, payload: Mapping[str, Any]) -> bool:
    try:
        resource.mapper(payload)
    except RECORD_ERRORS:
        return False
    return True


def sync_account(
    account: ReverbAccount,
    resources: Sequence[str] | None = None,
    full: bool = False,
    client: ReverbClient | None = None,
) -> list[SyncRun]:
    """Every (or the named) top-level resource, in registry order; one shared client (one rate budget)."""
    if not account.enabled:
        raise AccountDisabled(f"account {account.name!r} is disabled; it is never synced")
    names = [name for name in registry.order() if resources is None or name in resources]
    unknown = set(resources or ()) - set(registry.order())
    if unknown:
        raise KeyError(
            f"unknown resource(s) {', '.join(sorted(unknown))}; known: {', '.join(registry.order())}"
        )
    client = client or account.client()
    return [sync_resource(account, name, full=full, client=client) for name in names]
