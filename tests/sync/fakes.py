"""A scripted stand-in for ReverbClient: pages from lists, a request counter, and a log of the calls."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class FakePage:
    items: list[dict[str, Any]]


class Boom(Exception):
    """A request that failed part-way through a scan."""


class FakeClient:
    """`collections[name]` is a list of pages (lists of payloads); a page that is an Exception is raised."""

    def __init__(self, **collections: list[Any]) -> None:
        self.collections = collections
        self.request_count = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.details: dict[str, dict[str, Any]] = {}

    def _pages(self, name: str, **kwargs: Any) -> Iterator[FakePage]:
        self.calls.append((name, kwargs))
        for page in self.collections.get(name, []):
            self.request_count += 1
            if isinstance(page, Exception):
                raise page
            yield FakePage(list(page))

    def my_listings(self, state: str = "all", **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("listings", state=state, **kwargs)

    def orders(self, kind: str = "all", **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("orders", kind=kind, **kwargs)

    def refund_requests(self, **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("refund_requests", **kwargs)

    def payments(self, **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("payments", **kwargs)

    def feedback_received(self, **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("feedback_received", **kwargs)

    def feedback_sent(self, **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("feedback_sent", **kwargs)

    def conversations(self, **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("conversations", **kwargs)

    def negotiations(self, **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("negotiations", **kwargs)

    def payouts(self, **kwargs: Any) -> Iterator[FakePage]:
        return self._pages("payouts", **kwargs)

    def payout_line_items(self, target: str, **kwargs: Any) -> Iterator[FakePage]:
        return self._pages(f"line_items:{target}", **kwargs)

    def get_conversation(self, conversation_id: Any) -> dict[str, Any]:
        self.request_count += 1
        self.calls.append(("get_conversation", {"id": conversation_id}))
        return self.details[str(conversation_id)]
