"""The nightly reconciliation (DESIGN.md sections 4 and 7): a pass over every resource of an account that
repairs the mirror, and a report of what it found, cut into chunks that each fit well within a task.

The night (issue 17, "the night fits"):
- a plan, made once when the report starts (`start_report`): per resource, segments: the undated walks
  (listings, feedback, conversations, offers) whole; the dated ones (orders, payments, refunds, payouts:
  their endpoints take created_start_date/created_end_date) over the recent months
  (RECONCILE_RECENT_DAYS) and over tonight's slice of older history, sized so the rolling sweep covers all
  of it within RECONCILE_SWEEP_NIGHTS nights (`HistorySweep` keeps its position per account);
- chunks (`run_chunk`, one task each, the next queued by the one before): each walks pages from the cursor
  until the night ends or its budget (RECONCILE_CHUNK_REQUESTS requests, RECONCILE_CHUNK_SECONDS seconds,
  checked before every request) is spent. Every page lands in one transaction with its findings, its keys
  (`ReconciliationSeen`) and the cursor (the page's next href), so a worker killed anywhere resumes after
  the last committed page: nothing is reconciled twice nor skipped. A chunk holds the report with a token;
  one that stops saving pages for the task timeout is given up and the takeover noted in the report's log;
- after a resource's last segment, rows in the parts it scanned completely (all of them, or the segments'
  date ranges) that the night did not see are marked missing; the last chunk finishes the report, moves
  the sweep and emails the summary once.

Each page goes through the one write path (`land_page` / `upsert_page`) with a `Recorder` watching: before
the upsert it reads the page's existing promoted columns (one query per page), after it diffs only the
rows the engine created or changed and writes their findings (one bulk insert per page).

A remote change that meets a local pending edit cannot be decided here: resources register conflict
checkers (`register_conflict_checker`, from each app's AppConfig.ready()), and what they return is "left
for a person".
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone

from backoffice.models import (
    ReconciliationFinding,
    ReconciliationReport,
    ReconciliationSeen,
    SyncLogEntry,
    SyncRun,
)
from backoffice.people import emails_of
from backoffice.sync import registry
from backoffice.sync.engine import PageResult, Resource, Row, mark_missing
from backoffice.sync.resource import Stream
from backoffice.sync.runner import (
    AccountDisabled,
    _maps,
    _pull_children,
    _relink,
    land_page,
    sync_resource,
)

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount
    from backoffice.reverb.client import ReverbClient

log = logging.getLogger(__name__)

Action = ReconciliationFinding.Action
State = ReconciliationReport.State

# Findings stored per resource and report; counts stay exact beyond it ("unlisted" in the counts).
MAX_FINDINGS_PER_RESOURCE = 1000
# Columns every row has that say when, not what: a difference there is not a finding.
NOT_COMPARED = {"remote_updated_at"}
LABEL_FIELDS = ("title", "sku", "subject", "buyer_name", "other_party_name", "order_number", "body")
COUNT_NAMES = ("checked", "created", "updated", "missing", "conflicts", "failures")
VALUE_LIMIT = 2000


# ---- conflicts: a registry the domain apps fill ---------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One row the reconciliation changed: `before` is None when it was created."""

    key: str
    label: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any]
    fields: tuple[str, ...]  # the promoted columns that differ


@dataclass(frozen=True)
class Conflict:
    """A local pending edit of `field` that the remote value now contradicts."""

    key: str
    field: str
    ours: Any
    theirs: Any
    reason: str = "changed on Reverb while a local edit is pending"


ConflictChecker = Callable[["ReverbAccount", Sequence[Change]], Iterable[Conflict]]
CONFLICT_CHECKERS: dict[str, list[ConflictChecker]] = {}


def register_conflict_checker(resource: str, checker: ConflictChecker) -> None:
    """Register a checker for one resource's changed rows. Each domain app registers its own in its
    AppConfig.ready(), e.g. listings/apps.py registers listings/conflicts.py's `pending_edits`:
    `checker(account, changes)` makes one query for the page's keys and returns Conflict(...)s."""
    checkers = CONFLICT_CHECKERS.setdefault(resource, [])
    if checker not in checkers:
        checkers.append(checker)


@dataclass(frozen=True)
class Repair:
    """Something an app repaired (or queued for repair) on one row of a page it was shown."""

    key: str
    field: str
    ours: Any
    theirs: Any
    reason: str


# checker(account, {key: fields}) sees every row of every page, changed or not (e.g. inventory compares
# the shop's wanted quantity with what Reverb has and queues the difference).
PageChecker = Callable[["ReverbAccount", Mapping[str, Mapping[str, Any]]], Iterable[Repair]]
PAGE_CHECKERS: dict[str, list[PageChecker]] = {}


