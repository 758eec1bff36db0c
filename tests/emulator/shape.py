"""Contract helper: compare a documented example with what the emulator returns, by shape only.

Same keys, same JSON types, same nesting; values may differ. A documented `null` matches any type
(examples show null where real data has a value). Lists compare every actual item against the
example's first item. Extra keys in `actual` are allowed unless `exact=True`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _named(path: str, paths: set[str]) -> bool:
    """`path` is listed as is ("$.orders[0].x") or with any item index ("$.orders[].x")."""
    return path in paths or re.sub(r"\[\d+\]", "[]", path) in paths


def shape_errors(
    expected: Any,
    actual: Any,
    *,
    path: str = "$",
    optional: Iterable[str] = (),
    exact: bool = False,
    maps: Iterable[str] = (),
) -> list[str]:
    """Every shape difference as a readable line.

    `optional`: dotted paths that may be missing from `actual`, e.g. "$._links.end"; name one item as
    "$.listings[0]._links.end" or any item as "$.listings[]._links.end".
    `maps`: paths of objects whose keys are data, not names (e.g. "$.errors", field -> messages): each
    actual value is compared with the example's first value."""
    optional, maps = set(optional), set(maps)
    kw: dict[str, Any] = {"optional": optional, "exact": exact, "maps": maps}
    if expected is None:
        return []
    want, got = _kind(expected), _kind(actual)
    if want != got:
        return [f"{path}: expected {want}, got {got} ({actual!r:.80})"]
    errors: list[str] = []
    if want == "object" and _named(path, maps):
        if expected:
            first = next(iter(expected.values()))
            for key, value in actual.items():
                errors += shape_errors(first, value, path=f"{path}.{key}", **kw)
    elif want == "object":
        for key, value in expected.items():
            sub = f"{path}.{key}"
            if key not in actual:
                if not _named(sub, optional):
                    errors.append(f"{sub}: missing")
                continue
            errors += shape_errors(value, actual[key], path=sub, **kw)
        if exact:
            errors += [f"{path}.{key}: unexpected" for key in actual if key not in expected]
    elif want == "array" and expected:
        for i, item in enumerate(actual):
            errors += shape_errors(expected[0], item, path=f"{path}[{i}]", **kw)
    return errors


def assert_same_shape(
    expected: Any, actual: Any, *, optional: Iterable[str] = (), exact: bool = False, maps: Iterable[str] = ()
) -> None:
    """Fail with every difference listed when `actual` does not have `expected`'s shape."""
    errors = shape_errors(expected, actual, optional=optional, exact=exact, maps=maps)
    assert not errors, "shape differs from the documented example:\n  " + "\n  ".join(errors)
