"""Read-ahead for page fetchers: fetch page N+1 while page N is mapped and written.

A sync is request -> wait -> map and write -> request...: the wait for Reverb (or the emulator) and our own
work never overlap. `read_ahead` runs the fetcher on a helper thread, one page ahead, so the next page is
on its way (and mostly parsed, as json decoding releases nothing but sockets do) while this one lands.
Pages still arrive in order, an exception comes after the pages fetched before it, and at most one page
is held beyond the one being written (memory stays flat).

The runner also hands the reader a `prepare` step (`prepared`): the page's mapping and hashing, pure
Python that needs no query, then runs on the helper thread too, while this thread waits on the database
for the page before it (that wait releases the GIL, so the two overlap).

Only when it is safe: the helper thread must not touch the database, so the client's rate limiter must be
a process-local one (a database-backed budget takes its tokens through the caller's connection and
transaction). Fetchers of resources with child collections are not wrapped either: children are fetched
with the same client between pages, and per-run request counts must stay exact.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from backoffice.reverb.ratelimit import LocalTokenBucket, UnlimitedRateLimiter

if TYPE_CHECKING:
    from backoffice.reverb.client import ReverbClient

Page = Sequence[dict[str, Any]]
_THREAD_SAFE_LIMITERS = (UnlimitedRateLimiter, LocalTokenBucket)  # process-local, no database
_DONE = object()


def until_unchanged(pages: Iterable[Page]) -> Iterator[Page]:
    """`pages` of a newest-first stream, ending at the first page the runner says changed nothing (it
    sends UNCHANGED_PAGE back on incremental runs). Never read ahead: on an incremental run the page after
    an unchanged one must not be requested at all."""
    from .engine import UNCHANGED_PAGE

    for page in pages:
        if (yield page) == UNCHANGED_PAGE:
            return


def newest_first(client: ReverbClient, pages: Iterable[Page], since: Any) -> Iterable[Page]:
    """A newest-first stream: the whole of it read ahead on a complete scan (`since` None), else
    `until_unchanged`."""
    return read_ahead(client, pages) if since is None else until_unchanged(pages)


def can_read_ahead(client: ReverbClient) -> bool:
    return type(getattr(client, "rate_limiter", None)) in _THREAD_SAFE_LIMITERS


def prepared(pages: Iterable[Page], prepare: Callable[[Page], Page]) -> Iterable[Page]:
    """`pages` with `prepare` applied to each on the read-ahead thread when they are read ahead; as they
    are otherwise (the caller then does that work itself, as each comes)."""
    if isinstance(pages, _ReadAhead):
        pages.prepare = prepare
    return pages


def read_ahead(client: ReverbClient, pages: Iterable[Page]) -> Iterable[Page]:
    """`pages`, fetched one page ahead on a helper thread when that is safe, else as they are."""
    if not can_read_ahead(client):
        return pages
    return _ReadAhead(iter(pages))


class _ReadAhead:
    def __init__(self, pages: Iterator[Page]) -> None:
        self._pages = pages
        self._queue: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.prepare: Callable[[Page], Page] | None = None

    def __iter__(self) -> Iterator[Page]:
        self._thread = threading.Thread(target=self._run, name="sync-read-ahead", daemon=True)
        self._thread.start()
        try:
            while True:
                item, error = self._queue.get()
                if error is not None:
                    raise error
                if item is _DONE:
                    return
                yield item
        finally:
            self._stop.set()
            while self._thread.is_alive():  # unblock a pending put, then let the thread finish
                with contextlib.suppress(queue.Empty):
                    self._queue.get(timeout=0.05)
            self._thread.join()

    def _put(self, item: Any, error: BaseException | None = None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((item, error), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for page in self._pages:
                if self.prepare is not None:
                    page = self.prepare(page)
                if not self._put(page):
                    break
            else:
                self._put(_DONE)
        except BaseException as exc:  # handed to the consuming thread, in order
            self._put(None, exc)
        finally:
            close = getattr(self._pages, "close", None)
            if close is not None:
                close()