def register_page_checker(resource: str, checker: PageChecker) -> None:
    """Register a checker for every row of one resource's pages, from an app's AppConfig.ready() (e.g.
    inventory/apps.py). It runs in the page's transaction; what it returns is recorded as repaired."""
    checkers = PAGE_CHECKERS.setdefault(resource, [])
    if checker not in checkers:
        checkers.append(checker)


# ---- value helpers ----------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A value as a person reads it in a finding."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    text = json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, Decimal) or isinstance(theirs, Decimal):
        try:
            return Decimal(str(ours)) == Decimal(str(theirs))
        except ArithmeticError:
            return False
    if ours in (None, "") and theirs in (None, ""):
        return True
    return bool(ours == theirs)


def label_of(values: Mapping[str, Any]) -> str:
    for name in LABEL_FIELDS:
        if values.get(name):
            return str(values[name])[:255]
    return ""


def compared_columns(model: type[models.Model]) -> list[str]:
    """The model's promoted columns (what the admin shows and filters on), without bookkeeping."""
    from backoffice.models import RemoteModel

    base = {f.name for f in RemoteModel._meta.get_fields()} - {"remote_created_at"}
    return [
        f.name
        for f in model._meta.concrete_fields
        if not f.is_relation and not f.primary_key and f.name not in base and f.name not in NOT_COMPARED
    ]


# ---- the page observer ------------------------------------------------------------------------------


@dataclass
class Tally:
    conflicts: int = 0
    findings: int = 0
    unlisted: int = 0


@dataclass
class Recorder:
    """Watches the pages of one reconciliation and writes their findings."""

    report: ReconciliationReport
    tallies: dict[str, Tally] = field(default_factory=dict)
    _before: dict[str, dict[str, Any]] = field(default_factory=dict)

    def tally(self, resource: str) -> Tally:
        return self.tallies.setdefault(resource, Tally())

    def before_write(self, resource: Resource, account: ReverbAccount, rows: Sequence[Row]) -> None:
        keys = [key for key, _, _ in rows]
        columns = compared_columns(resource.model)
        existing = resource.model.objects.filter(account=account, reverb_id__in=keys).values(
            "reverb_id", "missing", *columns
        )
        self._before = {row["reverb_id"]: row for row in existing}

    def after_write(
        self, resource: Resource, account: ReverbAccount, rows: Sequence[Row], result: PageResult
    ) -> None:
        self._page_checks(resource.name, account, rows)
        changed = set(result.changed_keys)
        if not changed:
            return
        columns = compared_columns(resource.model)
        latest = {key: fields for key, fields, _ in rows if key in changed}  # last one wins, as upserted
        changes = []
        for key, fields in latest.items():
            before = self._before.get(key)
            differing = (
                ()
                if before is None
                else tuple(
                    name for name in columns if name in fields and not same(before[name], fields[name])
                )
            )
            changes.append(Change(key, label_of(fields), before, fields, differing))
        conflicts = self._conflicts(resource.name, account, changes)
        findings = [f for change in changes for f in self._findings(resource.name, change, conflicts)]
        self.add(resource.name, findings)
        self._before = {}

    def _page_checks(self, resource: str, account: ReverbAccount, rows: Sequence[Row]) -> None:
        checkers = PAGE_CHECKERS.get(resource, ())
        if not checkers:
            return
        page = {key: fields for key, fields, _ in rows}
        labels = {key: label_of(fields) for key, fields in page.items()}
        findings = [
            ReconciliationFinding(
                report=self.report,
                resource=resource,
                object_key=repair.key,
                object_label=labels.get(repair.key, ""),
                field=repair.field,
                ours=show(repair.ours),
                theirs=show(repair.theirs),
                action=Action.REPAIRED,
                reason=repair.reason,
            )
            for checker in checkers
            for repair in checker(account, page)
        ]
        self.add(resource, findings)

    def _conflicts(
        self, resource: str, account: ReverbAccount, changes: Sequence[Change]
    ) -> dict[tuple[str, str], Conflict]:
        found: dict[tuple[str, str], Conflict] = {}
        for checker in CONFLICT_CHECKERS.get(resource, ()):
            for conflict in checker(account, changes):
                found[(conflict.key, conflict.field)] = conflict
        self.tally(resource).conflicts += len(found)
        return found

    def _findings(
        self, resource: str, change: Change, conflicts: Mapping[tuple[str, str], Conflict]
    ) -> list[ReconciliationFinding]:
        def finding(**kw: Any) -> ReconciliationFinding:
            return ReconciliationFinding(
                report=self.report, resource=resource, object_key=change.key, object_label=change.label, **kw
            )

        if change.before is None:
            return [finding(action=Action.CREATED, reason="On Reverb but not in the mirror; added.")]
        out = []
        if change.before.get("missing"):
            out.append(
                finding(
                    field="missing",
                    ours="yes",
                    theirs="no",
                    action=Action.REPAIRED,
                    reason="Marked missing here, but Reverb lists it again.",
                )
            )

        def left_for_person(name: str, conflict: Conflict) -> ReconciliationFinding:
            return finding(
                field=name,
                ours=show(conflict.ours),
                theirs=show(conflict.theirs),
                action=Action.LEFT_FOR_PERSON,
                reason=conflict.reason,
            )

        for name in change.fields:
            conflict = conflicts.get((change.key, name))
            if conflict is not None:
                out.append(left_for_person(name, conflict))
            else:
                out.append(
                    finding(
                        field=name,
                        ours=show(change.before[name]),
                        theirs=show(change.after[name]),
                        action=Action.REPAIRED,
                        reason="Updated from Reverb.",
                    )
                )
        for (key, name), conflict in conflicts.items():  # conflicts on fields the mirror does not show
            if key == change.key and name not in change.fields:
                out.append(left_for_person(name, conflict))
        if not out:
            out.append(
                finding(
                    action=Action.REPAIRED,
                    reason="Details outside the listed columns changed (raw payload); updated.",
                )
            )
        return out

    def add(self, resource: str, findings: Sequence[ReconciliationFinding]) -> None:
        tally = self.tally(resource)
        room = max(0, MAX_FINDINGS_PER_RESOURCE - tally.findings)
        kept = list(findings[:room])
        tally.findings += len(kept)
        tally.unlisted += len(findings) - len(kept)
        if kept:
            ReconciliationFinding.objects.bulk_create(kept)


