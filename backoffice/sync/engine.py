"""The sync engine: write one API page of mapped payloads with a constant number of queries.

`upsert_page` is the only write path for pulled data (DESIGN.md sections 3-4). Per page it runs:
  1. one SELECT of the page's existing (key, hash, missing),
  2. one INSERT ... ON CONFLICT DO UPDATE for the new rows, and one for the changed rows per set of fields
     their payloads told (an update sets only the fields its payload told; a new row takes defaults for
     the rest); none when nothing is new or changed,
whatever the page size. On PostgreSQL each INSERT takes its rows as one binary array per column
(`_Plan`). Unchanged rows are not written at all, so a sync with nothing new writes nothing.
FK link columns are resolved in that same statement (a scalar subquery per row looks the related row up by
its Reverb key), so a new row is written once, not again per foreign key; an existing link is kept
(COALESCE), so a pull never clears or moves one. `link_related` still links rows whose related object
arrives later.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, connections, models, router
from django.db.models import Exists, OuterRef, Q, Subquery
from django.dispatch import Signal
from django.utils import timezone

# What a pulled resource is lives below the engine (resource.py), so the registry that lists them does not
# import the engine that reads them; the apps' sync modules name these here too.
from . import registry
from .resource import HISTORY as HISTORY
from .resource import LIVE as LIVE
from .resource import TODAY as TODAY
from .resource import UNCHANGED_PAGE as UNCHANGED_PAGE
from .resource import WAITING as WAITING
from .resource import ChildFetcher as ChildFetcher
from .resource import Fetcher as Fetcher
from .resource import Link, Row
from .resource import Mapper as Mapper
from .resource import Resource as Resource
from .resource import Walk as Walk

if TYPE_CHECKING:
    from backoffice.models import RemoteModel, ReverbAccount


class MappingError(ValueError):
    """A payload the mapper cannot read. `reason` names the field and what is wrong with it."""

    def __init__(self, reason: str, field_errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field_errors = dict(field_errors or {})


@dataclass
class PageResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_keys: list[str] = field(default_factory=list)
    # Rows a column of this database cannot hold (too long, out of range, a NUL...): not written, so the
    # rest of the page lands; (row, reason) for the caller to log.
    rejected: list[tuple[Row, str]] = field(default_factory=list)


def canonical_json(raw: Any) -> str:
    """Sorted keys, no spaces: orjson, or for what it refuses (a lone surrogate, an integer beyond 64 bits)
    the standard library, escaping what is not ASCII as it did before orjson."""
    try:
        return orjson.dumps(raw, default=str, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def payload_hash(raw: Any, canonical: str | None = None) -> str:
    """blake2b-128 of canonical JSON: the same payload always hashes the same, key order aside."""
    text = canonical_json(raw) if canonical is None else canonical
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _lift_sqlite_param_limit(alias: str) -> None:
    """Django 5.2 assumes SQLite's old 999-variable limit; SQLite >= 3.32 allows 32766. Read the real
    limit once per connection (Django 6.0 does this) so one page is one INSERT."""
    conn = connections[alias]
    if conn.vendor != "sqlite" or getattr(conn.features, "_limit_lifted", False):
        return
    conn.ensure_connection()
    conn.features.max_query_params = conn.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    conn.features._limit_lifted = True


# Sent by `upsert_page` before it writes (sender: the model; account; fields: the mapped fields of each new or
# changed row): a receiver may add columns derived from them (automation's ship-by), in place, so the row is
# written once with them; a column it adds is told like the mapper's own.
rows_to_write = Signal()
# Sent after `upsert_page` wrote rows (sender: the model; account, keys: the keys created or changed; fields:
# {key: the fields its payload told}, so a receiver can skip a page that concerns it without a query),
# inside the write's transaction: for local state derived from the mirror (automation's deadlines and rules).
rows_written = Signal()


def upsert_page(
    model: type[RemoteModel],
    account: ReverbAccount,
    rows: Sequence[Row],
    run: int | None = None,
    ahead: Mapping[str, Ahead] | None = None,
) -> PageResult:
    """Create new rows, update changed ones (or ones coming back from `missing`), skip unchanged ones.
    `run`: the sync run the page belongs to; within one, a page after a page of only new rows is taken
    for a first pull's and inserted first (`_insert_new_first`). `ahead`: key -> what `work_out_ahead`
    gave for that row on the runner's read-ahead thread; what it lacks is worked out here."""
    result = PageResult()
    if not rows:
        return result
    alias = router.db_for_write(model)
    _lift_sqlite_param_limit(alias)
    conn = connections[alias]
    latest, canonicals = _storable_rows(model, conn, rows, result, ahead or {})
    if not latest:
        return result
    now = timezone.now()
    told: dict[str, dict[str, Any]] = {}
    guess = (model, conn.alias, account.pk, run)
    if run is not None and conn.vendor == "postgresql" and _LAST_PAGE_NEW.get(guess, False):
        told = _insert_new_first(model, alias, account, now, latest, canonicals, result, ahead or {})
        latest = {key: row for key, row in latest.items() if key not in told}
    if latest:
        existing = _existing(model, conn, account.pk, list(latest))
        changed, new_keys = _changed_rows(latest, canonicals, existing, result, ahead or {})
        if changed:
            rows_to_write.send(sender=model, account=account, fields=[fields for _, fields, _, _ in changed])
            _write_changed(model, alias, account, now, changed, new_keys)
            told.update((key, fields) for key, fields, _, _ in changed)
    if run is not None:
        _remember_new_rows(guess, result)
    if told:
        rows_written.send(sender=model, account=account, keys=list(result.changed_keys), fields=told)
    return result


