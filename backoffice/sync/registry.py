"""Every pulled resource, in the order a whole-account sync runs them (related targets first)."""

from __future__ import annotations

import importlib
from functools import cache

from .engine import Link, Resource

SYNC_MODULES = ("listings.sync", "orders.sync", "refunds.sync", "messaging.sync", "payouts.sync")
# Top-level resources, in run order; children (messages, payout_line_items) run inside their parent.
ORDER = ("listings", "orders", "payments", "feedback", "refunds", "conversations", "negotiations", "payouts")


@cache
def resources() -> dict[str, Resource]:
    found: dict[str, Resource] = {}
    for module in SYNC_MODULES:
        for resource in importlib.import_module(module).RESOURCES:
            found[resource.name] = resource
    return found


def get(name: str) -> Resource:
    try:
        return resources()[name]
    except KeyError:
        raise KeyError(f"unknown resource {name!r}; known: {', '.join(ORDER)}") from None


def links_touching(model: type) -> list[tuple[type, Link]]:
    """(source model, link) for every link from or to `model`: what to (re)link after syncing it."""
    label = model._meta.label
    return [
        (resource.model, link)
        for resource in resources().values()
        for link in resource.links
        if resource.model is model or link.target == label
    ]
