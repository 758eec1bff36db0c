"""The Reverb doctor: hold one page of every resource a real shop answers against what the mappers read.

Only GET requests, one page per resource (and one page of each child collection, for the first parent).
For each resource it reports the keys our mapper reads that the shop's answer lacks, keys whose type
differs from what the emulator answers, keys the emulator never sends (worth knowing), and records the
mapper could not read. The reference is the project's own emulator, run in-process: the doctor finds
where the live API and our emulator disagree, which is exactly what tests cannot see from here.

A capture folder keeps each page with personal data replaced by same-length stand-ins (ids kept), so a
shop's answers can be served by `reverb_emulator --from-capture` and loaded by tests as fixtures.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import ReverbError
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.sync import registry
from backoffice.sync.engine import MappingError, Resource
from emulator.replay import RESPONSES_FILE

REFERENCE_ORIGIN = "http://doctor-reference.invalid"
REFERENCE_TOKEN = "doctor-reference-token"
REFERENCE_SIZE = "listings=60,orders=60"
MAX_LISTED = 25  # paths listed per kind and resource; the count says how many more there were
Rows = list[dict[str, Any]]


# ---- which keys a mapper reads -----------------------------------------------------------------------


class Tracked(dict):
    """A payload that notes every key path the mapper asks for (nested objects and lists included)."""

    def __init__(self, data: Mapping[str, Any], path: str, seen: set[str]) -> None:
        super().__init__(data)
        self._path = path
        self._seen = seen

    def _note(self, key: Any) -> str:
        path = f"{self._path}.{key}" if self._path else str(key)
        self._seen.add(path)
        return path

    def __getitem__(self, key: Any) -> Any:
        return _track(super().__getitem__(key), self._note(key), self._seen)

    def get(self, key: Any, default: Any = None) -> Any:
        path = self._note(key)
        return _track(super().get(key, default), path, self._seen) if key in self.keys() else default

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)


def _track(value: Any, path: str, seen: set[str]) -> Any:
    if isinstance(value, Mapping):
        return Tracked(value, path, seen)
    if isinstance(value, list):
        return [_track(item, f"{path}[]", seen) for item in value]
    return value


def keys_read(mapper: Callable[[Mapping[str, Any]], Any], rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every key path `mapper` asks for over `rows` (a row it cannot read still counts its keys)."""
    seen: set[str] = set()
    for row in rows:
        with contextlib.suppress(MappingError):
            mapper(Tracked(row, "", seen))
    return seen


# ---- the shape of a page -----------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"


def shape(rows: Iterable[Any], depth: int = 4) -> dict[str, set[str]]:
    """path -> the JSON types seen there across `rows` (null left out: it says nothing of the type)."""
    found: dict[str, set[str]] = {}

    def walk(value: Any, path: str, level: int) -> None:
        kind = _type_name(value)
        if path:
            types = found.setdefault(path, set())
            if kind != "null":
                types.add(kind)
        if level >= depth:
            return
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else str(key), level + 1)
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]", level + 1)

    for row in rows:
        walk(row, "", 0)
    return found


# ---- one resource's findings ------------------------------------------------------------------------


@dataclass
class Finding:
    """What one resource's answer says against the reference."""

    resource: str
    status: str = "ok"
    rows: int = 0
    absent: list[str] = field(default_factory=list)  # read by our mapper, sent by the emulator, not here
    wrong_type: list[str] = field(default_factory=list)  # "path: expected string, got number"
    unknown: list[str] = field(default_factory=list)  # sent here, never by the emulator
    unreadable: list[str] = field(default_factory=list)  # "key: the mapper's reason"

    @property
    def differs(self) -> bool:
        return bool(self.status != "ok" or self.absent or self.wrong_type or self.unknown or self.unreadable)

    def lines(self) -> list[str]:
        head = f"{self.resource}: {self.status}, {self.rows} record(s)"
        if not self.differs:
            return [f"{head}; no difference"]
        out = [head]
        for label, items in (
            ("keys our mapper reads, absent", self.absent),
            ("keys of unexpected type", self.wrong_type),
            ("unknown keys", self.unknown),
            ("records the mapper could not read", self.unreadable),
        ):
            if items:
                more = f" (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
                out.append(f"  {label}: {', '.join(items[:MAX_LISTED])}{more}")
        return out


