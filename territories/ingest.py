"""Reading and validating account files (CSV and XLSX). Pure: no Django import.

The import is three steps, each a function here:

1. ``inspect_file`` — what the file is (CSV with its encoding and separator, or an XLSX workbook),
   its header and a few preview rows. Every whole-file problem raises ``FileRejected`` with a
   message a user can act on: empty, header only, not a spreadsheet, undecodable text, a zip whose
   declared uncompressed size is over the limit (checked before any spreadsheet parser runs).
2. ``read_table`` — every row as text (``""`` for a blank cell), so "02134" keeps its zero.
3. ``validate`` — maps columns to the standard fields of SPEC §4 (others become custom
   attributes), parses numbers and booleans vectorised, and reports every bad cell as a
   ``RowError`` (spreadsheet row number, column as headed in the file, value, reason).

Row numbers are the ones a user sees in a spreadsheet: the header is row 1, the first account
row 2.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import column_index_from_string, get_column_letter

from engagements.units import megabytes
from territories.geo import normalize_state
from territories.quality import STANDARD_FIELDS

CUSTOM = "__custom__"  # mapping target: keep the column as a custom attribute
IGNORE = "__ignore__"  # mapping target: drop the column
REQUIRED_FIELDS: tuple[str, ...] = ("external_id", "name")

# Mirrors the CharField lengths of territories.models.Account (a test keeps them in step).
TEXT_LIMITS: dict[str, int] = {
    "external_id": 100,
    "name": 300,
    "domain": 200,
    "industry": 120,
    "country": 60,
    "state": 60,
    "city": 120,
    "postal_code": 20,
    "current_owner": 150,
    "named_account_owner": 150,
}
NUMERIC_FIELDS: tuple[str, ...] = ("employees", "annual_revenue", "contract_value")
MAX_EMPLOYEES = 2_147_483_647  # PositiveIntegerField's ceiling
CUSTOM_VALUE_LIMIT = 1000  # characters kept per custom attribute value

FIELD_LABELS: dict[str, str] = {
    "external_id": "External id",
    "name": "Name",
    "domain": "Domain",
    "industry": "Industry",
    "employees": "Employees",
    "annual_revenue": "Annual revenue (USD)",
    "country": "Country",
    "state": "State",
    "city": "City",
    "postal_code": "Postal code",
    "current_owner": "Current owner",
    "is_customer": "Is customer",
    "contract_value": "Contract value / ACV (USD)",
    "named_account_owner": "Named-account owner",
}

# Header synonyms, compared after ``_header_key`` (lower case, letters and digits only).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "externalid", "id", "accountid", "crmid", "recordid", "salesforceid", "sfdcid",
        "hubspotid", "companyid", "accountnumber", "customerid",
    ),
    "name": ("name", "accountname", "company", "companyname", "organization", "organisation"),
    "domain": ("domain", "website", "web", "url", "companydomain", "websitedomain"),
    "industry": ("industry", "vertical", "sector", "industrysegment"),
    "employees": (
        "employees", "numberofemployees", "noofemployees", "employeecount", "headcount",
        "fte", "ftes", "staff",
    ),
    "annual_revenue": (
        "annualrevenue", "revenue", "annualrevenueusd", "revenueusd", "companyrevenue",
        "totalrevenue", "sales",
    ),
    "country": ("country", "countrycode", "billingcountry", "nation"),
    "state": ("state", "stateprovince", "province", "statecode", "billingstate"),
    "city": ("city", "town", "billingcity", "locality"),
    "postal_code": (
        "postalcode", "zip", "zipcode", "postcode", "billingpostalcode", "billingzip",
        "billingzipcode", "zippostalcode",
    ),
    "current_owner": (
        "currentowner", "owner", "accountowner", "ownername", "rep", "salesrep", "accountrep",
    ),
    "is_customer": ("iscustomer", "customer", "customerflag", "currentcustomer"),
    "contract_value": (
        "contractvalue", "acv", "currentacv", "annualcontractvalue", "arr", "currentarr",
        "contractacv", "currentcontractvalue",
    ),
    "named_account_owner": (
        "namedaccountowner", "namedowner", "namedaccount", "strategicowner",
    ),
}  # fmt: skip
_PREFIXES = ("billing", "account", "company", "shipping", "hq")

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "x", "customer", "client", "active customer"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "", "prospect", "lead", "not a customer"})

_US_COUNTRY = {"", "us", "usa", "u.s.", "u.s.a.", "united states", "united states of america"}
_US_NAMED = _US_COUNTRY - {""}
_US_ZIP = re.compile(r"\d{5}(?:-?\d{4})?\Z")
_DIGITS = re.compile(r"[\d-]+\Z")


class FileRejected(ValueError):
    """The file as a whole cannot be imported; the message says why and what to do."""


@dataclass(frozen=True)
class TableFile:
    """What ``inspect_file`` found; ``read_table`` reads the file the same way."""

    format: str  # "csv" or "xlsx"
    headers: tuple[str, ...]
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    sheets: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        if self.format == "xlsx":
            extra = f" (first of {len(self.sheets)} sheets)" if len(self.sheets) > 1 else ""
            return f"Excel workbook, sheet “{self.sheet}”{extra}"
        names = {",": "comma", ";": "semicolon", "\t": "tab"}
        return f"CSV, {ENCODING_LABELS.get(self.encoding, self.encoding)}, {names.get(self.delimiter, repr(self.delimiter))}-separated"

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "headers": list(self.headers),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheet": self.sheet,
            "sheets": list(self.sheets),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableFile:
        return cls(
            format=data["format"],
            headers=tuple(data["headers"]),
            encoding=data.get("encoding", ""),
            delimiter=data.get("delimiter", ""),
            sheet=data.get("sheet", ""),
            sheets=tuple(data.get("sheets", ())),
        )


ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
}


@dataclass(frozen=True)
class RowError:
    row: int  # spreadsheet row number (header = 1)
    column: str  # the column's header in the file
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


@dataclass
class Validated:
    """The outcome of ``validate``.

    ``frame`` holds the valid rows only: the mapped standard fields, typed (text as ``str``,
    ``employees`` as ``Int64``, money as ``float64`` with NaN for blank, ``is_customer`` as
    ``bool``), plus ``custom`` (a dict per row, blank values left out) and ``row`` (the
    spreadsheet row number). ``fields`` lists the standard fields the file sets: an update
    touches only these, so a file without a domain column does not blank every domain.
    """

    frame: pd.DataFrame
    errors: list[RowError]
    fields: tuple[str, ...]
    custom_columns: tuple[str, ...]
    total_rows: int
    notes: list[str] = field(default_factory=list)

    @property
    def invalid_rows(self) -> int:
        return self.total_rows - len(self.frame)


# --- Step 1: what is this file? ----------------------------------------------------------------


def _sniff_kind(head: bytes, name: str) -> str:
    suffix = PurePosixPath(name.lower()).suffix
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRejected(
            "This is an old Excel 97–2003 (.xls) workbook, which cannot be read safely. "
            "Save it as .xlsx or CSV and upload it again."
        )
    if head.startswith(b"%PDF"):
        raise FileRejected("This is a PDF document, not a spreadsheet. Upload a CSV or XLSX file.")
    if head[:4] in (b"\x89PNG", b"GIF8") or head[:3] == b"\xff\xd8\xff":
        raise FileRejected("This is an image, not a spreadsheet. Upload a CSV or XLSX file.")
    if suffix in (".xlsx", ".xlsm"):
        raise FileRejected(
            "The file is named .xlsx but is not an Excel workbook (it is not a zip archive). "
            "Open it in Excel and save it again as .xlsx or CSV."
        )
    return "text"


def check_zip(path: Path, *, max_uncompressed: int) -> zipfile.ZipFile:
    """Open an XLSX as a zip and refuse it unless it is a workbook within the size limit.

    The sizes checked are the ones the zip *declares*; they are checked before any spreadsheet
    parser sees the file, so a zip bomb never gets decompressed.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise FileRejected(
            f"The file is a damaged zip archive, not a readable workbook ({exc})."
        ) from exc
    infos = archive.infolist()
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names:
        archive.close()
        raise FileRejected(
            "The file is a zip archive but not an Excel workbook (no xl/workbook.xml). "
            "Upload a CSV or XLSX file."
        )
    if len(infos) > 5000:
        archive.close()
        raise FileRejected(f"The workbook has {len(infos):,} parts; a real workbook has a few.")
    declared = sum(info.file_size for info in infos)
    if declared > max_uncompressed:
        archive.close()
        raise FileRejected(
            f"The workbook would expand to {megabytes(declared)} MB when opened, over the "
            f"{megabytes(max_uncompressed)} MB limit (a zip bomb, or a sheet far larger than an "
            "account list). Split it or save it as CSV."
        )
    return archive


