"""A first pull in the order a shop works (issue 28): what has a deadline first, then what is live, then
history newest first, in chunks that share the account's budget. The same order after a long outage.

At Reverb's pace (about a request a second) a whole first pull of a big shop takes hours; read in registry
order, the shipping queue would be complete only after every listing and order. So:

- the plan (`plan_steps`, made when the backfill starts): every resource's `first_work` walks
  (engine.Walk, declared in each app's sync.py), ordered by phase: TODAY (the shipping queue, open refund
  requests, active offers, unread conversations), WAITING (unpaid orders), LIVE (live listings); then, on
  a first pull only, each resource's whole collection, newest first, through the nightly reconciliation's
  streams (reconcile.streams: the same endpoints, continued at a kept next href), or pulled whole where
  the night has none. A resource whose walk is `whole` (active offers) has no history step.
- chunks (`run_chunk`; backoffice/background/tasks.py `backfill_task` runs one and queues the next): at most
  BACKFILL_CHUNK_REQUESTS requests and BACKFILL_CHUNK_SECONDS seconds, so a worker is never held for hours
  and the 5-minute pulls, staff actions and other accounts' work interleave. Each page lands through the
  one write path (`land_page`) with the step's progress in one transaction: a chunk killed anywhere resumes
  after the last page that landed. The backfill paces itself at BACKFILL_SHARE of the account's rate
  (`SharePace`), so the shared bucket keeps refilling for everyone else.
- within a phase every step's first page is read before any step's second one: each step's size (its first
  page's total) is known early, so the time left (`progress`) is counted, not guessed.
- a first pull's incremental pulls start at the backfill's start (watermark.since_for), so the 5-minute
  pulls run beside it from the first minute, cheaply; after an outage (a resource's last success older than
  REVERB_CATCH_UP_AFTER_HOURS) the deadline walks run first and the stale resources' own pulls, which are
  the catch-up, wait for them (`held`).

Its chunk runs are slices (full=False, since=None): they never move a watermark (watermark.last_success).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice.models import Backfill, SyncRun

from . import registry
from .engine import HISTORY, LIVE, TODAY, WAITING, Resource
from .runner import AccountDisabled, _finish, _pull_children, _relink, land_page, sync_resource
from .watermark import last_success

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount
    from backoffice.reverb.client import ReverbClient

log = logging.getLogger(__name__)

PHASES = {TODAY: "today's work", WAITING: "waiting on buyers", LIVE: "live listings", HISTORY: "history"}
MAX_STEP_FAILURES = 3  # a step that fails this many chunks in a row is given up (noted); the rest goes on


# ---- the plan -----------------------------------------------------------------------------------------


def _step(resource: str, label: str, phase: int, kind: str, index: int) -> dict[str, Any]:
    return {
        "resource": resource,
        "label": label,
        "phase": phase,
        "kind": kind,  # "walk": first_work[index]; "stream": reconcile.streams()[resource][index]; "whole"
        "index": index,
        "opened": False,
        "href": None,
        "done": False,
        "pages": 0,
        "total_pages": None,
        "total": None,  # the list's rows, when its first page says
        "requests": 0,
        "rows": 0,
        "pending": [],  # parents whose children are still to fetch (a page landed, its children not yet)
        "failures": 0,
        "error": "",
    }


def plan_steps(kind: str, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The steps, by phase then registry order. A catch-up reads only the deadline walks of `names`."""
    from .reconcile import streams

    catch_up = kind == Backfill.Kind.CATCH_UP
    chosen = [n for n in registry.order() if names is None or n in names]
    steps = []
    for name in chosen:
        for index, walk in enumerate(registry.get(name).first_work):
            if not catch_up or walk.phase <= WAITING:
                steps.append(_step(name, walk.label, walk.phase, "walk", index))
    if not catch_up:
        known = streams()
        for name in chosen:
            if any(walk.whole for walk in registry.get(name).first_work):
                continue
            for index, _stream in enumerate(known.get(name, ())):
                label = name if len(known[name]) == 1 else f"{name} ({index + 1} of {len(known[name])})"
                steps.append(_step(name, f"{label}, newest first", HISTORY, "stream", index))
            if name not in known:
                steps.append(_step(name, name, HISTORY, "whole", 0))
    return sorted(steps, key=lambda s: s["phase"])  # stable: registry order within a phase