def _covered(path: str, reference: Mapping[str, set[str]]) -> bool:
    """Whether the reference knows `path` or an ancestor it did not look inside (free-form objects)."""
    while True:
        if path in reference:
            return True
        cut = max(path.rfind("."), path.rfind("[]"))
        if cut <= 0:
            return False
        path = path[:cut]
        if path in reference and not any(
            p.startswith(path + ".") or p.startswith(path + "[]") for p in reference
        ):
            return True


def compare(name: str, reference: Rows, real: Rows, mapper: Callable[..., Any] | None) -> Finding:
    finding = Finding(resource=name, rows=len(real))
    ref_shape, real_shape = shape(reference), shape(real)
    if mapper is not None and real:
        read = keys_read(mapper, [*reference, *real])
        finding.absent = sorted(p for p in read if p in ref_shape and p not in real_shape)
        for row in real:
            try:
                mapper(row)
            except MappingError as exc:
                key = row.get("id") or row.get("order_number") or "?"
                finding.unreadable.append(f"{key}: {exc}")
    for path, types in sorted(real_shape.items()):
        expected = ref_shape.get(path)
        if expected is None:
            if not _covered(path, ref_shape):
                finding.unknown.append(path)
        elif types and expected and not types <= expected:
            finding.wrong_type.append(
                f"{path}: expected {'/'.join(sorted(expected))}, got {'/'.join(sorted(types))}"
            )
    # Report an unknown object once, not each key inside it.
    finding.unknown = [
        p
        for p in finding.unknown
        if not any(p.startswith(q + ".") or p.startswith(q + "[]") for q in finding.unknown if q != p)
    ]
    return finding


# ---- what is read, from the shop and from the reference ---------------------------------------------


@dataclass
class Probe:
    name: str
    read: Callable[[ReverbClient, dict[str, Rows]], Rows]
    mapper: Callable[..., Any] | None


def _first_page(pages: Iterable[Sequence[dict[str, Any]]]) -> Rows:
    iterator = iter(pages)
    try:
        return [dict(row) for row in next(iterator, [])]
    finally:
        close = getattr(iterator, "close", None)
        if close:
            close()


def _resource_probe(resource: Resource) -> Probe:
    fetch = resource.fetch
    assert fetch is not None
    return Probe(resource.name, lambda client, _: _first_page(fetch(client, None)), resource.mapper)


def _child_probe(parent: str, child: str, fetch_children: Callable[..., Iterator[Any]]) -> Probe:
    def read(client: ReverbClient, done: dict[str, Rows]) -> Rows:
        parents = done.get(parent) or []
        return _first_page(fetch_children(client, parents[:1])) if parents else []

    return Probe(child, read, registry.get(child).mapper)


def _single_listing(client: ReverbClient, done: dict[str, Rows]) -> Rows:
    """The public single-listing read the product uses to re-read one listing."""
    listings = done.get("listings") or []
    return [client.get_listing(listings[0]["id"])] if listings else []


def probes() -> list[Probe]:
    found: list[Probe] = []
    for name in registry.order():
        resource = registry.get(name)
        found.append(_resource_probe(resource))
        found.extend(_child_probe(name, child, fetcher) for child, fetcher in resource.children)
        if name == "listings":
            found.append(Probe("listing (single read)", _single_listing, resource.mapper))
    found.append(Probe("account", lambda client, _: [client.get_account()], None))
    found.append(Probe("shop", lambda client, _: [client.get_shop()], None))
    return found