def _sheet_paths(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, path inside the zip) of every worksheet, in workbook order."""
    from defusedxml import ElementTree

    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    ns_pkg = "{http://schemas.openxmlformats.org/package/2006/relationships}"
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError) as exc:
        raise FileRejected(f"The workbook's structure is damaged ({exc}).") from exc
    except Exception as exc:  # defusedxml refuses entity tricks with its own exceptions
        raise FileRejected(f"The workbook holds XML that cannot be read safely ({exc}).") from exc
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels.iter(f"{ns_pkg}Relationship")}
    sheets = []
    for sheet in workbook.iter(f"{ns_main}sheet"):
        target = targets.get(sheet.get(f"{ns_rel}id"), "")
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        sheets.append((sheet.get("name", ""), path))
    return sheets


def _decode(raw: bytes) -> tuple[str, str]:
    """Text and encoding of a CSV: UTF-8 (with or without BOM), UTF-16 with BOM, or cp1252."""
    if raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in raw[:65536]:
        raise FileRejected(
            "The file holds binary data (NUL bytes): it is not a CSV text file. If it is a "
            "UTF-16 text export, save it again as “CSV UTF-8”."
        )
    else:
        encoding = "utf-8"
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        if encoding != "utf-8":
            raise FileRejected(
                f"The file is not valid {ENCODING_LABELS[encoding]} text ({exc})."
            ) from exc
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise FileRejected(
            f"The file's text encoding is not one we can read: byte 0x{bad} at position "
            f"{exc.start:,} is neither UTF-8 nor Windows-1252. Save it as “CSV UTF-8” and "
            "upload it again."
        ) from exc


def _sniff_delimiter(text: str) -> str:
    """The separator among comma, semicolon and tab that splits the first lines consistently."""
    sample_lines = text[:65536].splitlines()[:20]
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t"):
        try:
            widths = [len(r) for r in csv.reader(sample_lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for w in widths if w == widths[0])
        score = (consistent, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _unique_headers(raw: Iterable[Any]) -> tuple[str, ...]:
    headers: list[str] = []
    seen: dict[str, int] = {}
    for index, value in enumerate(raw):
        text = _cell_text(value).strip() or f"Column {get_column_letter(index + 1)}"
        count = seen.get(text.lower(), 0)
        seen[text.lower()] = count + 1
        headers.append(text if count == 0 else f"{text} ({count + 1})")
    return tuple(headers)


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as text, as a user would type it: 708.0 -> "708", dates ISO."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def inspect_file(
    path: Path | str,
    *,
    name: str = "",
    max_bytes: int,
    max_uncompressed: int,
    preview_rows: int = 10,
) -> tuple[TableFile, list[list[str]]]:
    """Identify the file and return its layout and the first ``preview_rows`` rows as text.

    Raises ``FileRejected`` for every whole-file problem (see the module docstring).
    """
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise FileRejected(
            f"The file is {megabytes(size)} MB, over the {megabytes(max_bytes)} MB upload limit."
        )
    if size == 0:
        raise FileRejected("The file is empty.")
    with path.open("rb") as handle:
        head = handle.read(8)
    kind = _sniff_kind(head, name or path.name)
    if kind == "zip":
        return _inspect_xlsx(path, max_uncompressed=max_uncompressed, preview_rows=preview_rows)
    text, encoding = _decode(path.read_bytes())
    if not text.strip():
        raise FileRejected("The file is empty (only blank lines).")
    delimiter = _sniff_delimiter(text)
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            rows.append(row)
            if len(rows) > preview_rows:
                break
    except csv.Error as exc:
        raise FileRejected(f"The CSV cannot be read near line {reader.line_num}: {exc}.") from exc
    headers = _unique_headers(rows[0])
    if len(rows) == 1:
        raise FileRejected("The file has a header row but no account rows.")
    table = TableFile(format="csv", headers=headers, encoding=encoding, delimiter=delimiter)
    return table, [_pad(r, len(headers)) for r in rows[1:]]


def _pad(row: list[Any], width: int) -> list[str]:
    cells = [_cell_text(v) for v in row[:width]]
    return cells + [""] * (width - len(cells))


def _inspect_xlsx(
    path: Path, *, max_uncompressed: int, preview_rows: int
) -> tuple[TableFile, list[list[str]]]:
    with check_zip(path, max_uncompressed=max_uncompressed) as archive:
        sheets = _sheet_paths(archive)
        if not sheets:
            raise FileRejected("The workbook has no worksheets.")
        sheet_name, sheet_path = sheets[0]
        rows = _xlsx_head(archive, sheet_path, preview_rows + 1)
    if not rows:
        raise FileRejected(f"The sheet “{sheet_name}” is empty.")
    while rows[0] and not rows[0][-1].strip():
        rows[0].pop()  # trailing blank header cells are formatting, not columns
    headers = _unique_headers(rows[0])
    if len(rows) == 1:
        raise FileRejected(f"The sheet “{sheet_name}” has a header row but no account rows.")
    table = TableFile(
        format="xlsx", headers=headers, sheet=sheet_name, sheets=tuple(n for n, _ in sheets)
    )
    return table, [_pad(r, len(headers)) for r in rows[1:]]


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _xlsx_head(archive: zipfile.ZipFile, sheet_path: str, limit: int) -> list[list[str]]:
    """The first ``limit`` non-blank rows of a worksheet as text, streamed from its XML.

    For the preview only: calamine reads whole sheets (a second per 100,000 rows), so the upload
    step reads just the rows it shows, and just the shared strings they use. Dates show as
    Excel serial numbers here; the import itself (calamine) reads them as dates.
    """
    from defusedxml.ElementTree import iterparse

    cells: list[dict[int, tuple[str, str]]] = []
    try:
        with archive.open(sheet_path) as handle:
            for _, element in iterparse(handle, events=("end",)):
                if element.tag != f"{_NS}row":
                    continue
                row: dict[int, tuple[str, str]] = {}
                for cell in element.iter(f"{_NS}c"):
                    kind = cell.get("t", "n")
                    if kind == "inlineStr":
                        text = "".join(t.text or "" for t in cell.iter(f"{_NS}t"))
                    else:
                        value = cell.find(f"{_NS}v")
                        text = value.text or "" if value is not None else ""
                    column = _column_index(cell.get("r", ""), default=len(row))
                    row[column] = (kind, text)
                element.clear()
                if any(text.strip() for _, text in row.values()):
                    cells.append(row)
                    if len(cells) >= limit:
                        break
        wanted = {int(text) for row in cells for kind, text in row.values() if kind == "s" and text}
        strings = _shared_strings(archive, max(wanted)) if wanted else {}
    except (KeyError, zipfile.BadZipFile) as exc:  # BadZipFile: a part fails its CRC check
        raise FileRejected(f"The workbook's structure is damaged ({exc}).") from exc
    except Exception as exc:  # defusedxml refuses entity tricks; a broken XML fails here too
        raise FileRejected(f"The workbook holds XML that cannot be read safely ({exc}).") from exc
    rows = []
    for row in cells:
        width = max(row) + 1
        values = [""] * width
        for column, (kind, text) in row.items():
            if kind == "s":
                values[column] = strings.get(int(text), "") if text else ""
            elif kind == "b":
                values[column] = "TRUE" if text == "1" else "FALSE"
            elif kind in ("str", "inlineStr", "e"):
                values[column] = text
            else:
                try:
                    values[column] = _cell_text(float(text)) if text else ""
                except ValueError:
                    values[column] = text
        rows.append(values)
    return rows


def _column_index(reference: str, *, default: int) -> int:
    """Zero-based column of a cell reference like "C12"."""
    letters = re.match(r"[A-Z]{1,3}", reference)
    return column_index_from_string(letters.group(0)) - 1 if letters else default


def _shared_strings(archive: zipfile.ZipFile, up_to: int) -> dict[int, str]:
    """Shared strings 0..``up_to`` (streamed: the table may hold hundreds of thousands)."""
    from defusedxml.ElementTree import iterparse

    if "xl/sharedStrings.xml" not in archive.namelist():
        return {}
    strings: dict[int, str] = {}
    with archive.open("xl/sharedStrings.xml") as handle:
        index = 0
        for _, element in iterparse(handle, events=("end",)):
            if element.tag != f"{_NS}si":
                continue
            # Rich text has several runs; phonetic guides (rPh) are not part of the value.
            phonetic = {id(t) for r in element.iter(f"{_NS}rPh") for t in r.iter(f"{_NS}t")}
            strings[index] = "".join(
                t.text or "" for t in element.iter(f"{_NS}t") if id(t) not in phonetic
            )
            element.clear()
            index += 1
            if index > up_to:
                break
    return strings


# --- Step 2: every row as text -----------------------------------------------------------------


def read_table(path: Path | str, table: TableFile, *, max_uncompressed: int) -> pd.DataFrame:
    """All rows of the file as text (object dtype, ``""`` for blank), columns = ``table.headers``.

    The frame's index is the spreadsheet row number of each row. Rows that are entirely blank
    are dropped. Raises ``FileRejected`` when the file no longer matches ``table``.
    """
    path = Path(path)
    if table.format == "xlsx":
        frame = _read_xlsx(path, table, max_uncompressed=max_uncompressed)
    else:
        frame = _read_csv(path, table)
    if frame.empty:
        raise FileRejected("The file has a header row but no account rows.")
    return frame


def _texts(column: Sequence[Any]) -> list[str]:
    """``_cell_text(v).strip()`` of every cell, with the common types inlined (a hot loop:
    100,000 rows × every column of a workbook)."""
    out = []
    append = out.append
    for v in column:
        kind = type(v)
        if kind is str:
            append(v.strip())
        elif kind is float:
            if v != v:
                append("")
            elif v.is_integer() and abs(v) < 1e16:
                append(str(int(v)))
            else:
                append(repr(v))
        elif v is None:
            append("")
        else:
            append(_cell_text(v).strip())
    return out


def _text_frame(headers: Sequence[str], columns: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Rows as stripped text, numbered like a spreadsheet (line 1 first); blank rows dropped and
    the first non-blank row (the header) left out."""
    width = len(headers)
    length = len(columns[0]) if columns else 0
    texts = []
    for index in range(width):
        column = columns[index] if index < len(columns) else ()
        if len(column) < length:
            column = list(column) + [""] * (length - len(column))
        texts.append(np.asarray(_texts(column), dtype=object))
    blank = np.ones(length, dtype=bool)
    for column in texts:
        blank &= column == ""
    keep = np.flatnonzero(~blank)[1:]  # the first non-blank row is the header
    frame = pd.DataFrame(
        {h: col[keep] for h, col in zip(headers, texts, strict=False)},
        columns=list(headers),
        dtype=object,
    )
    frame.index = keep + 1
    return frame


