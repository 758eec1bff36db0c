"""Every pulled resource, the order a whole-account sync runs them in, and the night's walks of each.

The core names no app: each app registers its resources (<app>/sync.py) from its AppConfig.ready(), through
<app>/plugins.py:

    registry.register(*RESOURCES)                       # in INSTALLED_APPS order
    registry.NIGHT_WALKS.add((Stream(...),), key="orders")  # optional: the night's chunked walks

The run order follows the resources' links, the related targets first (a refund after the order it links
to), the INSTALLED_APPS order breaking ties; `after=` adds an ordering a link does not say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps

from backoffice.plugins import Slot

from .resource import Link, Resource, Stream


@dataclass(frozen=True)
class Registered:
    resource: Resource
    after: tuple[str, ...] = ()  # resource names this one runs after, beyond what its links say


RESOURCES: Slot[Registered] = Slot("sync resources")
# The walks the nightly reconciliation cuts into chunks, by resource name (backoffice/sync/reconcile.py);
# a resource without them is reconciled whole, in one chunk.
NIGHT_WALKS: Slot[tuple[Stream, ...]] = Slot("night walks")

_found: dict[str, Resource] = {}
_ordered: list[tuple[str, ...]] = []  # order(), once worked out


def register(*resources: Resource, after: Iterable[str] = ()) -> None:
    """Add `resources` (an app's, from its AppConfig.ready()); a second call with the same names replaces."""
    for resource in resources:
        RESOURCES.add(Registered(resource, tuple(after)), key=resource.name)
    _found.clear()
    _ordered.clear()


def resources() -> dict[str, Resource]:
    """Every registered resource (children too) by name; the same dict until the next register()."""
    if not _found:
        _found.update((r.resource.name, r.resource) for r in RESOURCES)
    return _found


def get(name: str) -> Resource:
    try:
        return resources()[name]
    except KeyError:
        raise KeyError(f"unknown resource {name!r}; known: {', '.join(order())}") from None


def order() -> tuple[str, ...]:
    """The top-level resources (children run inside their parent), in run order: each after the resources
    its links (and its children's) point to and those it registered `after`; ties in INSTALLED_APPS order."""
    if not _ordered:
        _ordered.append(_run_order())
    return _ordered[0]


def _run_order() -> tuple[str, ...]:
    registered = [r for r in RESOURCES if r.resource.fetch is not None]
    names = {r.resource.name for r in registered}
    by_model: dict[str, str] = {}  # a model's resource: the first registered for it
    for r in registered:
        by_model.setdefault(r.resource.model._meta.label, r.resource.name)
    rank = {config.label: i for i, config in enumerate(apps.get_app_configs())}
    position = {
        r.resource.name: (rank.get(r.resource.model._meta.app_label, len(rank)), i)
        for i, r in enumerate(registered)
    }
    needs = {r.resource.name: _needs(r, by_model, names) for r in registered}
    done: list[str] = []
    while len(done) < len(needs):
        ready = [n for n in needs if n not in done and needs[n] <= set(done)]
        if not ready:
            raise ValueError(f"sync resources wait on each other: {sorted(set(needs) - set(done))}")
        done.append(min(ready, key=position.__getitem__))
    return tuple(done)


def _needs(registered: Registered, by_model: dict[str, str], names: set[str]) -> set[str]:
    """What `registered` runs after: the targets of its links and of its children's (which run inside it)."""
    resource = registered.resource
    links = [*resource.links]
    for child, _ in resource.children:
        links += get(child).links
    targets = {by_model.get(link.target) for link in links} | set(registered.after)
    return {t for t in targets if t in names and t != resource.name}


def night_walks() -> dict[str, tuple[Stream, ...]]:
    return dict(zip(NIGHT_WALKS.keys(), NIGHT_WALKS, strict=True))


def links_touching(model: type) -> list[tuple[type, Link]]:
    """(source model, link) for every link from or to `model`: what to (re)link after syncing it."""
    label = model._meta.label
    return [
        (resource.model, link)
        for resource in resources().values()
        for link in resource.links
        if resource.model is model or link.target == label
    ]
