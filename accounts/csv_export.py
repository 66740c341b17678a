"""Streamed CSV exports for the panel (audit log, provisioning log).

Rows are written in chunks of a few hundred lines while the database cursor is read, so an
export of a million rows never sits in memory, and every cell that a spreadsheet would run as a
formula (CSV injection, OWASP) is prefixed with an apostrophe so it stays text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value


def csv_lines(
    header: Sequence[str], rows: Iterable[Iterable[Any]], *, lines_per_chunk: int = 500
) -> Iterator[str]:
    """CSV text in chunks: one write to the socket per chunk, not per row."""
    writer = csv.writer(_Echo())
    chunk = [writer.writerow(header)]
    for row in rows:
        chunk.append(writer.writerow([safe_cell(value) for value in row]))
        if len(chunk) >= lines_per_chunk:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def csv_response(lines: Iterator[str], *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