def _read_csv(path: Path, table: TableFile) -> pd.DataFrame:
    text, _ = _decode(path.read_bytes())
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            sep=table.delimiter,
            header=None,
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = match.groups()
            raise FileRejected(
                f"Line {line} has {saw} values where the header has {expected}: check the "
                "separator and the quotes around values that contain it."
            ) from exc
        raise FileRejected(f"The CSV cannot be read: {exc}") from exc
    except pd.errors.EmptyDataError:
        raise FileRejected("The file is empty.") from None
    # pandas sizes the frame by the header line; a later line with more values raised above.
    columns = [raw[c].fillna("").tolist() for c in raw.columns]
    return _text_frame(table.headers, columns)


def _read_xlsx(path: Path, table: TableFile, *, max_uncompressed: int) -> pd.DataFrame:
    with check_zip(path, max_uncompressed=max_uncompressed) as archive:
        sheets = dict(_sheet_paths(archive))
        formulas = _formula_cells(archive, sheets.get(table.sheet, ""))
    rows = _calamine_rows(path, table.sheet)
    columns = list(zip(*rows, strict=False)) if rows else []
    frame = _text_frame(table.headers, columns)
    if frame.empty:
        return frame
    header_line = int(frame.index[0]) - 1
    frame.attrs["formulas"] = [
        (row, column)
        for row, column in formulas
        if row > header_line and column < len(table.headers)
    ]
    return frame


