"""Reading and validating account files, without a database (territories.ingest is pure)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from territories import ingest
from tests.territories import files

LIMIT = 50 * 1024 * 1024
UNZIPPED = 100 * 1024 * 1024


def _write(tmp_path: Path, data: bytes, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _load(path: Path):
    table, preview = ingest.inspect_file(path, max_bytes=LIMIT, max_uncompressed=UNZIPPED)
    raw = ingest.read_table(path, table, max_uncompressed=UNZIPPED)
    return table, preview, raw


def _validate(path: Path, mapping=None):
    table, _, raw = _load(path)
    return ingest.validate(
        raw, mapping or ingest.auto_map(table.headers), decimal_comma=table.delimiter == ";"
    )


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter"),
    [
        ("utf-8", False, ","),
        ("utf-8", True, ";"),
        ("cp1252", False, "\t"),
        ("utf-16", False, "\t"),  # Excel's "Unicode text": UTF-16 with a BOM, tab separated
    ],
)
def test_csv_in_every_common_encoding_and_separator_reads_the_same(
    tmp_path, encoding, bom, delimiter
):
    rows = [[*files.ROWS[0][:1], "Café Société", *files.ROWS[0][2:]], *files.ROWS[1:]]
    data = files.csv_bytes(rows, delimiter=delimiter, encoding=encoding, bom=bom)
    table, preview, raw = _load(_write(tmp_path, data))
    assert table.format == "csv"
    assert table.delimiter == delimiter
    assert table.headers == tuple(files.HEADER)
    assert preview[0][1] == "Café Société"
    assert list(raw["Account Name"]) == ["Café Société", "Bluebird Bank", "Cedar Health"]
    assert list(raw.index) == [2, 3, 4]  # spreadsheet row numbers: the header is row 1


def test_xlsx_reads_like_the_csv_and_numbers_become_text_as_typed(tmp_path):
    rows = [[r[0], r[1], r[2], int(r[3]), float(r[4]), *r[5:]] for r in files.ROWS]
    table, preview, raw = _load(_write(tmp_path, files.xlsx_bytes(rows), "accounts.xlsx"))
    assert table.format == "xlsx"
    assert table.sheet == "Accounts"
    assert preview[0][:5] == ["A-1", "Acme Analytics", "Software", "1200", "250000000"]
    assert list(raw["Employees"]) == ["1200", "8000", "40"]
    assert list(raw["Zip"]) == ["02134", "10001", "05401"]


def test_headers_are_auto_mapped_by_synonym_and_the_rest_kept_as_custom():
    mapping = ingest.auto_map(
        [
            "Account ID",
            "Account Name",
            "Billing State/Province",
            "Billing Zip/Postal Code",
            "No. of Employees",
            "ACV",
            "Account Owner",
            "Growth Signal",
            "Website",
        ]
    )
    assert mapping == {
        "Account ID": "external_id",
        "Account Name": "name",
        "Billing State/Province": "state",
        "Billing Zip/Postal Code": "postal_code",
        "No. of Employees": "employees",
        "ACV": "contract_value",
        "Account Owner": "current_owner",
        "Growth Signal": ingest.CUSTOM,
        "Website": "domain",
    }


def test_a_field_is_auto_mapped_once_even_when_two_headers_could_mean_it():
    mapping = ingest.auto_map(["ID", "Account ID", "Name"])
    assert list(mapping.values()).count("external_id") == 1


def test_valid_rows_come_out_typed_with_custom_attributes(tmp_path):
    checked = _validate(_write(tmp_path, files.csv_bytes()))
    assert checked.errors == []
    frame = checked.frame
    assert list(frame["external_id"]) == ["A-1", "A-2", "A-3"]
    assert list(frame["employees"]) == [1200, 8000, 40]
    assert list(frame["annual_revenue"]) == [250e6, 2.5e9, 9e6]
    assert list(frame["is_customer"]) == [True, False, False]
    assert frame["contract_value"].iloc[0] == 120000.0
    assert math.isnan(frame["contract_value"].iloc[1])
    assert list(frame["postal_code"]) == ["02134", "10001", "05401"]
    assert frame["custom"].iloc[0] == {"Growth Signal": "high"}
    assert "domain" not in checked.fields  # the file has no domain column: never blanked


def test_leading_zeros_lost_by_excel_are_restored_for_us_zip_codes(tmp_path):
    rows = [["A-1", "Acme", "", "", "", "MA", "2134", "", "", ""]]
    rows.append(["A-2", "Bee", "", "", "", "NJ", '="07030"', "", "", ""])  # Excel's literal form
    checked = _validate(_write(tmp_path, files.csv_bytes(rows)))
    assert checked.errors == []
    assert list(checked.frame["postal_code"]) == ["02134", "07030"]
    assert any("leading zeros" in note for note in checked.notes)


def test_numbers_in_the_forms_crm_exports_use_parse(tmp_path):
    header = ["ID", "Name", "Revenue", "ACV"]
    rows = [["1", "A", "$1,250,000", "1.2E+05"], ["2", "B", " 42 ", "USD 3,000.50"]]
    checked = _validate(_write(tmp_path, files.csv_bytes(rows, header)))
    assert checked.errors == []
    assert list(checked.frame["annual_revenue"]) == [1_250_000.0, 42.0]
    assert list(checked.frame["contract_value"]) == [120_000.0, 3_000.5]


def test_semicolon_files_read_european_decimals(tmp_path):
    header = ["ID", "Name", "Revenue"]
    rows = [["1", "A", "1.234.567,89"], ["2", "B", "12,5"], ["3", "C", "1000"]]
    checked = _validate(_write(tmp_path, files.csv_bytes(rows, header, delimiter=";")))
    assert list(checked.frame["annual_revenue"]) == [1_234_567.89, 12.5, 1000.0]


def test_every_bad_cell_is_reported_by_row_column_value_and_reason(tmp_path):
    rows = [
        ["A-1", "Acme", "Software", "12.5", "abc", "MA", "02134", "maybe", "-5", ""],
        ["", "No id", "", "", "", "", "", "", "", ""],
        ["A-3", "", "", "-3", "", "", "", "", "", ""],
        ["A-4", "Fine", "", "10", "1000", "", "", "", "", ""],
    ]
    checked = _validate(_write(tmp_path, files.csv_bytes(rows)))
    found = {(e.row, e.column, e.value, e.reason) for e in checked.errors}
    assert found == {
        (2, "Employees", "12.5", "Must be a whole number."),
        (2, "Annual Revenue", "abc", "Not a number."),
        (2, "Customer", "maybe", "Not a yes/no value (use yes, no, true, false, 1 or 0)."),
        (2, "ACV", "-5", "Must not be negative."),
        (3, "Account ID", "", "External id is required."),
        (4, "Account Name", "", "Name is required."),
        (4, "Employees", "-3", "Must not be negative."),
    }
    assert list(checked.frame["external_id"]) == ["A-4"]
    assert checked.invalid_rows == 3


def test_duplicate_external_ids_in_one_file_reject_every_copy(tmp_path):
    rows = [files.ROWS[0], files.ROWS[1], [*files.ROWS[0][:1], "Acme again", *files.ROWS[0][2:]]]
    checked = _validate(_write(tmp_path, files.csv_bytes(rows)))
    reasons = {(e.row, e.reason) for e in checked.errors}
    message = "External id appears more than once in the file (rows 2, 4)."
    assert reasons == {(2, message), (4, message)}
    assert list(checked.frame["external_id"]) == ["A-2"]


def test_formulas_in_csv_cells_are_refused(tmp_path):
    rows = [["A-1", '=HYPERLINK("http://evil.example","x")', "", "", "", "", "", "", "", ""]]
    checked = _validate(_write(tmp_path, files.csv_bytes(rows)))
    assert [(e.row, e.column, e.reason) for e in checked.errors] == [
        (2, "Account Name", "Looks like a spreadsheet formula; import values only.")
    ]
    assert checked.frame.empty


def test_formula_cells_in_xlsx_are_refused_even_with_a_cached_value(tmp_path):
    rows = [["A-1", "Acme", "Software", "=10*12", "1000", "MA", "02134", "no", "", ""]]
    path = _write(tmp_path, files.xlsx_bytes(rows), "accounts.xlsx")
    checked = _validate(path)
    assert [(e.row, e.column, e.reason) for e in checked.errors] == [
        (2, "Employees", "The cell holds a formula; import values only.")
    ]


def test_a_mapping_without_required_fields_is_refused_whole(tmp_path):
    table, _, raw = _load(_write(tmp_path, files.csv_bytes()))
    mapping = {**ingest.auto_map(table.headers), "Account ID": ingest.IGNORE}
    with pytest.raises(ingest.FileRejected, match="No column is mapped to External id"):
        ingest.validate(raw, mapping)
    mapping = {**ingest.auto_map(table.headers), "Industry": "name"}
    with pytest.raises(ingest.FileRejected, match="Name is mapped from more than one column"):
        ingest.validate(raw, mapping)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.csv", "The file is empty."),
        (b"\r\n  \r\n", "a.csv", "only blank lines"),
        (",".join(files.HEADER).encode(), "a.csv", "header row but no account rows"),
        (b"%PDF-1.7\n...", "a.csv", "PDF document, not a spreadsheet"),
        (b"\x89PNG\r\n\x1a\n....", "a.csv", "an image, not a spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1....", "a.xls", "old Excel 97"),
        (b"just text, but named", "a.xlsx", "not an Excel workbook"),
        (b"ID,Name\n1,Caf\x81\n", "a.csv", "byte 0x81 at position 13"),
        ("ID,Name\n1,Acme\n".encode("utf-16-le"), "a.csv", "binary data"),
        (b"ID,Name\n1,Acme\n2,Bee,extra,more\n", "a.csv", "Line 3 has 4 values"),
    ],
)
def test_bad_files_are_rejected_with_a_clear_message(tmp_path, data, name, message):
    path = _write(tmp_path, data, name)
    with pytest.raises(ingest.FileRejected, match=message):
        _load(path)


def test_a_zip_that_is_not_a_workbook_is_rejected(tmp_path):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ingest.FileRejected, match="zip archive but not an Excel workbook"):
        _load(_write(tmp_path, buffer.getvalue(), "a.xlsx"))


def test_a_zip_bomb_is_rejected_before_any_parser_opens_it(tmp_path, monkeypatch):
    import python_calamine

    def no_parsing(*args, **kwargs):
        raise AssertionError("a spreadsheet parser ran on a zip bomb")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", no_parsing)
    data = files.zip_bomb_bytes(declared_mb=200)
    assert len(data) < 1_000_000  # small on disk …
    with pytest.raises(ingest.FileRejected, match="would expand to 200 MB"):  # … huge unzipped
        _load(_write(tmp_path, data, "bomb.xlsx"))


def test_a_file_over_the_size_limit_is_rejected(tmp_path):
    path = _write(tmp_path, files.csv_bytes())
    with pytest.raises(ingest.FileRejected, match="over the 0 MB upload limit"):
        ingest.inspect_file(path, max_bytes=100, max_uncompressed=UNZIPPED)


def test_an_xml_entity_bomb_inside_a_workbook_is_refused(tmp_path):
    import io
    import zipfile

    source = io.BytesIO(files.xlsx_bytes())
    target = io.BytesIO()
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheets><sheet name='&lol2;' sheetId='1'/></sheets></workbook>"
    )
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = bomb.encode() if item.filename == "xl/workbook.xml" else old.read(item)
            new.writestr(item, data)
    with pytest.raises(ingest.FileRejected, match="cannot be read safely"):
        _load(_write(tmp_path, target.getvalue(), "entities.xlsx"))


def test_parse_numbers_leaves_garbage_as_nan():
    import pandas as pd

    values = ingest.parse_numbers(pd.Series(["1,000", "1e400", "12abc", "", "(5)", "7"]))
    assert values.iloc[0] == 1000.0
    assert math.isinf(values.iloc[1])
    assert [math.isnan(v) for v in values.iloc[2:5]] == [True, True, True]
    assert values.iloc[5] == 7.0


def test_text_limits_match_the_account_model():
    from territories.models import Account

    for field, limit in ingest.TEXT_LIMITS.items():
        assert Account._meta.get_field(field).max_length == limit, field


def test_the_streamed_preview_of_a_workbook_matches_the_full_read(tmp_path):
    from openpyxl import Workbook
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Export"
    sheet["B2"] = "Account ID"  # the table starts at B2, not A1
    sheet["C2"] = "Name"
    sheet["D2"] = "Employees"
    sheet["E2"] = "Customer"
    sheet["B3"], sheet["C3"], sheet["D3"], sheet["E3"] = "A-1", "Acme", 12, True
    sheet["B4"] = "A-2"
    sheet["C4"] = CellRichText(["Bold", TextBlock(InlineFont(b=True), " Co")])
    sheet["D4"], sheet["E4"] = 3.5, False
    path = tmp_path / "rich.xlsx"
    workbook.save(path)
    table, preview, raw = _load(path)
    assert table.headers == ("Column A", "Account ID", "Name", "Employees", "Customer")
    assert preview == [["", "A-1", "Acme", "12", "TRUE"], ["", "A-2", "Bold Co", "3.5", "FALSE"]]
    assert raw.values.tolist() == preview
    assert list(raw.index) == [3, 4]
