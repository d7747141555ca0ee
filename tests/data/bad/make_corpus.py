"""Write the bad-input corpus next to this file (run once; the output is committed).

    .venv/bin/python tests/data/bad/make_corpus.py

Deterministic: running it again rewrites the same bytes. Each file is one bad input; what every
endpoint must answer to it is in ``expected.json``. Files that would be large (an oversized
upload, a real highly compressible sheet) are made by the test at run time instead.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

HERE = Path(__file__).parent

ACCOUNT_HEADER = "Account ID,Account Name,Annual Revenue,Employees,State,Postal Code,Country"
GOOD_ROW = "A-1,Acme,1000000,50,CA,94105,US"


def _minimal_xlsx(*, workbook_xml: bytes | None = None, sheet_xml: bytes | None = None) -> bytes:
    """A small valid workbook (one sheet, Account ID + Annual Revenue, one row) whose
    workbook.xml or sheet1.xml can be swapped for a hostile one."""
    content_types = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        b'<Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        b"</Types>"
    )
    root_rels = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        b"</Relationships>"
    )
    workbook = workbook_xml or (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        b'<sheets><sheet name="Accounts" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    workbook_rels = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        b"</Relationships>"
    )
    sheet = sheet_xml or (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>Account ID</t></is></c>'
        b'<c r="B1" t="inlineStr"><is><t>Account Name</t></is></c>'
        b'<c r="C1" t="inlineStr"><is><t>Annual Revenue</t></is></c></row>'
        b'<row r="2"><c r="A2" t="inlineStr"><is><t>A-1</t></is></c>'
        b'<c r="B2" t="inlineStr"><is><t>Acme</t></is></c><c r="C2"><v>1000</v></c></row>'
        b"</sheetData></worksheet>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", root_rels),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", workbook_rels),
            ("xl/worksheets/sheet1.xml", sheet),
        ):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _claim_huge_size(data: bytes, member: str, size: int = 3_000_000_000) -> bytes:
    """Rewrite the central directory so ``member`` declares ``size`` uncompressed bytes (the
    local header keeps the truth): the shape of a zip bomb, in a few hundred bytes."""
    out = bytearray(data)
    name = member.encode()
    at = 0
    while True:
        at = out.find(b"PK\x01\x02", at)
        if at < 0:
            raise ValueError(member)
        name_len = struct.unpack_from("<H", out, at + 28)[0]
        if bytes(out[at + 46 : at + 46 + name_len]) == name:
            struct.pack_into("<I", out, at + 24, size)
            return bytes(out)
        at += 4


XXE_WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<!DOCTYPE workbook [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="&xxe;" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
LAUGHS = (
    b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE worksheet ['
    b'<!ENTITY a "lollollollollollollollollollol">'
    + b"".join(
        b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10) for i in range(8)
    )
    + b"]>"
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>Account ID</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>Account Name</t></is></c></row>'
    b'<row r="2"><c r="A2" t="inlineStr"><is><t>A-1</t></is></c>'
    b'<c r="B2" t="inlineStr"><is><t>&i;</t></is></c></row>'
    b"</sheetData></worksheet>"
)
LAUGHS_WORKBOOK = LAUGHS.replace(b"worksheet", b"workbook", 2)


def whole_files() -> dict[str, bytes]:
    """Bad whole files: every upload endpoint and command gets each of these."""
    header = ACCOUNT_HEADER.encode()
    utf16 = f"{ACCOUNT_HEADER}\n{GOOD_ROW}\n".encode("utf-16-le")  # no BOM
    not_a_workbook = io.BytesIO()
    with zipfile.ZipFile(not_a_workbook, "w") as archive:
        archive.writestr(zipfile.ZipInfo("notes.txt", (2026, 1, 1, 0, 0, 0)), b"hello")
    return {
        "empty.csv": b"",
        "blank_lines.csv": b"\n \n\r\n",
        "header_only.csv": header + b"\n",
        "utf16_without_bom.csv": utf16,
        "undecodable_bytes.csv": header + b"\nA-1,Caf\xc3\xa9 \x81\x8d,1000,5,CA,94105,US\n",
        "nul_bytes.csv": header + b"\nA-1,Ac\x00me,1000,5,CA,94105,US\n",
        "binary_garbage.csv": bytes((i * 37 + 11) % 256 for i in range(600)),
        "pdf_named_csv.csv": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n",
        "csv_named_xlsx.xlsx": (ACCOUNT_HEADER + "\n" + GOOD_ROW + "\n").encode(),
        "zip_not_workbook.xlsx": not_a_workbook.getvalue(),
        "zip_bomb_declared.xlsx": _claim_huge_size(_minimal_xlsx(), "xl/worksheets/sheet1.xml"),
        "xxe_workbook.xlsx": _minimal_xlsx(workbook_xml=XXE_WORKBOOK),
        "billion_laughs_sheet.xlsx": _minimal_xlsx(sheet_xml=LAUGHS),
        "truncated_zip.xlsx": _minimal_xlsx()[:300],
    }


FORMULA_SHEET = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>Account ID</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>Account Name</t></is></c>'
    b'<c r="C1" t="inlineStr"><is><t>Annual Revenue</t></is></c></row>'
    b'<row r="2"><c r="A2" t="inlineStr"><is><t>A-1</t></is></c>'
    b'<c r="B2" t="inlineStr"><is><t>Acme</t></is></c>'
    b'<c r="C2"><f>1000*2</f><v>2000</v></c></row>'
    b"</sheetData></worksheet>"
)


def account_rows() -> dict[str, bytes]:
    """Readable account files that must import nothing: every row is bad (the import reports
    each row and field), or the layout lacks the required external-id column (the mapping step
    refuses it)."""
    h = ACCOUNT_HEADER
    cases = {
        "negative_revenue.csv": f"{h}\nA-1,Acme,-1000,5,CA,94105,US\n",
        "no_id_column.csv": "Account Name,Annual Revenue,Employees,State\nAcme,1000,5,CA\n",
        "non_numeric_revenue.csv": f"{h}\nA-1,Acme,lots,50,CA,94105,US\nA-2,Bee,12abc,5,CA,94105,US\n",
        "negative_employees.csv": f"{h}\nA-1,Acme,1000,-5,CA,94105,US\n",
        "postal_code_10_digits.csv": f"{h}\nA-1,Acme,1000,5,CA,9410512345,US\n",
        "revenue_1e309.csv": f"{h}\nA-1,Acme,1e309,5,CA,94105,US\n",
        "formula_injection.csv": f'{h}\nA-1,"=HYPERLINK(""http://evil.example/"",""x"")",1000,5,CA,94105,US\n',
        "duplicate_ids.csv": f"{h}\nA-1,Acme,1000,5,CA,94105,US\nA-1,Acme again,2000,5,CA,94105,US\n",
        "missing_id.csv": f"{h}\n,Acme,1000,5,CA,94105,US\n",
        "too_many_cells.csv": f"{h}\nA-1,Acme,1000,5,CA,94105,US,extra,cells\n",
    }
    out = {name: text.encode() for name, text in cases.items()}
    # A formula cell with its cached value: refused, a formula is not a value.
    out["formula_cells.xlsx"] = _minimal_xlsx(sheet_xml=FORMULA_SHEET)
    return out


def customer_list_rows() -> dict[str, bytes]:
    """Readable customer lists (intake) whose rows are bad."""
    h = "Account name,ACV"
    cases = {
        "value_not_a_number.csv": f"{h}\nAcme,lots\n",
        "value_negative.csv": f"{h}\nAcme,-500\n",
        "value_1e309.csv": f"{h}\nAcme,1e309\n",
        "name_blank.csv": f"{h}\n,1000\n",
        "no_value_column.csv": "Account name,Industry\nAcme,Software\n",
    }
    return {name: text.encode() for name, text in cases.items()}


def api_bodies() -> dict[str, bytes]:
    """Bodies for ``POST /api/v1/route`` (sent as application/json with a valid token)."""
    # Deeper than the JSON parser recurses, yet under the 4 KB body limit the test sets.
    nested = b"[" * 2_000 + b"]" * 2_000
    return {
        "not_json.txt": b"State=CA&Zip=94105",
        "invalid_utf8.txt": b'{"state": "C\xff"}',
        "array.json": b'[{"state": "CA"}]',
        "string.json": b'"CA"',
        "nan.json": b'{"annual_revenue": NaN}',
        "revenue_1e309.json": b'{"annual_revenue": 1e309}',
        "revenue_1e309_string.json": b'{"annual_revenue": "1e309"}',
        "employees_huge_integer.json": b'{"employees": 1' + b"0" * 400 + b"}",
        "wrong_types.json": b'{"state": 6, "annual_revenue": [1], "external_id": {"a": 1}, "name": true}',
        "records_not_a_list.json": b'{"records": {"state": "CA"}}',
        "records_empty.json": b'{"records": []}',
        "records_item_not_object.json": b'{"records": [{"state": "CA"}, 7]}',
        "text_too_long.json": b'{"name": "' + b"x" * 301 + b'"}',
        "deeply_nested.json": nested,
        "deeply_nested_in_record.json": b'{"state": ' + nested + b"}",
    }


def form_values() -> dict[str, bytes]:
    """Values typed into the assumption forms (register, and "correct" on a numeric one)."""
    return {
        "nan.txt": b"NaN",
        "infinity.txt": b"-Infinity",
        "number_1e309.txt": b"1e309",
        "inside_json_1e309.txt": b'{"rate": 1e309}',
        "deeply_nested.txt": b"[" * 2_000 + b"]" * 2_000,
    }


def main() -> None:
    groups = {
        "files": whole_files(),
        "account_rows": account_rows(),
        "customer_list_rows": customer_list_rows(),
        "api": api_bodies(),
        "form_values": form_values(),
    }
    for folder, files in groups.items():
        target = HERE / folder
        target.mkdir(exist_ok=True)
        for old in target.iterdir():
            old.unlink()
        for name, data in files.items():
            (target / name).write_bytes(data)
    print(json.dumps({k: sorted(v) for k, v in groups.items()}, indent=1))


if __name__ == "__main__":
    main()