def _calamine_rows(path: Path, sheet: str) -> list[list[Any]]:
    """Cell values of a sheet from A1 on (typed: str, float, int, bool, date …), by calamine.

    calamine parses the whole sheet even for a preview, but in about a second for 100,000 rows
    where openpyxl's read-only mode takes several (it reads every shared string in Python).
    """
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        return workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own types for XML, zip and sheet errors
        raise FileRejected(
            f"The workbook cannot be read ({exc.__class__.__name__}: {exc})."
        ) from exc


_FORMULA_CELL = re.compile(rb'<(?:\w+:)?c r="([A-Z]{1,3})(\d+)"[^>]*>\s*<(?:\w+:)?f[\s>/]')


def _formula_cells(archive: zipfile.ZipFile, sheet_path: str) -> list[tuple[int, int]]:
    """(row, zero-based column) of every formula cell in a worksheet's XML."""
    if not sheet_path:
        return []
    cells = []
    with archive.open(sheet_path) as handle:
        tail = b""
        while chunk := handle.read(1 << 20):
            data = tail + chunk
            cut = data.rfind(b"</c>")
            cut = len(data) if cut < 0 else cut + 4
            tail = data[cut:]
            if b"<f" not in data and b":f" not in data:
                continue  # no formula element in this chunk: skip the slow scan
            for match in _FORMULA_CELL.finditer(data, 0, cut):
                letters, row = match.groups()
                cells.append((int(row), column_index_from_string(letters.decode()) - 1))
    return cells


