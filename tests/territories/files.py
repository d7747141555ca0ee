"""Hand-made account files for the import tests (CSV in several encodings, XLSX, bad files)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Any

HEADER = ["Account ID", "Account Name", "Industry", "Employees", "Annual Revenue", "State"]
HEADER += ["Zip", "Customer", "ACV", "Growth Signal"]
ROWS = [
    ["A-1", "Acme Analytics", "Software", "1200", "250000000", "MA", "02134", "yes", "120000", "high"],
    ["A-2", "Bluebird Bank", "Financial Services", "8000", "2500000000", "NY", "10001", "no", "", "low"],
    ["A-3", "Cedar Health", "Healthcare", "40", "9000000", "VT", "05401", "no", "", "medium"],
]  # fmt: skip


def csv_bytes(
    rows: Sequence[Sequence[Any]] = ROWS,
    header: Sequence[str] = HEADER,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(
    rows: Sequence[Sequence[Any]] = ROWS, header: Sequence[str] = HEADER, *, title="Accounts"
) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bomb_bytes(declared_mb: int = 600) -> bytes:
    """A workbook-shaped zip whose sheet expands to ``declared_mb`` MB of zeros (a few KB here)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        chunk = b"0" * (1 << 20)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for _ in range(declared_mb):
                sheet.write(chunk)
    return buffer.getvalue()