def _walker(step: Mapping[str, Any]) -> tuple[Callable[[ReverbClient], Iterable[Any]], str, Callable]:
    """(open(client) -> pages, the page's list key, rows(items) -> payloads) of a walk or stream step."""
    if step["kind"] == "walk":
        walk = registry.get(step["resource"]).first_work[step["index"]]
        return walk.open, walk.key, walk.rows
    from .reconcile import streams

    stream = streams()[step["resource"]][step["index"]]
    return (lambda client: stream.open(client, None, None)), stream.key, stream.rows


# ---- starting -----------------------------------------------------------------------------------------


def start(
    account: ReverbAccount, kind: str = Backfill.Kind.FIRST, names: Sequence[str] | None = None
) -> Backfill:
    """The account's backfill (re)started with a fresh plan; the caller queues its first chunk."""
    backfill, _ = Backfill.objects.update_or_create(account=account, defaults=_fresh(kind, names))
    return backfill


def _fresh(kind: str, names: Sequence[str] | None = None) -> dict[str, Any]:
    return {
        "kind": kind,
        "state": Backfill.State.RUNNING,
        "started_at": timezone.now(),
        "today_done_at": None,
        "finished_at": None,
        "last_chunk_at": None,
        "steps": plan_steps(kind, names),
        "held": sorted(set(names or ())) if kind == Backfill.Kind.CATCH_UP else [],
        "runs": [],
        "requests": 0,
        "chunks": 0,
        "error": "",
    }


def stale_resources(
    account: ReverbAccount, names: Sequence[str], now: datetime, caught_up: datetime | None = None
) -> list[str]:
    """Of `names`, the resources whose last successful pull is older than REVERB_CATCH_UP_AFTER_HOURS, and
    older than the last backfill (`caught_up`: that outage had its deadline work read first already)."""
    limit = now - timedelta(hours=settings.REVERB_CATCH_UP_AFTER_HOURS)
    stale = []
    for name in names:
        run = last_success(account.pk, name)
        if run is not None and run.started_at < limit and (caught_up is None or run.started_at > caught_up):
            stale.append(name)
    return stale


def needed(
    account: ReverbAccount, names: Sequence[str], now: datetime | None = None
) -> tuple[Backfill | None, bool]:
    """Called before an account's scheduled pull of `names` (and when an account is added): starts the
    account's first backfill (an account never pulled) or a catch-up (some of `names` last pulled before the
    outage threshold) when one is due. (the account's running backfill or None, whether it was started now:
    the caller then queues its first chunk)."""
    now = now or timezone.now()
    backfill = Backfill.objects.filter(account=account).first()
    if backfill is not None and backfill.state == Backfill.State.RUNNING:
        return backfill, False
    if backfill is None and not SyncRun.objects.filter(account=account).exists():
        # Two schedules may fire for a new account at once: one of them creates it, the other finds it.
        return Backfill.objects.get_or_create(account=account, defaults=_fresh(Backfill.Kind.FIRST))
    stale = stale_resources(account, names, now, backfill.started_at if backfill else None)
    if stale and plan_steps(Backfill.Kind.CATCH_UP, stale):  # resources with deadline walks among them
        return start(account, Backfill.Kind.CATCH_UP, stale), True
    return None, False


def stalled(backfill: Backfill, now: datetime | None = None) -> bool:
    """No chunk has saved a page for the task timeout (or none ever started): its chain of tasks broke."""
    from backoffice.background.queue import lease_expiry

    if backfill.state != Backfill.State.RUNNING:
        return False
    last = backfill.last_chunk_at or backfill.started_at
    return last < (now or timezone.now()) - lease_expiry()