def read_all(client: ReverbClient) -> tuple[dict[str, Rows], dict[str, str]]:
    """One page of every probe: (rows by probe, status by probe)."""
    rows: dict[str, Rows] = {}
    status: dict[str, str] = {}
    for probe in probes():
        try:
            rows[probe.name] = probe.read(client, rows)
            status[probe.name] = "ok"
        except ReverbError as exc:
            rows[probe.name] = []
            status[probe.name] = f"HTTP {exc.status}: {exc}" if getattr(exc, "status", None) else str(exc)
    return rows, status


def reference_rows() -> dict[str, Rows]:
    """The same pages from the project's emulator, in-process (no socket, no token of the shop's)."""
    from backoffice.reverb.transport import register_transport, unregister_transport
    from emulator import Emulator
    from emulator.adapter import EmulatorAdapter

    emulator = Emulator(token=REFERENCE_TOKEN, seed=1, size=REFERENCE_SIZE, rate_per_second=0)  # unpaced
    register_transport(f"{REFERENCE_ORIGIN}/", EmulatorAdapter(emulator))
    try:
        client = ReverbClient(
            f"{REFERENCE_ORIGIN}/api", REFERENCE_TOKEN, rate_limiter=UnlimitedRateLimiter(), max_retries=0
        )
        return read_all(client)[0]
    finally:
        unregister_transport(f"{REFERENCE_ORIGIN}/")


@dataclass
class Examination:
    findings: list[Finding]
    rows: dict[str, Rows]  # the shop's records by probe, as the product's fetchers hand them on
    responses: list[dict[str, Any]]  # every GET answer as it came: {"path", "query", "body"}


def _recording(client: ReverbClient, responses: list[dict[str, Any]]) -> Callable[..., tuple[Any, str]]:
    """The client's own `_request`, noting every GET answer as parsed. (A response hook would read a
    streamed body before the client does, and the client would then see an empty page.)"""
    send = client._request

    def recorded(method: str, path_or_url: str, **kwargs: Any) -> tuple[Any, str]:
        data, url = send(method, path_or_url, **kwargs)
        if method.upper() == "GET" and data is not None:
            parts = urlsplit(url)
            responses.append({"path": parts.path, "query": parts.query, "body": data})
        return data, url

    return recorded


def examine(client: ReverbClient) -> Examination:
    """Findings for every probe, with the shop's rows and raw answers (for the capture)."""
    responses: list[dict[str, Any]] = []
    client._request = _recording(client, responses)  # type: ignore[method-assign]
    try:
        real, status = read_all(client)
    finally:
        del client._request  # the class's own again
    reference = reference_rows()
    mappers = {probe.name: probe.mapper for probe in probes()}
    findings = []
    for name, rows in real.items():
        finding = compare(name, reference.get(name, []), rows, mappers.get(name))
        finding.status = status[name]
        findings.append(finding)
    return Examination(findings, real, responses)


# ---- the capture: the shop's answers without its people ---------------------------------------------

# Keys whose string values are personal wherever they stand, and objects all of whose strings are.
PERSONAL_KEYS = {
    "email", "buyer_email", "phone", "phone_number", "street_address", "extended_address", "postal_code",
    "buyer_name", "buyer_first_name", "buyer_last_name", "first_name", "last_name", "body", "message",
    "subject", "shop_name", "seller_name", "username", "name",
}  # fmt: skip
PERSONAL_OBJECTS = {"shipping_address", "billing_address", "buyer", "address", "participants", "sender"}
# Keys under which `name` is not a person's (categories, conditions, providers, profiles).
IMPERSONAL_PARENTS = {"condition", "categories", "shipping_profile", "state", "status", "shipping", "price"}
KEEP_IN_PERSONAL = {"id", "country_code", "uuid", "created_at", "updated_at"}