# (model, database, account, run) -> the run's last page was all new rows: a first pull. Then its next
# page is inserted first (PostgreSQL), skipping the look-up of rows that are not there yet. A run's first
# page always looks first, so a second pull of what is mirrored already sends no write at all.
_LAST_PAGE_NEW: dict[tuple[Any, str, int, int | None], bool] = {}
_NEW_PAGE_ROWS = 10  # fewer rows than this tell nothing either way


def _remember_new_rows(guess: tuple[Any, str, int, int | None], result: PageResult) -> None:
    seen = result.created + result.updated + result.unchanged
    if seen >= _NEW_PAGE_ROWS or result.updated or result.unchanged:
        if len(_LAST_PAGE_NEW) > 512:
            _LAST_PAGE_NEW.clear()
        _LAST_PAGE_NEW[guess] = result.created == seen


def _insert_new_first(
    model: type[RemoteModel],
    alias: str,
    account: ReverbAccount,
    now: datetime,
    latest: dict[str, Row],
    canonicals: dict[str, str],
    result: PageResult,
    ahead: Mapping[str, Ahead],
) -> dict[str, dict[str, Any]]:
    """A page of a first pull: every row inserted in one statement that leaves the ones already there
    alone (ON CONFLICT DO NOTHING RETURNING), instead of a look-up and then the insert. Returns the fields
    of the rows it created (counted into `result`); the caller takes the others the usual way, so their
    counts and their changes are exactly as without this."""
    writes = [
        (key, fields, canonicals[key], _digest(key, raw, canonicals[key], ahead))
        for key, fields, raw in latest.values()
    ]
    rows_to_write.send(sender=model, account=account, fields=[fields for _, fields, _, _ in writes])
    names = sorted({name for _, fields, _, _ in writes for name in fields})
    links = tuple(link for link in links_from(model) if link.key_field in names)
    created = _insert_on_conflict(model, alias, account.pk, now, names, writes, (), links, created_only=True)
    fields_of = {key: fields for key, fields, _, _ in writes if key in created}
    result.created += len(fields_of)
    result.changed_keys.extend(fields_of)
    return fields_of


_Write = tuple[str, dict[str, Any], str, str]  # (key, mapped fields, canonical JSON of raw, payload hash)


@dataclass(frozen=True, slots=True)
class Ahead:
    """What `upsert_page` works out for one row before it writes, worked out ahead (`work_out_ahead`)
    for these very fields: the runner does it on its read-ahead thread while this one writes."""

    fields: dict[str, Any]
    canonical: str
    digest: str
    unstorable: str | None


def work_out_ahead(model: type[RemoteModel], rows: Iterable[Row]) -> dict[str, Ahead]:
    """A page's rows (key, fields, raw) worked out ahead, by key (the last of a key twice). Pure: no query
    (the connection's vendor and limits only), so any thread may call it. A row whose work raises is left
    out: worked out, and raised, again when it lands."""
    conn = connections[router.db_for_write(model)]
    ahead: dict[str, Ahead] = {}
    for key, fields, raw in rows:
        try:
            canonical = canonical_json(raw)
            reason = unstorable(model, conn, key, fields, canonical)
            ahead[key] = Ahead(fields, canonical, payload_hash(raw, canonical), reason)
        except Exception:
            ahead.pop(key, None)
    return ahead


