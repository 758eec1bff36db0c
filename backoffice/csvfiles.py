"""The one CSV writer of the product: every CSV the back office hands out goes through `csv_response`.

Cells are written so a spreadsheet shows them, never runs them (CSV/formula injection): text starting
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single quote, unless it is a plain
number ("-12.50", "+3"); numbers, dates and empty values are written as such.
"""

from __future__ import annotations

import csv
import io
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


# ---- reading uploads -------------------------------------------------------------------------------


class CsvFileError(ValueError):
    """The file cannot be read whole and right; the message says why, for the person who uploaded it."""


def read_csv(data: bytes | str, *, max_rows: int) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(lower-cased header, [(line number, {column: stripped value})]) of an uploaded CSV, read whole.

    Refuses (CsvFileError), rather than guessing or cutting: a file that is not UTF-8 (a Latin-1 export
    would be garbled), a line the csv module cannot read (a cell over csv.field_size_limit(), a NUL), or
    more than `max_rows` rows. Any line ending works (Windows, Unix, old Mac). Blank lines are skipped."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = (
                data[: exc.start].count(b"\n")
                + data[: exc.start].count(b"\r")
                - data[: exc.start].count(b"\r\n")
            )
            raise CsvFileError(
                f"The file is not UTF-8 text (line {line + 1} has a byte UTF-8 does not allow). "
                "Save it as “CSV UTF-8” and upload it again."
            ) from None
    else:
        text = data
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, str]]] = []
    header: list[str] = []
    try:
        for record in reader:
            if not any(value.strip() for value in record):
                continue
            if not header:
                header = [h.strip().lower() for h in record]
                continue
            if len(rows) >= max_rows:
                raise CsvFileError(
                    f"The file has more than {max_rows:,} rows. Nothing was read: split it into files of at "
                    f"most {max_rows:,} rows."
                )
            values = {
                name: (record[i] if i < len(record) else "").strip() for i, name in enumerate(header) if name
            }
            rows.append((reader.line_num, values))
    except csv.Error as exc:
        limit = csv.field_size_limit()
        reason = (
            f"a cell is longer than {limit // 1024} KB"
            if "field larger than field limit" in str(exc)
            else str(exc)
        )
        raise CsvFileError(
            f"Line {reader.line_num + 1} cannot be read: {reason}. Nothing was read."
        ) from None
    return header, rows
