"""Check an uploaded customer list with contract values (pure: no Django import).

The intake form asks for "existing customer list with contract values (for benchmarking)". The
file is kept as uploaded for the account import; this module only makes sure it is usable: a
CSV or XLSX with a customer-name column and a contract-value column whose every row parses.
Problems are reported by row (as the customer sees it in a spreadsheet: header is row 1) and
column, and a file with any problem is refused whole.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import pandas as pd

NAME_HEADERS = (
    "account name",
    "customer name",
    "company name",
    "company",
    "customer",
    "account",
    "name",
)
VALUE_HEADERS = (
    "contract value",
    "annual contract value",
    "current contract value",
    "acv",
    "arr",
    "contract_value",
    "annual_contract_value",
    "value",
    "amount",
)
MAX_PROBLEMS = 20
_MONEY = re.compile(r"^\(?-?\$?\s*[\d,]*\.?\d+\)?$")


class CustomerListError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class CustomerListSummary:
    rows: int
    columns: tuple[str, ...]
    name_column: str
    value_column: str
    total_value: float


def _norm(header: str) -> str:
    return " ".join(str(header).replace("_", " ").split()).casefold()


def _pick(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    normalised = {_norm(c): c for c in columns}
    for candidate in candidates:
        if _norm(candidate) in normalised:
            return normalised[_norm(candidate)]
    return None


def parse_money(raw: object) -> float | None:
    """A contract value as a number: 12000, "12,000", "$12,000.50"; None when unreadable."""
    if raw is None:
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return None if pd.isna(raw) else float(raw)
    text = str(raw).strip()
    if not text or not _MONEY.match(text):
        return None
    negative = text.startswith("(") or "-" in text
    number = float(re.sub(r"[^\d.]", "", text))
    return -number if negative else number


def _read(content: bytes, filename: str, max_uncompressed: int) -> pd.DataFrame:
    name = filename.lower()
    if name.endswith(".csv"):
        text = _decode(content, filename)
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    if name.endswith(".xlsx"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                declared = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile as exc:
            raise CustomerListError([f"{filename} is not a valid .xlsx file"]) from exc
        if declared > max_uncompressed:
            raise CustomerListError(
                [
                    f"{filename} unpacks to {declared:,} bytes, more than the {max_uncompressed:,} allowed"
                ]
            )
        return pd.read_excel(io.BytesIO(content), engine="calamine", dtype=object)
    raise CustomerListError([f"{filename}: upload a .csv or .xlsx file"])


def _decode(content: bytes, filename: str) -> str:
    """The CSV's text: UTF-8 (with or without BOM), UTF-16 with a BOM, or Windows-1252; a file
    that is none of these (binary data, UTF-16 without a BOM) is refused by name."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CustomerListError([f"{filename} is not valid UTF-16 text ({exc})"]) from exc
    if b"\x00" in content[:65536]:
        raise CustomerListError(
            [
                f"{filename} holds binary data (NUL bytes), not CSV text; if it is a UTF-16 "
                "export, save it again as “CSV UTF-8”"
            ]
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError as exc:
            failure = exc
    raise CustomerListError(
        [
            f"{filename}: byte 0x{content[failure.start : failure.start + 1].hex()} at position "
            f"{failure.start:,} is neither UTF-8 nor Windows-1252 text; save it as “CSV UTF-8”"
        ]
    )


def inspect_customer_list(
    content: bytes, *, filename: str, max_uncompressed: int
) -> CustomerListSummary:
    """Validate the file; raise ``CustomerListError`` listing every problem (up to 20)."""
    if not content:
        raise CustomerListError([f"{filename} is empty"])
    try:
        frame = _read(content, filename, max_uncompressed)
    except CustomerListError:
        raise
    except Exception as exc:  # pandas raises many types for a malformed file
        raise CustomerListError([f"{filename} could not be read: {exc}"]) from exc
    columns = [str(c) for c in frame.columns]
    name_column = _pick(columns, NAME_HEADERS)
    value_column = _pick(columns, VALUE_HEADERS)
    problems = []
    if name_column is None:
        problems.append(
            "No customer name column: name one of the columns “Account name”, “Customer” or “Company”"
        )
    if value_column is None:
        problems.append(
            "No contract value column: name one of the columns “Contract value”, “ACV” or “ARR”"
        )
    if problems:
        raise CustomerListError(problems + [f"Columns found: {', '.join(columns) or 'none'}"])
    if frame.empty:
        raise CustomerListError([f"{filename} has a header but no customers"])
    total = 0.0
    for index, (name, raw) in enumerate(zip(frame[name_column], frame[value_column], strict=True)):
        row = index + 2  # the header is row 1 in a spreadsheet
        if name is None or (not isinstance(name, str) and pd.isna(name)) or not str(name).strip():
            problems.append(f"row {row}, column “{name_column}”: the customer name is blank")
        value = parse_money(raw)
        if value is None:
            shown = "" if raw is None or (not isinstance(raw, str) and pd.isna(raw)) else str(raw)
            problems.append(
                f"row {row}, column “{value_column}”: "
                + (
                    f"“{shown}” is not an amount"
                    if shown.strip()
                    else "the contract value is blank"
                )
            )
        elif value < 0:
            problems.append(f"row {row}, column “{value_column}”: {value:,.2f} is negative")
        else:
            total += value
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"…and {len(problems) - MAX_PROBLEMS} more problems")
        raise CustomerListError(shown)
    return CustomerListSummary(
        rows=len(frame),
        columns=tuple(columns),
        name_column=name_column,
        value_column=value_column,
        total_value=round(total, 2),
    )