def _digest(key: str, raw: Any, canonical: str, ahead: Mapping[str, Ahead]) -> str:
    """The payload hash: worked out ahead for this very canonical JSON, or now."""
    row = ahead.get(key)
    return row.digest if row is not None and row.canonical is canonical else payload_hash(raw, canonical)


def _storable_rows(
    model: type[RemoteModel],
    conn: Any,
    rows: Sequence[Row],
    result: PageResult,
    ahead: Mapping[str, Ahead],
) -> tuple[dict[str, Row], dict[str, str]]:
    """The page's rows by key (a key twice in one page, pagination shifting under us: the last one wins)
    and their canonical JSON, without the ones this database cannot store (into `result.rejected`); both
    taken from `ahead` when worked out there for the same fields."""
    latest: dict[str, Row] = {}
    for row in rows:
        latest[row[0]] = row
    canonicals: dict[str, str] = {}
    for key, row in list(latest.items()):
        known = ahead.get(key)
        if known is not None and known.fields is row[1]:
            canonical, reason = known.canonical, known.unstorable
        else:
            canonical = canonical_json(row[2])
            reason = unstorable(model, conn, key, row[1], canonical)
        if reason:
            result.rejected.append((row, reason))
            del latest[key]
        else:
            canonicals[key] = canonical
    return latest, canonicals


def _changed_rows(
    latest: dict[str, Row],
    canonicals: dict[str, str],
    existing: dict[str, tuple[str, bool]],
    result: PageResult,
    ahead: Mapping[str, Ahead],
) -> tuple[list[_Write], set[str]]:
    """The rows to write (new, changed, or back from `missing`) and which of them are new; counted into
    `result`."""
    changed: list[_Write] = []
    new_keys: set[str] = set()
    for key, fields, raw in latest.values():
        canonical = canonicals[key]
        digest = _digest(key, raw, canonical, ahead)
        before = existing.get(key)
        if before is not None and before == (digest, False):
            result.unchanged += 1
            continue
        if before is None:
            result.created += 1
            new_keys.add(key)
        else:
            result.updated += 1
        result.changed_keys.append(key)
        changed.append((key, fields, canonical, digest))
    return changed, new_keys


def _write_changed(
    model: type[RemoteModel],
    alias: str,
    account: ReverbAccount,
    now: datetime,
    changed: list[_Write],
    new_keys: set[str],
) -> None:
    # New rows go in one statement: each takes defaults for what its payload did not tell. Should another
    # writer insert one of them first, the conflict updates only what every one of them told, and clears
    # the hash when that is less than some told, so the next run writes the rest.
    # Changed rows are grouped by the fields their payload told: a key absent from a payload means "not
    # told", so an update writes only the fields present and a partial read never blanks a column
    # (API-NOTES 16.1).
    statements: dict[tuple[str, ...] | None, list[_Write]] = {}
    field_names: set[str] = set()
    shared: set[str] | None = None
    for write in changed:
        fields = write[1]
        field_names.update(fields)
        if write[0] in new_keys:
            shared = set(fields) if shared is None else shared & fields.keys()
            statements.setdefault(None, []).append(write)
        else:
            statements.setdefault(tuple(sorted(fields)), []).append(write)
    names = sorted(field_names)
    links = tuple(link for link in links_from(model) if link.key_field in field_names)
    for told, writes in statements.items():
        partial = False
        if told is None:
            told = tuple(sorted(shared or ()))
            partial = any(len(fields) != len(told) for _, fields, _, _ in writes)
        _insert_on_conflict(model, alias, account.pk, now, names, writes, told, links, partial)


def commit_without_flush(model: type[RemoteModel]) -> None:
    """Called first in a transaction that writes nothing but pulled mirror rows (and what derives from
    them): on PostgreSQL it commits without waiting for its WAL to reach the disk (synchronous_commit off
    for this transaction only; a page's commit cost more than its SELECT). Inside `pull_session` the
    whole session is so already, and this sends nothing.

    A crash can then lose the last fraction of a second of pages, never corrupt them: WAL is written in
    order, so whatever was committed after them (the run's end, its watermark) is lost with them, and the
    next run pulls them again. Anything that must outlive a crash (an action, its audit) is not written
    in such a transaction; inside an outer transaction this does nothing."""
    conn = connections[router.db_for_write(model)]
    if conn.vendor != "postgresql" or not conn.in_atomic_block or len(conn.atomic_blocks) > 1:
        return
    if getattr(conn, _SESSION_WITHOUT_FLUSH, False):
        return
    with conn.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


