"""How apps plug into the core, and into the apps below them, without being named by them.

The core (and a lower app) declares a `Slot` where it reads contributions: the inbox its sources, the
dashboard its queues, the retention clean-up its purges, the sync its resources. Each app adds its own from
its AppConfig.ready(), the way job handlers register (backoffice/background/jobs.py) and NetBox's registry
works. The declaring module imports no app; the app imports the slot.

    # backoffice/pages/inbox.py (the core declares)
    SOURCES: Slot[Source] = Slot("inbox sources")

    # refunds/apps.py (the app adds, in ready())
    from backoffice.pages.inbox import SOURCES
    SOURCES.add(refund_source, key="refunds")

Contributions are kept in the order added (INSTALLED_APPS order); `key` makes an add idempotent, so a ready()
run twice (some test runners do) does not list a contribution twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """An ordered, named list of contributions that apps add to from AppConfig.ready()."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[str, T] = {}

    def add(self, item: T, *, key: str | None = None) -> T:
        """Add `item` (replacing the one added earlier under the same `key`); returns it, so it decorates."""
        self._items[key if key is not None else f"{id(item)}"] = item
        return item

    def get(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            known = ", ".join(self._items) or "none"
            raise LookupError(
                f"nothing registered as {key!r} in {self.name}; known: {known}. "
                "Is the app that adds it in INSTALLED_APPS, adding it from its AppConfig.ready()?"
            ) from None

    def find(self, key: str) -> T | None:
        """The contribution added under `key`, or None: for a slot whose contributions are optional."""
        return self._items.get(key)

    def copy(self) -> Slot[T]:
        """A slot with the same contributions: a test adds to it (monkeypatched in) and leaves this one."""
        twin: Slot[T] = Slot(self.name)
        twin._items = dict(self._items)
        return twin

    def keys(self) -> list[str]:
        return list(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Slot({self.name!r}, {len(self)} added)"
