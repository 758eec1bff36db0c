"""Pages of a work queue (the shipping queue, the inbox): `?p=N`, 1-based like the changelists, a fixed page
size, previous/next links that keep the other query parameters. The caller counts (cheaply: a partial
index) and fetches only the page's rows with an OFFSET on its index order."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

PAGE_SIZE = 100


@dataclass(frozen=True)
class Pager:
    number: int
    size: int
    total: int
    previous_url: str
    next_url: str

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """The 1-based position of the page's first row (0 when empty)."""
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)


def pager(request: HttpRequest, total: int, size: int = PAGE_SIZE) -> Pager:
    """The requested page (out of range: the nearest one) of `total` rows."""
    raw = request.GET.get("p", "")
    pages = max(1, -(-total // size))
    number = min(max(int(raw), 1), pages) if raw.isdigit() else 1
    return Pager(
        number,
        size,
        total,
        _url(request, number - 1) if number > 1 else "",
        _url(request, number + 1) if number < pages else "",
    )


def _url(request: HttpRequest, number: int) -> str:
    query = request.GET.copy()
    query["p"] = str(number)
    return f"?{query.urlencode()}"
