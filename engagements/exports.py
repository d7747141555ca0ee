"""CSV and XLSX exports of the whole project: every text cell goes through ``safe_cell``.

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return) as a formula: an account named ``=HYPERLINK(...)`` in a CRM
export would run when the customer opens our file. Text cells starting with one of those get a
leading apostrophe, which every spreadsheet program shows as plain text. Numbers are written as
numbers (a negative number is not text and is not touched).

Use ``csv_response`` / ``csv_write`` and ``xlsx_write`` for every export, so no export can forget.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value, neutralised against formula injection if it is text that needs it."""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A streamed CSV download (UTF-8 with BOM so Excel reads accents), cells neutralised."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow(safe_row(header))
        for row in rows:
            yield writer.writerow([_csv_text(v) for v in safe_row(row)])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def csv_write(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a neutralised CSV file; returns the number of data rows."""
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(safe_row(header))
        for row in rows:
            writer.writerow([_csv_text(v) for v in safe_row(row)])
            count += 1
    return count


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(safe_row(header))
    for row in rows:
        writer.writerow([_csv_text(v) for v in safe_row(row)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_write(
    path: Path,
    sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]],
    *,
    widths: dict[str, Sequence[int]] | None = None,
    progress=None,
    total_rows: int = 0,
) -> int:
    """Write an XLSX workbook (openpyxl, write-only) with one sheet per ``(title, header, rows)``.

    Every text cell is neutralised; numbers stay numbers; dates are written as dates. Returns the
    number of data rows written. ``progress(pct, message)`` is called every 10,000 rows.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    written = 0
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        for index, width in enumerate((widths or {}).get(title, ()), start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        cells = []
        for name in safe_row(header):
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        for row in rows:
            sheet.append([_xlsx_value(v) for v in safe_row(row)])
            written += 1
            if progress and total_rows and written % 10000 == 0:
                progress(100 * written / total_rows, f"Wrote {written:,} of {total_rows:,} rows")
    workbook.save(path)
    return written


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones
    if isinstance(value, date | int | float | bool) or value is None:
        return value
    return str(value)