def held(account: ReverbAccount) -> set[str]:
    """Resources whose own pulls wait for the account's running catch-up."""
    row = Backfill.objects.filter(account=account, state=Backfill.State.RUNNING).values_list(
        "held", flat=True
    )
    return set(row.first() or ())


def running_runs(account: ReverbAccount) -> list[int]:
    """The sync runs of the account's running chunk (they do not keep the 5-minute pulls from starting)."""
    row = Backfill.objects.filter(account=account, state=Backfill.State.RUNNING).values_list(
        "runs", flat=True
    )
    return list(row.first() or ())


# ---- a chunk ------------------------------------------------------------------------------------------


def next_step(steps: Sequence[Mapping[str, Any]]) -> int | None:
    """The step to read a page of: in the earliest unfinished phase, a step not opened yet, else the first
    unfinished one."""
    pending = [i for i, step in enumerate(steps) if not step["done"]]
    if not pending:
        return None
    phase = steps[pending[0]]["phase"]
    same = [i for i in pending if steps[i]["phase"] == phase]
    unopened = [i for i in same if not steps[i]["opened"] and steps[i]["kind"] != "whole"]
    return unopened[0] if unopened else same[0]


def pace_client(account: ReverbAccount) -> ReverbClient:
    """The account's client on the shared budget, spacing its requests at BACKFILL_SHARE of the rate."""
    from backoffice.background.ratebudget import SharePace, account_rate_limiter

    limiter = SharePace(account_rate_limiter(), settings.REVERB_RATE_PER_SECOND, settings.BACKFILL_SHARE)
    return account.client(rate_limiter=limiter)