# --- Step 3: map and validate ------------------------------------------------------------------


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def auto_map(headers: Iterable[str]) -> dict[str, str]:
    """Map each header to a standard field, or to ``CUSTOM``; each field is used once."""
    headers = list(headers)
    mapping = dict.fromkeys(headers, CUSTOM)
    taken: set[str] = set()
    lookup = {syn: f for f, syns in SYNONYMS.items() for syn in syns}
    # Exact synonyms first, then with a "billing"/"account" prefix stripped.
    for strip_prefix in (False, True):
        for header in headers:
            if mapping[header] != CUSTOM:
                continue
            key = _header_key(header)
            if strip_prefix:
                for prefix in _PREFIXES:
                    if key.startswith(prefix) and len(key) > len(prefix):
                        key = key[len(prefix) :]
                        break
            target = lookup.get(key)
            if target and target not in taken:
                mapping[header] = target
                taken.add(target)
    return mapping


def mapping_problems(mapping: Mapping[str, str], headers: Iterable[str]) -> list[str]:
    """Why a mapping cannot be used (empty when it can)."""
    problems = []
    headers = list(headers)
    unknown = [h for h in mapping if h not in headers]
    if unknown:
        problems.append(f"These columns are not in the file: {', '.join(unknown)}.")
    targets: dict[str, list[str]] = {}
    for header, target in mapping.items():
        if target in (CUSTOM, IGNORE):
            continue
        if target not in STANDARD_FIELDS:
            problems.append(f"Column “{header}”: “{target}” is not a standard field.")
            continue
        targets.setdefault(target, []).append(header)
    for target, sources in targets.items():
        if len(sources) > 1:
            problems.append(
                f"{FIELD_LABELS[target]} is mapped from more than one column: {', '.join(sources)}."
            )
    for required in REQUIRED_FIELDS:
        if required not in targets:
            problems.append(
                f"No column is mapped to {FIELD_LABELS[required]}, which every account needs."
            )
    return problems