_SESSION_WITHOUT_FLUSH = "_backoffice_without_flush"
_LZ4: dict[str, bool] = {}  # alias -> this server compresses with lz4 (PostgreSQL >= 14 built with it)


def _pull_settings(conn: Any) -> dict[str, str]:
    values = {"synchronous_commit": "off"}
    if conn.alias not in _LZ4:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
            )
            row = cursor.fetchone()
        _LZ4[conn.alias] = bool(row and row[0])
    if _LZ4[conn.alias]:
        values["default_toast_compression"] = "lz4"
    return values


@contextmanager
def pull_session(model: type[RemoteModel]) -> Iterator[None]:
    """Around a pull that is not inside a transaction (`sync_resource`), on PostgreSQL, the session's
    settings for bulk writes until the block ends, then reset, in one statement each way:

    - synchronous_commit off: every commit skips the WAL flush, for the pull rather than per page. The
      same bargain as `commit_without_flush`, for the pull's bookkeeping too (its runs, its log, the
      link step): a crash of the database server loses at most its last fraction of a second, which
      the next run pulls again.
    - lz4 TOAST compression where the server has it: the payloads (`raw`, kilobytes each) were
      compressed with pglz, a seventh of PostgreSQL's time in a first sync; lz4 reads pglz's rows and
      its own alike, so a mirror holds both.

    Inside a transaction (an action's write-back) it does nothing, and a failure to reset closes the
    connection rather than hand the settings to the next task."""
    conn = connections[router.db_for_write(model)]
    if conn.vendor != "postgresql" or conn.in_atomic_block or getattr(conn, _SESSION_WITHOUT_FLUSH, False):
        yield
        return
    values = _pull_settings(conn)
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(["set_config(%s, %s, false)"] * len(values)),
            [value for pair in values.items() for value in pair],
        )
    setattr(conn, _SESSION_WITHOUT_FLUSH, True)
    try:
        yield
    finally:
        setattr(conn, _SESSION_WITHOUT_FLUSH, False)
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config(name, reset_val, false) FROM pg_settings WHERE name = ANY(%s)",
                    [list(values)],
                )
        except DatabaseError:
            conn.close()


_WITH_STATISTICS: set[tuple[str, str]] = set()


def ensure_statistics(model: type[RemoteModel]) -> None:
    """ANALYZE a PostgreSQL mirror table that has never been analyzed (checked once per process and table).

    Without statistics the planner takes `account = X` for one row, so the page's SELECT of existing
    keys walked the account's whole (account, reverb_id) index range and filtered it: every page of a
    first sync read all the rows before it, until autovacuum's first ANALYZE a minute or more later."""
    conn = connections[router.db_for_write(model)]
    table = model._meta.db_table
    if conn.vendor != "postgresql" or (conn.alias, table) in _WITH_STATISTICS:
        return
    with conn.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
        # -1: never vacuumed nor analyzed (PostgreSQL >= 14); 0: analyzed while empty, as rows were written
        if row is not None and row[0] <= 0:
            cursor.execute(f"ANALYZE {conn.ops.quote_name(table)}")
    _WITH_STATISTICS.add((conn.alias, table))


def _existing(
    model: type[RemoteModel], conn: Any, account_id: int, keys: list[str]
) -> dict[str, tuple[str, bool]]:
    """key -> (payload hash, missing) of the page's rows already mirrored: one SELECT, its SQL built once
    per (table, key count) rather than compiled by the ORM for every page. On PostgreSQL the keys go as
    one array (`= ANY`): fifty separate literals cost the planner ten times more than the lookup."""
    array = conn.vendor == "postgresql"
    cache_key = (model, conn.vendor, 0 if array else len(keys))
    sql = _EXISTING_SQL.get(cache_key)
    if sql is None:
        quote = conn.ops.quote_name
        among = "= ANY(%s)" if array else f"IN ({', '.join(['%s'] * len(keys))})"
        sql = _EXISTING_SQL[cache_key] = (
            f"SELECT {quote('reverb_id')}, {quote('payload_hash')}, {quote('missing')} "
            f"FROM {quote(model._meta.db_table)} "
            f"WHERE {quote('account_id')} = %s AND {quote('reverb_id')} {among}"
        )
    with conn.cursor() as cursor:
        cursor.execute(sql, [account_id, keys] if array else [account_id, *keys])
        return {key: (digest, bool(missing)) for key, digest, missing in cursor.fetchall()}