def stand_in(text: str) -> str:
    """Same length, same shape: letters -> x, digits -> 0, the rest (spaces, @, .) kept."""
    return "".join("x" if ch.isalpha() else "0" if ch.isdigit() else ch for ch in text)


def redact(value: Any, key: str = "", parent: str = "", personal: bool = False) -> Any:
    if key == "_links":  # API addresses, never personal; a served capture follows them
        return value
    if isinstance(value, Mapping):
        inside = personal or key in PERSONAL_OBJECTS
        return {k: redact(v, k, key, inside) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, key, parent, personal) for item in value]
    personal_key = key in PERSONAL_KEYS and not (key == "name" and parent in IMPERSONAL_PARENTS)
    if isinstance(value, str) and key not in KEEP_IN_PERSONAL and (personal or personal_key):
        return stand_in(value)
    return value


def write_capture(folder: Path, examination: Examination, meta: Mapping[str, Any]) -> list[Path]:
    """One file per probe (its records: test fixtures), the raw answers (`reverb_emulator --from-capture`
    serves them) and a manifest; everything redacted."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, items in examination.rows.items():
        path = folder / f"{capture_name(name)}.json"
        path.write_text(json.dumps(redact(items), indent=1, sort_keys=True))
        written.append(path)
    responses = folder / RESPONSES_FILE
    answers = [{**entry, "body": redact(entry["body"])} for entry in examination.responses]
    responses.write_text(json.dumps(answers, indent=1, sort_keys=True))
    manifest = folder / "manifest.json"
    resources = sorted(capture_name(name) for name in examination.rows)
    manifest.write_text(json.dumps({**meta, "resources": resources}, indent=1, sort_keys=True))
    return [*written, responses, manifest]


def capture_name(probe: str) -> str:
    return probe.replace(" (single read)", "_single").replace(" ", "_")


def load_capture(folder: Path) -> dict[str, Rows]:
    """A capture's rows by probe file name (tests load these as fixtures)."""
    return {
        path.stem: json.loads(path.read_text())
        for path in sorted(folder.glob("*.json"))
        if path.name not in ("manifest.json", RESPONSES_FILE)
    }


# ---- from the admin: one background job per account ------------------------------------------------

DOCTOR = "backoffice.doctor"


def start_doctor(account: Any, *, user: Any = None) -> Any:
    """Queue the doctor for one account; the job page shows its report when the worker is done."""
    from backoffice.background.jobs import ItemSpec, create_job

    return create_job(
        DOCTOR,
        title=f"Reverb doctor for {account.name}",
        items=[ItemSpec(key=account.name, label="Compare Reverb's answers with the emulator's")],
        account=account,
        user=user,
        single_flight=True,
    )


def check_account(job: Any, item: Any, *, resumed: bool) -> Any:
    """The doctor's job item: GET requests, and the scope probes' writes to an object that cannot exist
    (backoffice/reverb/scopes.py), so a restarted item simply runs again."""
    from backoffice.background.jobs import Outcome

    account = job.account
    if not account.enabled:
        return Outcome.failed(f"Account {account.name} is disabled; it is never called.")
    try:
        scopes = account.check_scopes()
        findings = examine(account.client()).findings
    except ReverbError as exc:
        return Outcome.failed(f"Reverb could not be read: {exc}")
    scope_lines = "\n".join(["Token scopes:", *account.scopes_found.get("lines", [])])
    report = "\n".join(line for finding in findings for line in finding.lines()) + "\n\n" + scope_lines
    differing = [f.resource for f in findings if f.differs]
    if differing:
        differ = f"{len(differing)} resources differ: {', '.join(differing)}"
        return Outcome.failed(f"{differ}\n{scopes}\n{report}")
    if account.scopes_found.get("missing"):
        return Outcome.failed(f"{scopes}\n{report}")
    return Outcome.ok(f"No difference in {len(findings)} resources. {scopes}\n{report}")


JOB_HANDLERS = {DOCTOR: check_account}
