"""The one CSV writer of the product: every CSV the back office hands out goes through `csv_response`.

Cells are written so a spreadsheet shows them, never runs them (CSV/formula injection): text starting
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single quote, unless it is a plain
number ("-12.50", "+3"); numbers, dates and empty values are written as such.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class _Echo:
    def write(self, value: str) -> str:
        return value


def cell(value: Any) -> Any:
    """Dates as ISO 8601, amounts as plain decimals, formula-looking text neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float | bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_lines(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([cell(v) for v in header])
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


def csv_response(
    filename: str, header: Iterable[Any], rows: Iterable[Iterable[Any]], *, stream: bool = True
) -> HttpResponse | StreamingHttpResponse:
    """A CSV download; streamed by default (memory stays flat for any number of rows), or whole for a
    small selection (stream=False)."""
    lines = csv_lines(header, rows)
    content_type = "text/csv; charset=utf-8"
    response = (
        StreamingHttpResponse(lines, content_type=content_type)
        if stream
        else HttpResponse("".join(lines), content_type=content_type)
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