_EXISTING_SQL: dict[tuple[Any, ...], str] = {}


# A NUL escaped in canonical JSON (an even run of backslashes before it: not an escaped backslash).
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _json_has_nul(text: str) -> bool:
    """Whether canonical JSON holds a NUL character: a plain substring test first (the regex, which
    tells an escaped NUL from an escaped backslash followed by "u0000", costs far more per payload)."""
    return "\\u0000" in text and _JSON_NUL.search(text) is not None


Check = Callable[[Any], "str | None"]
_CHECKS: dict[tuple[Any, ...], Check | None] = {}


def unstorable(
    model: type[RemoteModel], conn: Any, key: str, fields: Mapping[str, Any], canonical: str
) -> str | None:
    """Why this database cannot store the row (the reason, naming the column), or None when it can.

    Checked before the write, so one bad value costs its record, not the page: text longer than the
    column (PostgreSQL refuses it; SQLite would keep it), a NUL character (PostgreSQL's text and jsonb
    take none), an integer outside the column's range on this database, a decimal with more whole digits
    than the column holds or not finite."""
    reason = _check(model, conn, "reverb_id")(key)
    if reason:
        return f"id: {reason}"
    texts = _text_columns(model, conn)
    for name, value in fields.items():
        if value is None:  # every column takes NULL or its default: nothing to check
            continue
        if type(value) is str and name in texts:  # the common case, without a call per field
            limit = texts[name]
            if "\x00" not in value and (not limit or len(value) <= limit):
                continue
        check = _check(model, conn, name)
        reason = check(value) if check is not None else None
        if reason:
            return f"{name}: {reason}"
    if _json_has_nul(canonical):
        return "raw: the payload contains a NUL character"
    return None


_TEXT_COLUMNS: dict[tuple[Any, ...], dict[str, int | None]] = {}


def _text_columns(model: type[RemoteModel], conn: Any) -> dict[str, int | None]:
    """name -> max_length (None: unlimited) of the model's text columns, whose `_column_check` is the
    NUL and length test `unstorable` runs inline."""
    cache_key = (model, conn.vendor)
    columns = _TEXT_COLUMNS.get(cache_key)
    if columns is None:
        columns = _TEXT_COLUMNS[cache_key] = {
            f.name: f.max_length if isinstance(f, models.CharField) else None
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField)
        }
    return columns


def _check(model: type[RemoteModel], conn: Any, name: str) -> Check | None:
    cache_key = (model, conn.vendor, name)
    if cache_key not in _CHECKS:
        _CHECKS[cache_key] = _column_check(model._meta.get_field(name), conn)
    return _CHECKS[cache_key]


def _column_check(column: models.Field, conn: Any) -> Check | None:
    for kinds, make_check in _COLUMN_CHECKS:
        if isinstance(column, kinds):
            return make_check(column, conn)
    return None