# ---- the night's plan: segments -------------------------------------------------------------------


def streams() -> dict[str, tuple[Stream, ...]]:
    """The walks of each resource the night knows how to cut into chunks (the same endpoints as the
    resources' own fetchers in <app>/sync.py), as the apps registered them (registry.NIGHT_WALKS). A
    resource missing here is reconciled whole, in one chunk."""
    return registry.night_walks()


# The resource whose mirror rows size the nightly slices of older history (the largest dated one).
YARDSTICK = "orders"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class OlderSlice:
    start: datetime | None  # None: from the very beginning
    end: datetime
    share: float  # of the older history (by the yardstick's rows in the mirror)
    last: bool  # the sweep ends with this slice


def older_slice(account: ReverbAccount, recent_start: datetime) -> OlderSlice:
    """Tonight's slice of the history older than the recent months: from the sweep's position, about
    1/(nights left) of what remains (counted on the mirror's yardstick rows), the rest on the last night."""
    from backoffice.models import HistorySweep

    sweep, _ = HistorySweep.objects.get_or_create(account=account)
    nights_left = max(1, settings.RECONCILE_SWEEP_NIGHTS - sweep.nights)
    start = sweep.position if sweep.position and sweep.position < recent_start else None
    model = registry.resources().get(YARDSTICK)
    older = model.model.objects.filter(account=account, remote_created_at__lt=recent_start) if model else None
    total = older.count() if older is not None else 0
    if not total:  # nothing to size by: by time
        if start is None or nights_left == 1:
            return OlderSlice(start, recent_start, 1.0, True)
        end = start + (recent_start - start) / nights_left
        return OlderSlice(start, end, (end - start) / (recent_start - start), False)
    remaining = older.filter(remote_created_at__gte=start) if start else older
    left = remaining.count()
    take = -(-left // nights_left)
    if nights_left == 1 or take >= left:
        return OlderSlice(start, recent_start, left / total, True)
    ordered = remaining.order_by("remote_created_at").values_list("remote_created_at", flat=True)
    end = ordered[take]
    if start is not None and end <= start:
        return OlderSlice(start, recent_start, left / total, True)
    return OlderSlice(start, end, take / total, False)


def plan_night(
    account: ReverbAccount, now: datetime, names: Sequence[str], *, all_history: bool = False
) -> tuple[list[dict[str, Any]], OlderSlice | None]:
    """The night's segments, in registry order: every undated walk whole; each dated one over the recent
    months ([now - RECONCILE_RECENT_DAYS, now]) and over tonight's slice of older history (or all of it)."""
    recent_start = now - timedelta(days=settings.RECONCILE_RECENT_DAYS)
    known = streams()
    dated = any(s.dated for name in names for s in known.get(name, ()))
    older = None if all_history or not dated else older_slice(account, recent_start)
    plan: list[dict[str, Any]] = []
    for name in names:
        if name not in known:
            plan.append({"resource": name, "kind": "whole"})
            continue
        for index, stream in enumerate(known[name]):
            seg = {"resource": name, "stream": index}
            if not stream.dated:
                plan.append({**seg, "kind": "all"})
            elif all_history:
                plan.append({**seg, "kind": "history", "start": None, "end": _iso(now)})
            else:
                if older is not None:
                    plan.append({**seg, "kind": "older", "start": _iso(older.start), "end": _iso(older.end)})
                plan.append({**seg, "kind": "recent", "start": _iso(recent_start), "end": _iso(now)})
    return plan, older


def _covered(segments: Iterable[dict[str, Any]]) -> Q | None:
    """Which mirror rows the resource's finished segments scanned completely: None for all of them."""
    ranges = Q(pk__in=[])
    for seg in segments:
        if seg["kind"] in ("all", "whole"):
            return None
        start, end = _when(seg.get("start")), _when(seg["end"])
        ranges |= Q(remote_created_at__lt=end, **({"remote_created_at__gte": start} if start else {}))
    return ranges


# ---- the chunks ---------------------------------------------------------------------------------------


class Busy(Exception):
    """Another chunk of this report is running (its last page is newer than the task timeout)."""


class Superseded(Exception):
    """A chunk that found its report taken over by another (it had been given up as stalled)."""


def stale_after() -> timedelta:
    """A chunk that saved no page for this long is dead (its worker was killed): the task timeout and
    the broker's re-delivery wait, plus a minute (the leases of backoffice/background/queue.py)."""
    from backoffice.background.queue import lease_expiry

    return lease_expiry()


@dataclass
class Chunk:
    """One chunk of one report: runs segments until the night ends or the chunk's budget (requests and
    seconds, checked before every request) is spent. Every page lands in one transaction together with
    its findings, its seen keys and the cursor, so a chunk killed at any point resumes at the page after
    the last one that committed: nothing is reconciled twice nor skipped."""

    report: ReconciliationReport
    client: ReverbClient
    max_requests: int
    max_seconds: float
    token: str = ""
    recorder: Recorder = field(init=False)
    cur: dict[str, Any] = field(init=False)
    runs: dict[str, SyncRun] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recorder = Recorder(self.report)
        self.cur = {
            "segment": 0,
            "opened": False,
            "href": None,
            "pending": [],
            "runs": {},
            "tallies": {},
            "errors": [],
            "failed": [],
            "crashes": 0,
            **(self.report.cursor or {}),
        }
        for name, values in self.cur["tallies"].items():
            self.recorder.tallies[name] = Tally(**values)
        self._requests_at_start = self.client.request_count
        self._started = time.monotonic()

    # ---- budget and bookkeeping -----------------------------------------------------------------------
    @property
    def requests(self) -> int:
        return self.client.request_count - self._requests_at_start

    def room(self) -> bool:
        return self.requests < self.max_requests and time.monotonic() - self._started < self.max_seconds

    def run_of(self, name: str, *, child: bool = False) -> SyncRun:
        if name not in self.runs:
            run_id = self.cur["runs"].get(name)
            run = SyncRun.objects.filter(pk=run_id).first() if run_id else None
            if run is None:
                dated = any(
                    seg["kind"] in ("older", "recent") for seg in self.report.plan if seg["resource"] == name
                )
                # A slice of a dated resource is not a complete scan and must not move its incremental
                # watermark: full=False without `since` (backoffice/sync/watermark.py skips such runs).
                run = SyncRun.objects.create(
                    account=self.report.account,
                    resource=name,
                    full=not dated and not child,
                    started_at=timezone.now(),
                )
                self.cur["runs"][name] = run.pk
            self.runs[name] = run
        return self.runs[name]

    def save(self, *runs: SyncRun) -> None:
        """The cursor, tallies and counts, only while this chunk still holds the report."""
        self.cur["tallies"] = {n: vars(t) for n, t in self.recorder.tallies.items()}
        for run in runs:
            run.save(update_fields=[*RUN_COUNTERS])
        held = ReconciliationReport.objects.filter(pk=self.report.pk, chunk_token=self.token).update(
            cursor=self.cur, counts=self.report.counts, last_chunk_at=timezone.now()
        )
        if not held:
            raise Superseded(f"report {self.report.pk} was taken over by another chunk")
        self.report.cursor = self.cur

    # ---- the walk -------------------------------------------------------------------------------------
    def run(self) -> bool:
        """Returns True when every segment is done (the caller then finishes the report)."""
        plan = self.report.plan
        known = streams()
        while self.cur["segment"] < len(plan):
            seg = plan[self.cur["segment"]]
            name = seg["resource"]
            if name not in self.cur["failed"]:
                resource = registry.get(name)
                try:
                    if seg["kind"] == "whole":
                        if self.requests:  # a whole resource gets a chunk of its own
                            return False
                        self.whole(name)
                    elif not self.walk(resource, seg, known[name][seg["stream"]]):
                        return False
                except Superseded:
                    raise
                except Exception as exc:  # a failed request or a bug: this resource fails, the night goes on
                    log.warning(
                        "reconciliation of %s for %s failed", name, self.report.account, exc_info=True
                    )
                    self.fail(name, f"{type(exc).__name__}: {exc}")
            last = self.cur["segment"] + 1 >= len(plan) or plan[self.cur["segment"] + 1]["resource"] != name
            self.cur.update(segment=self.cur["segment"] + 1, opened=False, href=None, pending=[])
            if last and seg["kind"] != "whole":
                self.finish_resource(name)
            self.save()
        return True

    def walk(self, resource: Resource, seg: dict[str, Any], stream: Stream) -> bool:
        """The segment's pages from the cursor on; False when the budget ran out first."""
        if not self.children(resource):
            return False
        if self.cur["opened"] and not self.cur["href"]:
            return True
        if not self.room():
            return False
        run = self.run_of(resource.name)
        if self.cur["opened"]:
            pages = self.client.continue_pages(self.cur["href"], key=stream.key)
        else:
            start = _when(seg.get("start"))
            # A second earlier: whether Reverb's start is inclusive or not, the boundary's rows come back.
            pages = stream.open(
                self.client, start - timedelta(seconds=1) if start else None, _when(seg.get("end"))
            )
        before = self.client.request_count
        for page in pages:
            following = ((page.data.get("_links") or {}).get("next") or {}).get("href")
            payloads = stream.rows(page.items)
            with transaction.atomic():
                outcome = land_page(resource, self.report.account, run, payloads, self.recorder)
                run.requests += self.client.request_count - before
                if resource.mark_missing and outcome.keys:
                    ReconciliationSeen.objects.bulk_create(
                        [
                            ReconciliationSeen(report=self.report, resource=resource.name, key=k)
                            for k in outcome.keys
                        ],
                        ignore_conflicts=True,
                    )
                parents = (
                    [p for p in payloads if isinstance(p, Mapping)]
                    if resource.children_on_full
                    else outcome.changed
                )
                self.cur.update(opened=True, href=following, pending=parents if resource.children else [])
                self.report.counts[resource.name] = _counts(run, self.recorder)
                self.save(run)
            if not self.children(resource) or not following:
                return bool(not self.cur["pending"])
            if not self.room():
                return False
            before = self.client.request_count
        return True

    def children(self, resource: Resource) -> bool:
        """The child collections of the parents the last page left pending, one parent at a time."""
        if not self.cur["pending"]:
            return True
        child_runs = {name: self.run_of(name, child=True) for name, _ in resource.children}
        while self.cur["pending"]:
            if not self.room():
                return False
            parent = self.cur["pending"][0]
            if _maps(resource, parent):
                _pull_children(
                    resource, self.report.account, self.client, [parent], child_runs, self.recorder
                )
            self.cur["pending"] = self.cur["pending"][1:]
            for name, run in child_runs.items():
                self.report.counts[name] = _counts(run, self.recorder)
            self.save(*child_runs.values())
        return True

    def whole(self, name: str) -> None:
        """A resource the night cannot cut: pulled whole, as a full sync (one chunk)."""
        run = sync_resource(self.report.account, name, full=True, client=self.client, observer=self.recorder)
        for one in [run, *getattr(run, "children", [])]:
            self.report.counts[one.resource] = _counts(one, self.recorder)
            _record_missing_and_failures(self.recorder, self.report.account, one)
            if one.error and one.status == SyncRun.Status.FAILED and one is run:
                self.cur["errors"].append(f"{one.resource}: {one.error}")
                self.cur["failed"].append(name)

    def fail(self, name: str, error: str) -> None:
        run = self.run_of(name)
        run.error = error[:5000]
        self.cur["errors"].append(f"{name}: {error}")
        self.cur["failed"].append(name)  # its other segments are skipped; its last one finishes it

    def finish_resource(self, name: str) -> None:
        """After the resource's last segment: mark missing what its complete parts did not return, close
        its runs, relink, and record the missing rows and failures."""
        resource = registry.get(name)
        run = self.run_of(name)
        failed = name in self.cur["failed"]
        if not failed and resource.mark_missing:
            seen = set(
                ReconciliationSeen.objects.filter(report=self.report, resource=name).values_list(
                    "key", flat=True
                )
            )
            segments = [s for s in self.report.plan if s["resource"] == name]
            run.missing = mark_missing(resource.model, self.report.account, seen, _covered(segments))
        children = [
            self.run_of(child, child=True) for child, _ in resource.children if child in self.cur["runs"]
        ]
        for one in [run, *children]:
            one.finished_at = timezone.now()
            one.seconds = round((one.finished_at - one.started_at).total_seconds(), 3)
            if failed:
                one.error = one.error or "parent run failed"
                one.status = SyncRun.Status.FAILED
            else:
                one.status = SyncRun.Status.PARTIAL if one.failed else SyncRun.Status.SUCCESS
            one.save()
            if one.created or one.updated:
                _relink(registry.get(one.resource), self.report.account)
            self.report.counts[one.resource] = _counts(one, self.recorder)
            _record_missing_and_failures(self.recorder, self.report.account, one)


RUN_COUNTERS = (
    "pages",
    "fetched",
    "created",
    "updated",
    "unchanged",
    "missing",
    "failed",
    "requests",
    "error",
)


def start_report(
    account: ReverbAccount,
    report: ReconciliationReport | None = None,
    *,
    resources: Sequence[str] | None = None,
    all_history: bool = False,
) -> ReconciliationReport:
    """The report with its plan (made once, when the night starts: a resumed night keeps its slices)."""
    if report is None:
        report = ReconciliationReport.objects.create(account=account, started_at=timezone.now())
    if not report.plan:
        names = [
            n for n in registry.order() if (resources is None or n in resources) and n not in report.counts
        ]
        plan, older = plan_night(account, report.started_at, names, all_history=all_history)
        report.plan = plan
        report.cursor = {"all_history": all_history}
        fields = ["plan", "cursor"]
        if older is not None:
            report.older_share = round(older.share, 4)
            start = f"{older.start:%Y-%m-%d %H:%M}" if older.start else "the beginning"
            report.older_range = f"{start} to {older.end:%Y-%m-%d %H:%M}"[:100]
            report.cursor["older"] = {"end": _iso(older.end), "last": older.last}
            fields += ["older_share", "older_range"]
        report.save(update_fields=fields)
    return report


def run_chunk(
    report: ReconciliationReport,
    *,
    client: ReverbClient | None = None,
    max_requests: int | None = None,
    max_seconds: float | None = None,
    notify: bool = True,
) -> bool:
    """One chunk of the night (a task's worth): True when the report is finished (and its summary mailed,
    once). Raises Busy when another chunk holds the report."""
    account = report.account
    if not account.enabled:
        raise AccountDisabled(f"account {account.name!r} is disabled; it is never reconciled")
    report = claim(report)
    chunk = Chunk(
        report,
        client or account.client(),
        max_requests or settings.RECONCILE_CHUNK_REQUESTS,
        max_seconds or settings.RECONCILE_CHUNK_SECONDS,
        token=report.chunk_token,
    )
    done = chunk.run()
    if done:
        finish_report(report, chunk.cur)
    ReconciliationReport.objects.filter(pk=report.pk, chunk_token=report.chunk_token).update(
        chunk_token="", chunks=models.F("chunks") + 1
    )
    report.refresh_from_db()
    if done and notify:
        send_summary(report)
    return done


STOPPED = "stopped without finishing"
MAX_STOPS = 5  # chunks that die (a killed worker) before the night is given up as failed


def claim(report: ReconciliationReport) -> ReconciliationReport:
    """Hold the report for one chunk. A token left by a chunk that saved nothing for `stale_after()` is
    a chunk that died (a killed worker): the takeover is noted in the report's log."""
    now = timezone.now()
    stale = now - stale_after()
    token = uuid.uuid4().hex
    current = ReconciliationReport.objects.get(pk=report.pk)
    if current.state != State.RUNNING:
        raise Busy(f"report {report.pk} is {current.state}")
    free = Q(chunk_token="") | Q(last_chunk_at__lt=stale) | Q(last_chunk_at__isnull=True)
    taken = ReconciliationReport.objects.filter(free, pk=report.pk, chunk_token=current.chunk_token)
    update: dict[str, Any] = {"chunk_token": token, "last_chunk_at": now}
    stalled = current.chunk_token and current.last_chunk_at and current.last_chunk_at < stale
    if stalled and current.log.count(STOPPED) >= MAX_STOPS:  # it kills its worker every time: give up
        errors = [*current.cursor.get("errors", []), f"chunks {STOPPED} {MAX_STOPS + 1} times"]
        if taken.update(chunk_token=token):
            current.chunk_token = token
            finish_report(current, {**current.cursor, "errors": errors})
            send_summary(current)
        raise Busy(f"report {report.pk} failed: {errors[-1]}")
    if current.chunk_token:
        note = (
            f"{now:%Y-%m-%d %H:%M:%S} chunk {current.chunks + 1} {STOPPED} (last page saved "
            f"{current.last_chunk_at:%H:%M:%S}); resumed where it stopped.\n"
        )
        update["log"] = Concat(models.F("log"), Value(note))
    if not taken.update(**update):
        raise Busy(f"another chunk of report {report.pk} is running")
    return ReconciliationReport.objects.get(pk=report.pk)


def finish_report(report: ReconciliationReport, cur: dict[str, Any]) -> None:
    """The last chunk: state, the rolling sweep's new position, the seen keys dropped."""
    from backoffice.models import HistorySweep

    errors = cur.get("errors", [])
    report.error = "\n".join(errors)[:5000]
    report.state = _state(report, failed=bool(errors))
    report.finished_at = timezone.now()
    sweep, _ = HistorySweep.objects.get_or_create(account=report.account)
    older = cur.get("older")
    if report.state != State.FAILED and (older or cur.get("all_history")):
        if cur.get("all_history") or older["last"]:
            sweep.position, sweep.nights, sweep.started_at = None, 0, None
            sweep.covered_at = report.started_at
        else:
            sweep.position = _when(older["end"])
            sweep.started_at = sweep.started_at or report.started_at
            sweep.nights += 1
        sweep.save()
    report.history_covered_at = sweep.covered_at
    report.save(update_fields=["counts", "error", "state", "finished_at", "history_covered_at"])
    ReconciliationSeen.objects.filter(report=report).delete()


def reconcile_account(
    account: ReverbAccount,
    *,
    client: ReverbClient | None = None,
    report: ReconciliationReport | None = None,
    resources: Sequence[str] | None = None,
    notify: bool = True,
    all_history: bool = False,
) -> ReconciliationReport:
    """The whole night now, chunk after chunk in this process (the command, tests); the workers run the
    same chunks one task each (backoffice/background/tasks.py reconcile_task). Pass `report` to resume
    one; resources already in its counts when it has no plan yet are not done again."""
    if not account.enabled:
        raise AccountDisabled(f"account {account.name!r} is disabled; it is never reconciled")
    report = start_report(account, report, resources=resources, all_history=all_history)
    client = client or account.client()
    while not run_chunk(report, client=client, notify=notify):
        report.refresh_from_db()
    report.refresh_from_db()
    return report


def _counts(run: SyncRun, recorder: Recorder) -> dict[str, int]:
    tally = recorder.tally(run.resource)
    counts = {
        "checked": run.fetched,
        "created": run.created,
        "updated": run.updated,
        "missing": run.missing,
        "conflicts": tally.conflicts,
        "failures": run.failed + (1 if run.status == SyncRun.Status.FAILED else 0),
    }
    return counts


def _record_missing_and_failures(recorder: Recorder, account: ReverbAccount, run: SyncRun) -> None:
    report, name = recorder.report, run.resource
    findings: list[ReconciliationFinding] = []
    if run.missing:
        model = registry.get(name).model
        columns = [c for c in LABEL_FIELDS if c in {f.name for f in model._meta.concrete_fields}]
        gone = model.objects.filter(account=account, missing=True, missing_since__gte=run.started_at)
        for row in gone.values("reverb_id", *columns)[:MAX_FINDINGS_PER_RESOURCE]:
            findings.append(
                ReconciliationFinding(
                    report=report,
                    resource=name,
                    object_key=row["reverb_id"],
                    object_label=label_of(row),
                    field="missing",
                    ours="no",
                    theirs="yes",
                    action=Action.MARKED_MISSING,
                    reason="Not returned by a complete scan of Reverb; marked missing (kept, not deleted).",
                )
            )
    failed = SyncLogEntry.objects.filter(run=run, status=SyncLogEntry.Status.FAILED)
    for entry in failed.values("reverb_id", "sku", "message")[:MAX_FINDINGS_PER_RESOURCE]:
        findings.append(
            ReconciliationFinding(
                report=report,
                resource=name,
                object_key=entry["reverb_id"],
                object_label=entry["sku"][:255],
                action=Action.FAILED,
                reason=entry["message"],
            )
        )
    if run.status == SyncRun.Status.FAILED:
        findings.append(
            ReconciliationFinding(
                report=report,
                resource=name,
                object_key="",
                action=Action.FAILED,
                reason=f"The complete scan did not finish, so nothing was marked missing: {run.error}",
            )
        )
    recorder.add(name, findings)
    unlisted = recorder.tally(name).unlisted
    if unlisted:
        report.counts[name]["unlisted"] = unlisted


def _state(report: ReconciliationReport, *, failed: bool) -> str:
    totals = {name: sum(c.get(name, 0) for c in report.counts.values()) for name in COUNT_NAMES}
    if failed:
        return State.FAILED
    if totals["conflicts"] or totals["failures"]:
        return State.NEEDS_ATTENTION
    if totals["created"] or totals["updated"] or totals["missing"]:
        return State.REPAIRED
    return State.CLEAN


# ---- the summary email ------------------------------------------------------------------------------


# Who looks after a shop's mirror and resolves what is left for a person: its Managers (and superusers).
SUMMARY_PERM = "backoffice.change_reconciliationreport"


def summary_text(report: ReconciliationReport, *, operational: bool = False) -> str:
    """The summary: counts, errors, what needs a person (with buyers' and listings' names) and the link.
    `operational`: for the install's operators (ADMIN_EMAILS), who need not work for the shop: counts,
    errors and the link only, no finding's names."""
    lines = [
        f"Reconciliation of {report.account.name}: {report.get_state_display()}.",
        f"Started {report.started_at:%Y-%m-%d %H:%M} UTC, in {report.chunks} chunk(s).",
    ]
    if report.older_share is not None:
        covered = f"{report.history_covered_at:%Y-%m-%d}" if report.history_covered_at else "not yet"
        lines.append(
            f"Older history: {100 * report.older_share:.0f}% checked this night ({report.older_range}); "
            f"all of it last covered: {covered}."
        )
    lines += [
        "",
        f"{'resource':<20} " + " ".join(f"{n:>9}" for n in COUNT_NAMES),
    ]
    for resource, counts in report.counts.items():
        lines.append(f"{resource:<20} " + " ".join(f"{counts.get(n, 0):>9}" for n in COUNT_NAMES))
    if report.error:
        lines += ["", "Errors:", report.error]
    needing = report.findings.filter(action__in=[Action.LEFT_FOR_PERSON, Action.FAILED])
    shown = [] if operational else list(needing[:50])
    if operational and needing.exists():
        lines += ["", f"Needs a person: {needing.count()} finding(s), listed in the report."]
    if shown:
        lines += ["", "Needs a person:"]
        lines += [
            f"- {f.resource} {f.object_key} {f.object_label} {f.field}: {f.reason}".replace("  ", " ")
            for f in shown
        ]
    base = settings.SITE_URL.rstrip("/")
    path = reverse("admin:backoffice_reconciliationreport_change", args=[report.pk])
    lines += ["", f"The full report: {base}{path}"]
    return "\n".join(lines)


def send_summary(report: ReconciliationReport) -> bool:
    """Email the summary when a person is needed (conflicts, failures) or the run failed; records it."""
    if report.emailed or report.state not in (State.NEEDS_ATTENTION, State.FAILED):
        return False
    people = emails_of(report.account, perm=SUMMARY_PERM)
    operators = sorted(set(emails_of(report.account, operators=True, perm=SUMMARY_PERM)) - set(people))
    if not people and not operators:
        log.warning("reconciliation %s needs a person but no one has an email (ADMINS, Manager)", report.pk)
        return False
    if not ReconciliationReport.objects.filter(pk=report.pk, emailed=False).update(emailed=True):
        return False  # another chunk's finish sent it: once, even if the mail then fails
    report.emailed = True
    subject = f"Reconciliation of {report.account.name}: {report.get_state_display().lower()}"
    if people:
        send_mail(subject, summary_text(report), None, people)
    if operators:
        send_mail(subject, summary_text(report, operational=True), None, operators)
    return True


def summary_line(report: ReconciliationReport) -> str:
    totals = {name: sum(c.get(name, 0) for c in report.counts.values()) for name in COUNT_NAMES}
    numbers = " ".join(f"{name}={value}" for name, value in totals.items())
    return f"{report.account.name}: {report.get_state_display()} ({numbers})"