@dataclass
class Chunk:
    backfill: Backfill
    client: ReverbClient
    max_requests: int
    max_seconds: float

    def __post_init__(self) -> None:
        self.account = self.backfill.account
        self.started = time.perf_counter()
        self.requests_at_start = self.client.request_count
        self.runs: dict[str, SyncRun] = {}
        self.child_runs: dict[str, SyncRun] = {}
        self.run_requests: dict[str, int] = {}

    def room(self) -> bool:
        used = self.client.request_count - self.requests_at_start
        return used < self.max_requests and time.perf_counter() - self.started < self.max_seconds

    def run_of(self, name: str) -> SyncRun:
        if name not in self.runs:
            self.runs[name] = SyncRun.objects.create(
                account=self.account, resource=name, full=False, started_at=timezone.now()
            )
            self.backfill.runs = [run.pk for run in self.runs.values()]
            self.backfill.save(update_fields=["runs"])
        return self.runs[name]

    def save(self) -> None:
        backfill = self.backfill
        backfill.last_chunk_at = timezone.now()
        today = [s for s in backfill.steps if s["phase"] == TODAY]
        if backfill.today_done_at is None and all(s["done"] for s in today):
            backfill.today_done_at = backfill.last_chunk_at
        backfill.save(update_fields=["steps", "requests", "last_chunk_at", "today_done_at"])

    def run(self) -> bool:
        """Pages until the plan is done (True) or the chunk's budget is spent (False). The chunk also ends
        when it completes today's work, so its runs close and what it wrote is linked at once (the next
        chunk goes on with the rest)."""
        today_was_done = self.backfill.today_done_at is not None
        while True:
            if not today_was_done and self.backfill.today_done_at is not None:
                return next_step(self.backfill.steps) is None
            index = next_step(self.backfill.steps)
            if index is None:
                return True
            step = self.backfill.steps[index]
            if step["kind"] == "whole" and self.client.request_count > self.requests_at_start:
                return False  # a resource pulled whole gets a chunk of its own
            if not self.room():
                return False
            before, as_it_was = self.client.request_count, copy.deepcopy(step)
            try:
                if step["kind"] == "whole":
                    self.whole(step)
                else:
                    self.page(step)
            except AccountDisabled:
                raise
            except Exception as exc:  # a failed request or a bug: retried next chunk, given up after a few
                log.warning("backfill step %s of %s failed", step["label"], self.account, exc_info=True)
                step.clear()
                step.update(as_it_was)  # what a rolled-back page had moved on is not kept
                step["failures"] += 1
                step["error"] = f"{type(exc).__name__}: {exc}"[:500]
                if step["failures"] >= MAX_STEP_FAILURES:
                    step["done"] = True
                self.count(step, before)
                return False
            step["failures"] = 0
            self.count(step, before)

    def count(self, step: dict[str, Any], before: int) -> None:
        """The requests a step just spent (its page and the page's children), saved with the progress."""
        spent = self.client.request_count - before
        step["requests"] += spent
        self.backfill.requests += spent
        self.run_requests[step["resource"]] = self.run_requests.get(step["resource"], 0) + spent
        self.save()

    def page(self, step: dict[str, Any]) -> None:
        """One page of a walk (and the children of what it created or changed)."""
        resource = registry.get(step["resource"])
        if step["pending"]:
            self.children(resource, step)
            return
        opener, key, rows = _walker(step)
        pages = self.client.continue_pages(step["href"], key=key) if step["opened"] else opener(self.client)
        page = next(iter(pages))
        payloads = rows(page.items)
        following = ((page.data.get("_links") or {}).get("next") or {}).get("href")
        run = self.run_of(resource.name)
        with transaction.atomic():
            outcome = land_page(resource, self.account, run, payloads)
            if step["total_pages"] is None:
                step["total_pages"] = pages_of(page.data, len(page.items))
                step["total"] = page.total
            step.update(
                opened=True, href=following, pages=step["pages"] + 1, rows=step["rows"] + len(payloads)
            )
            step["pending"] = list(outcome.changed) if resource.children else []
            step["done"] = not following and not step["pending"]
            self.save()
        if step["pending"]:  # outside the page's transaction: HTTP requests never run inside one
            self.children(resource, step)

    def children(self, resource: Resource, step: dict[str, Any]) -> None:
        """The child collections of the parents the step's last page created or changed."""
        parents = [p for p in step["pending"] if isinstance(p, Mapping)]
        _pull_children(resource, self.account, self.client, parents, self.child_runs)
        step["pending"] = []
        step["done"] = step["opened"] and not step["href"]
        self.save()

    def whole(self, step: dict[str, Any]) -> None:
        """A resource with no stream to continue: one full pull, in a chunk of its own."""
        run = sync_resource(self.account, step["resource"], full=True, client=self.client)
        if run.error:
            raise RuntimeError(run.error)
        step.update(opened=True, done=True, pages=run.pages, total_pages=run.pages, rows=run.fetched)
        self.save()

    def close(self, error: str = "") -> None:
        """Finish the chunk's runs (their counts are on them) and link what they wrote."""
        for name, run in self.runs.items():
            _finish(run, self.run_requests.get(name, 0), self.started, error)
            if run.created or run.updated:
                _relink(registry.get(name), self.account)
        for name, run in self.child_runs.items():
            _finish(run, run.requests, self.started, error)
            if run.created or run.updated:
                _relink(registry.get(name), self.account)
        self.backfill.runs = []
        self.backfill.save(update_fields=["runs"])


def pages_of(data: Mapping[str, Any], items: int) -> int:
    """The pages a list has, from its first page: `total_pages`, else `total` over the page's size."""
    if isinstance(data.get("total_pages"), int):
        return max(data["total_pages"], 1)
    total, size = data.get("total"), data.get("per_page") or items
    if isinstance(total, int) and size:
        return max(math.ceil(total / int(size)), 1)
    return 1


