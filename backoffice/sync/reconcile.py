"""The nightly reconciliation (DESIGN.md sections 4 and 7): a complete pass over every resource of an
account that repairs the mirror, and a report of what it found.

Each top-level resource is pulled with `sync_resource(full=True)`, so the repair goes through the one write
path (`upsert_page`) and rows absent from the complete scan are marked missing. A `PageObserver` watches
each page: before the upsert it reads the page's existing promoted columns (one query per page), after it
diffs only the rows the engine created or changed and writes their findings (one bulk insert per page).
Rows marked missing and records that failed come from the run's own bookkeeping afterwards.

A remote change that meets a local pending edit cannot be decided here: resources register conflict
checkers (`register_conflict_checker`, from each app's AppConfig.ready()), and what they return is "left
for a person".

The report is saved after every resource, so a worker killed half-way leaves a report that a retry of the
same task (same report id) completes, skipping the resources already done.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import models
from django.urls import reverse
from django.utils import timezone

from backoffice.models import ReconciliationFinding, ReconciliationReport, SyncLogEntry, SyncRun
from backoffice.sync import registry
from backoffice.sync.engine import PageResult, Resource, Row
from backoffice.sync.runner import AccountDisabled, sync_resource

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
        for name in change.fields:
            ours, theirs = show(change.before[name]), show(change.after[name])
            conflict = conflicts.get((change.key, name))
            if conflict is not None:
                out.append(
                    finding(
                        field=name,
                        ours=show(conflict.ours),
                        theirs=show(conflict.theirs),
                        action=Action.LEFT_FOR_PERSON,
                        reason=conflict.reason,
                    )
                )
            else:
                out.append(
                    finding(
                        field=name,
                        ours=ours,
                        theirs=theirs,
                        action=Action.REPAIRED,
                        reason="Updated from Reverb.",
                    )
                )
        for (key, name), conflict in conflicts.items():  # conflicts on fields the mirror does not show
            if key == change.key and name not in change.fields:
                out.append(
                    finding(
                        field=name,
                        ours=show(conflict.ours),
                        theirs=show(conflict.theirs),
                        action=Action.LEFT_FOR_PERSON,
                        reason=conflict.reason,
                    )
                )
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


# ---- the run ----------------------------------------------------------------------------------------


def reconcile_account(
    account: ReverbAccount,
    *,
    client: ReverbClient | None = None,
    report: ReconciliationReport | None = None,
    resources: Sequence[str] | None = None,
    notify: bool = True,
) -> ReconciliationReport:
    """Reconcile every (or the named) resource now; returns the finished report. Pass `report` to resume a
    run that was interrupted: resources already in its counts are not done again."""
    if not account.enabled:
        raise AccountDisabled(f"account {account.name!r} is disabled; it is never reconciled")
    if report is None:
        report = ReconciliationReport.objects.create(account=account, started_at=timezone.now())
    client = client or account.client()
    recorder = Recorder(report)
    names = [n for n in registry.ORDER if resources is None or n in resources]
    errors: list[str] = []
    try:
        for name in names:
            if name in report.counts:
                continue
            run = sync_resource(account, name, full=True, client=client, observer=recorder)
            for one in [run, *getattr(run, "children", [])]:
                report.counts[one.resource] = _counts(one, recorder)
                _record_missing_and_failures(recorder, account, one)
                if one.error and one.status == SyncRun.Status.FAILED and one is run:
                    errors.append(f"{one.resource}: {one.error}")
            report.save(update_fields=["counts"])
    except Exception as exc:  # a bug, not a Reverb failure (those end in the run): keep it visible
        log.exception("reconciliation of %s failed", account)
        errors.append(f"{type(exc).__name__}: {exc}")
    report.error = "\n".join(errors)[:5000]
    report.state = _state(report, failed=bool(errors))
    report.finished_at = timezone.now()
    report.save(update_fields=["counts", "error", "state", "finished_at"])
    if notify:
        send_summary(report)
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


def recipients(account: ReverbAccount) -> list[str]:
    """ADMINS and the active users of the Manager group who have an email address."""
    from backoffice.roles import MANAGER

    User = get_user_model()
    managers = User.objects.filter(is_active=True, groups__name=MANAGER).exclude(email="")
    found = [email for _, email in settings.ADMINS] + list(managers.values_list("email", flat=True))
    return sorted(set(found))


def summary_text(report: ReconciliationReport) -> str:
    lines = [
        f"Reconciliation of {report.account.name}: {report.get_state_display()}.",
        f"Started {report.started_at:%Y-%m-%d %H:%M} UTC.",
        "",
        f"{'resource':<20} " + " ".join(f"{n:>9}" for n in COUNT_NAMES),
    ]
    for resource, counts in report.counts.items():
        lines.append(f"{resource:<20} " + " ".join(f"{counts.get(n, 0):>9}" for n in COUNT_NAMES))
    if report.error:
        lines += ["", "Errors:", report.error]
    needing = report.findings.filter(action__in=[Action.LEFT_FOR_PERSON, Action.FAILED])
    shown = list(needing[:50])
    if shown:
        lines += ["", "Needs a person:"]
        lines += [
            f"- {f.resource} {f.object_key} {f.object_label} {f.field}: {f.reason}".replace("  ", " ")
            for f in shown
        ]
    base = getattr(settings, "BACKOFFICE_URL", "").rstrip("/")
    path = reverse("admin:backoffice_reconciliationreport_change", args=[report.pk])
    lines += ["", f"The full report: {base}{path}"]
    return "\n".join(lines)


def send_summary(report: ReconciliationReport) -> bool:
    """Email the summary when a person is needed (conflicts, failures) or the run failed; records it."""
    if report.emailed or report.state not in (State.NEEDS_ATTENTION, State.FAILED):
        return False
    to = recipients(report.account)
    if not to:
        log.warning("reconciliation %s needs a person but no one has an email (ADMINS, Manager)", report.pk)
        return False
    subject = f"Reconciliation of {report.account.name}: {report.get_state_display().lower()}"
    send_mail(subject, summary_text(report), None, to)
    ReconciliationReport.objects.filter(pk=report.pk).update(emailed=True)
    report.emailed = True
    return True


def summary_line(report: ReconciliationReport) -> str:
    totals = {name: sum(c.get(name, 0) for c in report.counts.values()) for name in COUNT_NAMES}
    numbers = " ".join(f"{name}={value}" for name, value in totals.items())
    return f"{report.account.name}: {report.get_state_display()} ({numbers})"