_CURRENCY = re.compile(r"^\s*(?:US\$|USD|\$|€|£)\s*|\s*(?:USD|EUR|GBP)\s*$", re.IGNORECASE)
_THOUSANDS_COMMA = r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
_EUROPEAN = r"^-?(?:\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+,\d+)$"


def parse_numbers(text: pd.Series | np.ndarray, *, decimal_comma: bool = False) -> pd.Series:
    """Numbers from text: "$1,250,000", "1.2E+09", " 42 " parse; blanks and anything else
    become NaN. With ``decimal_comma`` (semicolon-separated files from a European Excel)
    "1.234.567,89" and "12,5" parse the European way.

    Plain numbers take pandas' C parser; only the rest go through the regular expressions.
    """
    values = pd.Series(np.asarray(text, dtype=object)).fillna("").astype(object)
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    if decimal_comma:
        slow = values.map(lambda v: "," in v or "." in v or not v.replace("-", "").isdigit())
        slow &= values != ""
    else:
        slow = numbers.isna() & (values != "")
    if slow.any():
        subset = (
            values[slow]
            .astype(str)
            .str.replace(_CURRENCY, "", regex=True)
            .str.replace(r"[\s\u00a0']", "", regex=True)
        )
        if decimal_comma:
            european = subset.str.match(_EUROPEAN)
            subset = subset.mask(
                european,
                subset.str.replace(".", "", regex=False).str.replace(",", ".", regex=False),
            )
        thousands = subset.str.match(_THOUSANDS_COMMA)
        subset = subset.mask(thousands, subset.str.replace(",", "", regex=False))
        numbers[slow] = pd.to_numeric(subset, errors="coerce").astype("float64")
    return numbers


def _strings(column: pd.Series) -> np.ndarray:
    """Stripped text of a column as an object array.

    ``="02134"`` is how CRM exports keep leading zeros through Excel: a literal, not a formula,
    so it is unwrapped here. A cheap check on the joined column skips that pass when no cell
    needs it (the usual case).
    """
    values = column.tolist()
    try:
        joined = "\n".join(values)
    except TypeError:
        values = [_cell_text(v) for v in values]
        joined = "\n".join(values)
    values = [v.strip() for v in values]
    if '="' in joined:
        for i, v in enumerate(values):
            if v[:2] == '="' and v.endswith('"') and '"' not in v[2:-1]:
                values[i] = v[2:-1]
    return np.asarray(values, dtype=object)