def run_chunk(
    backfill: Backfill,
    client: ReverbClient | None = None,
    *,
    max_requests: int | None = None,
    max_seconds: float | None = None,
) -> bool:
    """One chunk of the backfill; True when the plan is done (the backfill is then finished)."""
    account = backfill.account
    if not account.enabled:
        raise AccountDisabled(f"account {account.name!r} is disabled; it is never synced")
    chunk = Chunk(
        backfill,
        client or pace_client(account),
        max_requests or settings.BACKFILL_CHUNK_REQUESTS,
        max_seconds or settings.BACKFILL_CHUNK_SECONDS,
    )
    backfill.chunks += 1
    backfill.save(update_fields=["chunks"])
    try:
        done = chunk.run()
    finally:
        chunk.close()
    if done:
        errors = [f"{s['label']}: {s['error']}" for s in backfill.steps if s["error"] and s["failures"]]
        backfill.state = Backfill.State.DONE
        backfill.finished_at = timezone.now()
        backfill.held = []
        backfill.error = "\n".join(errors)[:5000]
        backfill.save(update_fields=["state", "finished_at", "held", "error"])
    return done


# ---- progress -----------------------------------------------------------------------------------------


def requests_left(step: Mapping[str, Any]) -> int:
    """What a step still needs, at the requests per page it has spent so far (its children included); a
    step not opened yet counts its first page only (its size is not known until then)."""
    if step["done"]:
        return 0
    if not step["opened"] or step["total_pages"] is None:
        return 1
    per_page = max(step["requests"] / step["pages"], 1.0) if step["pages"] else 1.0
    return math.ceil(max(step["total_pages"] - step["pages"], 0) * per_page) + len(step["pending"])


@dataclass
class Progress:
    backfill: Backfill
    rate: float  # requests a second the backfill is paced at
    done: int
    left: int
    today_left: int
    sizes_known: bool  # every unfinished step's size is known (else the time left is at least this)
    phase: str  # the phase being read

    @property
    def today_done(self) -> bool:
        return self.backfill.today_done_at is not None

    @property
    def finished(self) -> bool:
        return self.backfill.state != Backfill.State.RUNNING

    @property
    def percent(self) -> int:
        total = self.done + self.left
        return 100 if not total else min(100, round(100 * self.done / total))

    @property
    def seconds_left(self) -> float:
        return self.left / self.rate

    @property
    def today_seconds_left(self) -> float:
        return self.today_left / self.rate

    @property
    def time_left(self) -> str:
        return about(self.seconds_left, self.sizes_known)

    @property
    def today_time_left(self) -> str:
        return about(self.today_seconds_left, self.sizes_known)

    def steps(self) -> list[dict[str, Any]]:
        return [
            {**s, "left": requests_left(s), "phase_name": PHASES[s["phase"]]} for s in self.backfill.steps
        ]


def progress(backfill: Backfill) -> Progress:
    """Requests spent and left (counted from each step's first page), and the time left at the rate the
    backfill is paced at (the account's rate x BACKFILL_SHARE)."""
    steps = backfill.steps
    left = sum(requests_left(s) for s in steps)
    today = sum(requests_left(s) for s in steps if s["phase"] == TODAY)
    known = all(s["done"] or (s["opened"] and s["total_pages"] is not None) for s in steps)
    index = next_step(steps)
    phase = PHASES[steps[index]["phase"]] if index is not None else "done"
    rate = settings.REVERB_RATE_PER_SECOND * min(max(settings.BACKFILL_SHARE, 0.01), 1.0)
    return Progress(backfill, rate, backfill.requests, left, today, known, phase)


def about(seconds: float, known: bool = True) -> str:
    """A time left as a person says it: "about 12 minutes", "about 3 h 20 min"."""
    prefix = "about" if known else "at least"
    minutes = math.ceil(seconds / 60)
    if seconds <= 0:
        return "nothing left"
    if minutes <= 1:
        return f"{prefix} a minute" if known else "at least a minute"
    if minutes < 120:
        return f"{prefix} {minutes} minutes"
    return f"{prefix} {minutes // 60} h {minutes % 60} min"