def _text_check(column: models.Field, conn: Any) -> Check:
    limit = column.max_length if isinstance(column, models.CharField) else None

    def check_text(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        if "\x00" in value:
            return "contains a NUL character"
        if limit and len(value) > limit:
            return f"{len(value)} characters, more than the column's {limit}"
        return None

    return check_text


def _integer_check(column: models.Field, conn: Any) -> Check:
    low, high = conn.ops.integer_field_range(column.get_internal_type())

    def check_integer(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{value} is outside the column's range {low}..{high}"
        return None

    return check_integer


def _decimal_check(column: models.Field, conn: Any) -> Check:
    whole_digits = column.max_digits - column.decimal_places
    step = Decimal(1).scaleb(-column.decimal_places)

    def check_decimal(value: Any) -> str | None:
        if not isinstance(value, Decimal):
            return None
        if not value.is_finite():
            return f"{value} is not a finite number"
        try:  # as the database will hold it: rounded to the column's decimal places
            stored = abs(value).quantize(step)
        except InvalidOperation:
            stored = abs(value)
        if stored >= 1 and stored.adjusted() + 1 > whole_digits:
            return f"{value} has more than the column's {whole_digits} whole digits"
        return None

    return check_decimal


def _json_check(column: models.Field, conn: Any) -> Check:
    def check_json(value: Any) -> str | None:
        return "contains a NUL character" if _json_has_nul(canonical_json(value)) else None

    return check_json


# Column kind -> its check's factory, first match wins; other columns (dates, bools) need no check.
_COLUMN_CHECKS: tuple[tuple[Any, Callable[[models.Field, Any], Check]], ...] = (
    (models.CharField | models.TextField, _text_check),
    (models.IntegerField, _integer_check),
    (models.DecimalField, _decimal_check),
    (models.JSONField, _json_check),
)


# Columns every upsert writes, in order, before the mapper's; only the first three are never updated.
_BASE_COLUMNS = (
    "account",
    "reverb_id",
    "first_synced_at",
    "raw",
    "payload_hash",
    "last_synced_at",
    "missing",
    "missing_since",
)
_PASS_THROUGH = (models.CharField, models.TextField, models.BooleanField, models.IntegerField)


@dataclass(frozen=True)
class _Plan:
    """Everything about one upsert statement that depends only on (model, mapper columns, row count).

    Two forms. VALUES (SQLite): `sql` is one INSERT ... VALUES (...), ... ON CONFLICT with the rows as
    parameters. ARRAYS (PostgreSQL): `sql` is INSERT ... SELECT ... FROM unnest(%b::type[], ...) ON
    CONFLICT with one binary array per column, bound server-side: one short statement and one round
    trip per page, where a statement with every value in it took a third of its write to plan and
    COPY through a stage table took four round trips."""

    sql: str
    prepare: tuple[Any, ...]  # per mapper column: None (pass through) or value -> parameter
    defaults: tuple[Any, ...]  # per mapper column: the value used when a row lacks that column
    local_values: tuple[Any, ...]  # insert-only local columns (never produced by a mapper): defaults
    arrays: bool = False  # the ARRAYS form: parameters are the local values, then one array per column


_PLANS: dict[tuple[Any, ...], _Plan] = {}


def _local_only_fields(model: type[RemoteModel], names: Sequence[str]) -> list[models.Field]:
    """NOT NULL columns with a default that neither the engine nor the mapper writes (local state such
    as pending edits): a new row gets their default on INSERT; an update never touches them."""
    written = {*_BASE_COLUMNS, *names}
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in written and not f.null and f.has_default()
    ]


def _adapter(field: models.Field, conn: Any) -> Callable[[Any], Any] | None:
    """value -> query parameter for one mapper column: None passes the value through (plain text, number
    and bool columns). Datetime and decimal columns get a shortcut on SQLite and PostgreSQL that gives
    exactly what the field's get_db_prep_save would (an aware datetime: as is on PostgreSQL, naive in the
    connection's zone as text on SQLite; a finite Decimal as is) and falls back to it for anything else;
    other fields use get_db_prep_save."""
    if isinstance(field, _PASS_THROUGH) and not field.is_relation:
        return None

    def prep(value: Any) -> Any:
        return field.get_db_prep_save(value, conn)

    if conn.vendor not in ("sqlite", "postgresql") or not conn.settings_dict.get("USE_TZ", settings.USE_TZ):
        return prep
    if type(field) is models.DateTimeField:
        return _prep_datetime(prep, conn.timezone if conn.vendor == "sqlite" else None)
    if type(field) is models.DecimalField:
        return _prep_decimal(prep)
    return prep


def _prep_datetime(prep: Callable[[Any], Any], zone: Any) -> Callable[[Any], Any]:
    """An aware datetime as is (zone None: PostgreSQL) or naive in `zone` as text (SQLite); else `prep`."""

    def prep_datetime(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is datetime and value.utcoffset() is not None:
            return value if zone is None else str(value.astimezone(zone).replace(tzinfo=None))
        return prep(value)

    return prep_datetime


def _prep_decimal(prep: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A finite Decimal (or None) as is; else `prep`."""

    def prep_decimal(value: Any) -> Any:
        if value is None or (type(value) is Decimal and value.is_finite()):
            return value
        return prep(value)

    return prep_decimal


def links_from(model: type[RemoteModel]) -> tuple[Link, ...]:
    """The links whose FK column lives on `model` (from the registered resources)."""
    return tuple(link for source, link in registry.links_touching(model) if source is model)


def _plan(
    model: type[RemoteModel],
    conn: Any,
    names: tuple[str, ...],
    count: int,
    told: tuple[str, ...],
    links: tuple[Link, ...] = (),
    partial: bool = False,
    created_only: bool = False,
) -> _Plan:
    """`names`: the mapper columns of the INSERT (absent ones take their default on a new row);
    `told`: those an existing row's UPDATE sets (the fields these payloads carried); `links`: FK columns
    filled from the related row with the Reverb key in the link's key field (in the VALUES form two
    parameters per row each, the account and that key; in the ARRAYS form read from the unnested row),
    kept as they were when already set; `partial`: the UPDATE sets fewer fields than some rows told, so
    it clears the payload hash instead of storing it."""
    arrays = conn.vendor == "postgresql"  # binary arrays: PostgreSQL with psycopg 3, the project's driver
    key = (model, conn.alias, conn.vendor, names, 0 if arrays else count, told, links, partial, created_only)
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    meta = model._meta
    fields = [meta.get_field(name) for name in (*_BASE_COLUMNS, *names)]
    local = _local_only_fields(model, names)
    quote = conn.ops.quote_name
    link_fields = [meta.get_field(link.field) for link in links]
    columns = ", ".join(quote(f.column) for f in (*fields, *local, *link_fields))
    conflict = _on_conflict(model, quote, fields, told, link_fields, partial)
    if created_only:
        key_columns = f"{quote('account_id')}, {quote('reverb_id')}"
        conflict = f"ON CONFLICT ({key_columns}) DO NOTHING RETURNING {quote('reverb_id')}"
    lookups = _link_lookups(quote, link_fields)
    insert = f"INSERT INTO {quote(meta.db_table)} ({columns})"
    if arrays:
        sql = f"{insert} {_select_from_arrays(model, conn, fields, local, links, lookups)} {conflict}"
    else:
        placeholders = ", ".join(["%s"] * (len(fields) + len(local)))
        placeholders += "".join(f", {lookup.format(account='%s', key='%s')}" for lookup in lookups)
        sql = f"{insert} VALUES {', '.join([f'({placeholders})'] * count)} {conflict}"
    mapper_fields = fields[len(_BASE_COLUMNS) :]
    plan = _Plan(
        sql=sql,
        prepare=tuple(_adapter(f, conn) for f in mapper_fields),
        defaults=tuple(f.get_default() for f in mapper_fields),
        local_values=tuple(f.get_db_prep_save(f.get_default(), conn) for f in local),
        arrays=arrays,
    )
    if len(_PLANS) > 512:  # bounded: a handful of resources times a few page sizes in practice
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def _on_conflict(
    model: type[RemoteModel],
    quote: Callable[[str], str],
    fields: list[models.Field],
    told: tuple[str, ...],
    link_fields: list[models.Field],
    partial: bool,
) -> str:
    """An existing row's UPDATE: the base columns and the told ones (the payload hash cleared when
    `partial`), each link kept when already set."""
    table = quote(model._meta.db_table)
    told_set = set(told)
    updated = list(fields[3 : len(_BASE_COLUMNS)]) + [
        f for f in fields[len(_BASE_COLUMNS) :] if f.name in told_set
    ]
    updates = ", ".join(
        [
            f"{quote(f.column)} = ''"
            if partial and f.name == "payload_hash"
            else f"{quote(f.column)} = EXCLUDED.{quote(f.column)}"
            for f in updated
        ]
        + [
            f"{quote(f.column)} = COALESCE({table}.{quote(f.column)}, EXCLUDED.{quote(f.column)})"
            for f in link_fields
        ]
    )
    return f"ON CONFLICT ({quote('account_id')}, {quote('reverb_id')}) DO UPDATE SET {updates}"


def _link_lookups(quote: Callable[[str], str], link_fields: list[models.Field]) -> list[str]:
    """Per link, the scalar subquery that finds the related row by its Reverb key ({account} and {key} to
    fill in: parameters, or the unnested row's columns)."""
    return [
        (
            f"(SELECT {quote(f.related_model._meta.pk.column)} FROM {quote(f.related_model._meta.db_table)} "
            f"WHERE {quote('account_id')} = {{account}} AND {quote('reverb_id')} = {{key}})"
        )
        for f in link_fields
    ]


def _select_from_arrays(
    model: type[RemoteModel],
    conn: Any,
    fields: list[models.Field],
    local: list[models.Field],
    links: tuple[Link, ...],
    lookups: list[str],
) -> str:
    """The rows as one binary array per column, unnested (PostgreSQL)."""
    quote = conn.ops.quote_name
    # Array types without their length or precision (`varchar`, `numeric`): the INSERT's assignment
    # then checks them as a VALUES row would (an explicit cast to varchar(64) would truncate).
    unnested = ", ".join(f"%b::{f.db_type(conn).split('(')[0]}[]" for f in fields)
    selected = (
        [f"s.{quote(f.column)}" for f in fields]
        + [f"%b::{f.db_type(conn).split('(')[0]}" for f in local]
        + [
            lookup.format(
                account=f"s.{quote('account_id')}",
                key=f"NULLIF(s.{quote(model._meta.get_field(link.key_field).column)}, '')",
            )
            for lookup, link in zip(lookups, links, strict=True)
        ]
    )
    aliases = ", ".join(quote(f.column) for f in fields)
    return f"SELECT {', '.join(selected)} FROM unnest({unnested}) AS s ({aliases})"


def _insert_on_conflict(
    model: type[RemoteModel],
    alias: str,
    account_id: int,
    now: datetime,
    names: list[str],
    writes: list[tuple[str, dict[str, Any], str, str]],
    told: tuple[str, ...] | None = None,
    links: tuple[Link, ...] = (),
    partial: bool = False,
    created_only: bool = False,
) -> set[str]:
    """One INSERT ... ON CONFLICT (account, reverb_id) DO UPDATE for the page (SQLite >= 3.24, PostgreSQL),
    its rows as arrays on PostgreSQL (see `_Plan`). `created_only` (PostgreSQL): DO NOTHING instead, and
    the keys it inserted are returned (else an empty set).

    Hand-written instead of bulk_create(update_conflicts=True) because Django's per-value compilation
    cost more than the database write; values go through each field's own get_db_prep_save except plain
    text/number/bool columns, and `raw` reuses the canonical JSON already built for the hash. The SQL and
    per-column adapters are built once per (model, columns, row count). Local-only columns (not written by
    any mapper) get their default on INSERT and are never in the UPDATE; link columns are set when NULL."""
    conn = connections[alias]
    plan = _plan(
        model,
        conn,
        tuple(names),
        len(writes),
        tuple(names) if told is None else told,
        links,
        partial,
        created_only,
    )
    stamp = models.DateTimeField().get_db_prep_save(now, conn)
    columns = tuple(zip(names, plan.prepare, plan.defaults, strict=True))
    local_values = plan.local_values
    rows: list[list[Any]] = []
    for key, values, canonical, digest in writes:
        row = [account_id, key, stamp, canonical, digest, stamp, False, None]
        append = row.append
        for name, prep, default in columns:
            value = values.get(name, default)
            append(value if prep is None else prep(value))
        if not plan.arrays:
            row.extend(local_values)
            for link in links:
                row.extend((account_id, values.get(link.key_field) or None))
        rows.append(row)
    if not plan.arrays:
        with conn.cursor() as cursor:
            cursor.execute(plan.sql, [value for row in rows for value in row])
        return set()
    # Django's cursors bind parameters client-side, as text: a psycopg cursor of the same connection
    # binds them server-side, in binary (text arrays escape every quote of every payload), wrapped
    # by Django so that query logging and execute wrappers see the statement.
    conn.ensure_connection()
    raw_cursor = psycopg.Cursor(conn.connection)
    with (
        conn.make_debug_cursor(raw_cursor) if conn.queries_logged else conn.make_cursor(raw_cursor) as cursor
    ):
        cursor.execute(plan.sql, [*local_values, *(list(column) for column in zip(*rows, strict=True))])
        return {key for (key,) in cursor.fetchall()} if created_only else set()


def mark_missing(
    model: type[RemoteModel], account: ReverbAccount, seen: set[str], within: Q | None = None
) -> int:
    """After a complete scan: flag rows the scan did not return. Streams keys; never deletes. `within`:
    the scan was complete only for these rows (a date range of the nightly reconciliation)."""
    qs = model.objects.filter(account=account, missing=False)
    if within is not None:
        qs = qs.filter(within)
    absent = [
        key for key in qs.values_list("reverb_id", flat=True).iterator(chunk_size=5000) if key not in seen
    ]
    now = timezone.now()
    for start in range(0, len(absent), 500):
        qs.filter(reverb_id__in=absent[start : start + 500]).update(missing=True, missing_since=now)
    return len(absent)


def link_related(model: type[RemoteModel], account: ReverbAccount, link: Link) -> int:
    """One UPDATE: set `link.field` where it is NULL and the related row now exists. Never invents rows."""
    from django.apps import apps

    target = apps.get_model(link.target)
    related = target.objects.filter(account=OuterRef("account"), reverb_id=OuterRef(link.key_field)).values(
        "pk"
    )
    return (
        model.objects.filter(account=account, **{f"{link.field}__isnull": True})
        .exclude(**{link.key_field: ""})
        .filter(Exists(related))
        .update(**{link.field: Subquery(related[:1])})
    )