def _starts_with_equals(values: np.ndarray) -> np.ndarray:
    joined = "\n".join(values)
    if not (joined.startswith("=") or "\n=" in joined):
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((v[:1] == "=" for v in values), dtype=bool, count=len(values))


def _row_errors(
    rows: np.ndarray,
    values: np.ndarray,
    mask: np.ndarray,
    column: str,
    reason: str | np.ndarray,
) -> list[RowError]:
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    picked_rows, picked = rows[mask], values[mask]
    if isinstance(reason, np.ndarray):
        return [
            RowError(int(r), column, _shorten(str(v)), str(why))
            for r, v, why in zip(picked_rows, picked, reason[mask], strict=True)
        ]
    return [
        RowError(int(r), column, _shorten(str(v)), reason)
        for r, v in zip(picked_rows, picked, strict=True)
    ]


def _shorten(value: str, limit: int = 120) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def validate(
    raw: pd.DataFrame, mapping: Mapping[str, str], *, decimal_comma: bool = False
) -> Validated:
    """Check every row of ``raw`` (from ``read_table``) against ``mapping``.

    Raises ``FileRejected`` when the mapping itself is unusable. Returns the valid rows and one
    ``RowError`` per bad cell; a row with any error is left out of ``frame`` entirely.
    """
    problems = mapping_problems(mapping, raw.columns)
    if problems:
        raise FileRejected(" ".join(problems))
    total = len(raw)
    rows = raw.index.to_numpy()
    field_of = {h: t for h, t in mapping.items() if t not in (CUSTOM, IGNORE)}
    header_of = {t: h for h, t in field_of.items()}
    custom_headers = [h for h in raw.columns if mapping.get(h, CUSTOM) == CUSTOM]
    kept = [*header_of.values(), *custom_headers]
    text = {h: _strings(raw[h]) for h in kept}
    errors: list[RowError] = []
    notes: list[str] = []

    # A formula is refused: its value is whatever it computed last time, and a formula that
    # travels on into exports is how spreadsheet injection works.
    position_of_row = {int(r): i for i, r in enumerate(rows)}
    for row, column in raw.attrs.get("formulas", []):
        header = raw.columns[column]
        if header in text and row in position_of_row:
            value = text[header][position_of_row[row]]
            errors.append(
                RowError(
                    row,
                    header,
                    _shorten(str(value)),
                    "The cell holds a formula; import values only.",
                )
            )
    for header in kept:
        values = text[header]
        errors += _row_errors(
            rows,
            values,
            _starts_with_equals(values),
            header,
            "Looks like a spreadsheet formula; import values only.",
        )

    out: dict[str, Any] = {}
    for target, limit in TEXT_LIMITS.items():
        if target not in header_of:
            continue
        header = header_of[target]
        values = text[header]
        if target in REQUIRED_FIELDS:
            errors += _row_errors(
                rows, values, values == "", header, f"{FIELD_LABELS[target]} is required."
            )
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        errors += _row_errors(
            rows, values, lengths > limit, header, f"Longer than {limit} characters."
        )
        out[target] = values

    if "external_id" in header_of:
        header = header_of["external_id"]
        ids = pd.Series(text[header])
        repeated = ((ids != "") & ids.duplicated(keep=False)).to_numpy()
        if repeated.any():
            where: dict[str, list[str]] = {}
            for external_id, row in zip(ids[repeated], rows[repeated], strict=True):
                where.setdefault(external_id, []).append(str(row))
            reasons = np.array(
                [
                    f"External id appears more than once in the file (rows {', '.join(where[i])})."
                    if i in where and len(where[i]) > 1
                    else ""
                    for i in ids
                ],
                dtype=object,
            )
            errors += _row_errors(rows, text[header], repeated, header, reasons)

    for target in NUMERIC_FIELDS:
        if target not in header_of:
            continue
        header = header_of[target]
        values = text[header]
        numbers = parse_numbers(values, decimal_comma=decimal_comma).to_numpy()
        present = values != ""
        unparseable = present & ~np.isfinite(numbers)
        errors += _row_errors(rows, values, unparseable, header, "Not a number.")
        with np.errstate(invalid="ignore"):
            negative = present & ~unparseable & (numbers < 0)
            errors += _row_errors(rows, values, negative, header, "Must not be negative.")
            if target == "employees":
                fractional = present & ~unparseable & ~negative & (numbers % 1 != 0)
                errors += _row_errors(rows, values, fractional, header, "Must be a whole number.")
                huge = present & ~unparseable & (numbers > MAX_EMPLOYEES)
                errors += _row_errors(rows, values, huge, header, "Too large for a head count.")
                usable = np.isfinite(numbers) & (numbers <= MAX_EMPLOYEES)
                out[target] = pd.array(
                    np.where(usable, np.round(numbers), np.nan), dtype="Float64"
                ).astype("Int64")
            else:
                out[target] = np.where(np.isfinite(numbers), numbers, np.nan)

    fields = [t for t in STANDARD_FIELDS if t in header_of]
    if "is_customer" in header_of:
        header = header_of["is_customer"]
        words = [v.lower() for v in text[header]]
        # Salesforce's account Type reads "Customer - Direct", "Prospect", …
        yes = np.fromiter((w in TRUE_WORDS or w.startswith("customer") for w in words), dtype=bool)
        no = np.fromiter((w in FALSE_WORDS or w.startswith("prospect") for w in words), dtype=bool)
        errors += _row_errors(
            rows,
            text[header],
            ~(yes | no),
            header,
            "Not a yes/no value (use yes, no, true, false, 1 or 0).",
        )
        out["is_customer"] = yes
    elif "contract_value" in header_of:
        # CRM exports often carry an ACV for customers and nothing for prospects.
        out["is_customer"] = np.nan_to_num(out["contract_value"]) > 0
        fields.append("is_customer")
        notes.append("No customer flag column: accounts with a contract value count as customers.")

    if "state" in out:
        # "California", "ca" -> "CA" (each distinct spelling looked up once); anything else,
        # a foreign region for instance, is kept as written.
        spelled = {
            v: normalize_state(v) or (v.upper() if len(v) == 2 else v) for v in set(out["state"])
        }
        out["state"] = np.asarray([spelled[v] for v in out["state"]], dtype=object)
    if "postal_code" in out:
        # Excel drops a US ZIP's leading zeros ("02134" -> 2134): restore them.
        countries = out.get("country", np.full(total, "", dtype=object))
        codes = out["postal_code"]
        restored = 0
        fixed = codes.copy()
        for i, (code, country) in enumerate(zip(codes, countries, strict=True)):
            if 3 <= len(code) <= 4 and code.isdigit() and country.lower() in _US_COUNTRY:
                fixed[i] = code.zfill(5)
                restored += 1
        if restored:
            out["postal_code"] = fixed
            notes.append(
                f"{restored:,} US postal codes had lost their leading zeros (as Excel does); "
                "they were restored."
            )
        # A US ZIP is 5 digits or ZIP+4; routing cuts on its digits, so a 10-digit or lettered
        # code on a US account would route wrongly. Without a country, only an all-digit code
        # of another length is refused (foreign codes pass as written).
        not_zip = np.fromiter(
            (
                bool(code)
                and not _US_ZIP.match(code)
                and (
                    country.lower() in _US_NAMED
                    or (not country.strip() and _DIGITS.match(code) is not None)
                )
                for code, country in zip(fixed, countries, strict=True)
            ),
            dtype=bool,
            count=total,
        )
        errors += _row_errors(
            rows,
            codes,
            not_zip,
            header_of["postal_code"],
            "Not a US ZIP code (5 digits, or ZIP+4 as 12345-6789).",
        )

    if custom_headers:
        columns = [text[h] for h in custom_headers]
        for header, values in zip(custom_headers, columns, strict=True):
            lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
            errors += _row_errors(
                rows,
                values,
                lengths > CUSTOM_VALUE_LIMIT,
                header,
                f"Longer than {CUSTOM_VALUE_LIMIT} characters.",
            )
        out["custom"] = [
            {k: v for k, v in zip(custom_headers, cells, strict=True) if v}
            for cells in zip(*columns, strict=True)
        ]
    else:
        out["custom"] = [{} for _ in range(total)]
    out["row"] = rows
    frame = pd.DataFrame(out, index=raw.index)

    position = {h: i for i, h in enumerate(raw.columns)}
    errors.sort(key=lambda e: (e.row, position.get(e.column, 0)))
    bad_rows = {e.row for e in errors}
    valid = frame[~frame.index.isin(list(bad_rows))] if bad_rows else frame
    return Validated(
        frame=valid,
        errors=errors,
        fields=tuple(fields),
        custom_columns=tuple(custom_headers),
        total_rows=total,
        notes=notes,
    )
