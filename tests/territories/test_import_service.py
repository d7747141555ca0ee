"""Importing account files into the universe: atomic, upserting, every bad file refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from territories import ingest
from territories.models import Account, AccountImport, DataQualitySummary, ValuationSummary
from tests.factories import make_account
from tests.territories import files
from tests.territories.conftest import snapshot


@pytest.fixture
def existing(world):
    """An engagement that already holds accounts: bad imports must leave them exactly as they are."""
    make_account(world.engagement, external_id="A-1", name="Acme (old)", domain="acme.com",
                 custom={"Segment Note": "kept"})  # fmt: skip
    make_account(world.engagement, external_id="Z-9", name="Zulu", postal_code="00501")
    return world.engagement


def test_an_import_creates_accounts_values_them_and_reports_quality(world, import_file):
    record = import_file(world.engagement, files.csv_bytes())
    assert record.status == AccountImport.Status.IMPORTED
    assert (record.rows_total, record.created_count, record.updated_count) == (3, 3, 0)
    acme = Account.objects.get(engagement=world.engagement, external_id="A-1")
    assert acme.name == "Acme Analytics"
    assert acme.employees == 1200
    assert acme.annual_revenue == 250e6
    assert acme.postal_code == "02134"
    assert acme.is_customer and acme.contract_value == 120000
    assert acme.custom == {"Growth Signal": "high"}
    # The universe is valued at once: segment, tier and value with its explanation.
    assert acme.segment == "Commercial" and acme.tier == "unqualified"
    assert acme.value == 144000 and "current ACV $120,000" in acme.value_explanation
    assert ValuationSummary.objects.get(engagement=world.engagement).account_count == 3
    assert DataQualitySummary.objects.get(engagement=world.engagement).account_count == 3
    assert world.engagement.activity.filter(verb="accounts.imported").exists()


def test_reimporting_updates_by_external_id_and_never_duplicates(world, import_file, existing):
    first = import_file(world.engagement, files.csv_bytes())
    assert (first.created_count, first.updated_count) == (2, 1)
    rows = [[*r] for r in files.ROWS]
    rows[0][1] = "Acme Analytics Inc"
    second = import_file(world.engagement, files.csv_bytes(rows))
    assert (second.created_count, second.updated_count) == (0, 3)
    assert Account.objects.filter(engagement=world.engagement).count() == 4
    acme = Account.objects.get(engagement=world.engagement, external_id="A-1")
    assert acme.name == "Acme Analytics Inc"
    # Columns the file does not have are left alone; custom attributes merge.
    assert acme.domain == "acme.com"
    assert acme.custom == {"Segment Note": "kept", "Growth Signal": "high"}
    assert Account.objects.get(engagement=world.engagement, external_id="Z-9").name == "Zulu"


def test_xlsx_imports_like_csv(world, import_file):
    record = import_file(world.engagement, files.xlsx_bytes(), "accounts.xlsx")
    assert record.status == AccountImport.Status.IMPORTED, record.message
    assert Account.objects.get(external_id="A-3").postal_code == "05401"


def test_non_strict_imports_valid_rows_and_reports_the_rest(world, import_file, existing):
    rows = [files.ROWS[0], [*files.ROWS[1][:4], "lots", *files.ROWS[1][5:]], files.ROWS[2]]
    record = import_file(world.engagement, files.csv_bytes(rows))
    assert record.status == AccountImport.Status.PARTIAL
    assert (record.rows_imported, record.rows_rejected) == (2, 1)
    assert record.errors == [
        {"row": 3, "column": "Annual Revenue", "value": "lots", "reason": "Not a number."}
    ]
    assert not Account.objects.filter(external_id="A-2").exists()
    text = record.errors_file.read().decode("utf-8-sig")
    assert text.splitlines() == ["row,column,value,reason", "3,Annual Revenue,lots,Not a number."]


BAD_ROWS = {
    "non-numeric revenue": [[*files.ROWS[0][:4], "a lot", *files.ROWS[0][5:]]],
    "negative employees": [[*files.ROWS[0][:3], "-4", *files.ROWS[0][4:]]],
    "negative revenue": [[*files.ROWS[0][:4], "-250000", *files.ROWS[0][5:]]],
    "negative ACV": [[*files.ROWS[0][:8], "-100", files.ROWS[0][9]]],
    "duplicate ids": [files.ROWS[0], files.ROWS[0]],
    "formula": [[files.ROWS[0][0], "=1+1", *files.ROWS[0][2:]]],
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_strict_mode_with_any_bad_row_changes_nothing(world, import_file, existing, case):
    before = snapshot(existing)
    record = import_file(existing, files.csv_bytes([*BAD_ROWS[case], files.ROWS[2]]), strict=True)
    assert record.status == AccountImport.Status.REJECTED
    assert "strict mode imports nothing" in record.message
    assert record.error_count >= 1
    assert snapshot(existing) == before


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_without_strict_mode_a_bad_row_never_reaches_the_universe(
    world, import_file, existing, case
):
    before = {a.external_id: a.name for a in Account.objects.filter(engagement=existing)}
    record = import_file(existing, files.csv_bytes(BAD_ROWS[case]))
    assert record.status == AccountImport.Status.REJECTED  # no valid row at all
    assert record.message == "No row is valid; nothing was imported."
    assert {a.external_id: a.name for a in Account.objects.filter(engagement=existing)} == before


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"ID,Name\n1,Caf\x81\n", "a.csv", "neither UTF-8 nor Windows-1252"),
        (b"", "a.csv", "The file is empty."),
        (",".join(files.HEADER).encode(), "a.csv", "header row but no account rows"),
        (b"%PDF-1.4 not a sheet", "a.csv", "not a spreadsheet"),
        (files.zip_bomb_bytes(500), "bomb.xlsx", "would expand to"),
    ],
)
def test_a_bad_file_is_refused_at_upload_and_stores_nothing(
    world, upload, existing, media_root, data, name, message
):
    before = snapshot(existing)
    with pytest.raises(ValidationError, match=message):
        upload(existing, data, name)
    assert not AccountImport.objects.exists()
    assert snapshot(existing) == before
    assert not any(p.is_file() for p in media_root.rglob("*"))  # the upload was deleted


def test_a_file_over_the_size_limit_is_refused(world, upload, settings, existing, media_root):
    settings.MAX_UPLOAD_BYTES = 100
    before = snapshot(existing)
    with pytest.raises(ValidationError, match="over the 0 MB upload limit"):
        upload(existing, files.csv_bytes())
    assert not AccountImport.objects.exists()
    assert snapshot(existing) == before
    assert not any(p.is_file() for p in media_root.rglob("*"))


@pytest.mark.parametrize("strict", [True, False])
def test_an_xlsx_with_a_formula_cell_changes_nothing(world, import_file, existing, strict):
    # openpyxl stores a text starting with "=" as a live formula: a real formula cell.
    rows = [[*files.ROWS[0][:4], "=250000000*1", *files.ROWS[0][5:]]]
    before = snapshot(existing)
    record = import_file(existing, files.xlsx_bytes(rows), "accounts.xlsx", strict=strict)
    assert record.status == AccountImport.Status.REJECTED
    assert record.errors[0]["row"] == 2 and record.errors[0]["column"] == "Annual Revenue"
    assert record.errors[0]["reason"] == "The cell holds a formula; import values only."
    assert snapshot(existing) == before


def test_a_missing_required_column_is_refused_and_changes_nothing(world, upload, existing):
    header = [h for h in files.HEADER if h != "Account ID"]
    rows = [r[1:] for r in files.ROWS]
    record = upload(existing, files.csv_bytes(rows, header))
    before = snapshot(existing)
    with pytest.raises(ValidationError, match="No column is mapped to External id"):
        from territories import services

        services.account_import_configure(
            account_import=record, mapping=record.mapping, strict=False
        )
    assert snapshot(existing) == before


def test_a_file_that_changed_under_the_import_fails_it_with_nothing_written(
    world, upload, existing
):
    from territories import services

    record = upload(existing, files.csv_bytes())
    record.file.open("wb")
    record.file.write(b"")
    record.file.close()
    before = snapshot(existing)
    record = services.account_import_run(account_import=record)
    assert record.status == AccountImport.Status.FAILED
    assert record.message == "The file is empty."
    assert snapshot(existing) == before


def test_a_database_error_mid_write_rolls_the_whole_import_back(
    world, upload, existing, monkeypatch
):
    from territories import services

    record = upload(existing, files.csv_bytes())
    before = snapshot(existing)
    real_write = services.accounts_write

    def write_then_fail(**kwargs):
        real_write(**kwargs)
        raise RuntimeError("connection lost")

    monkeypatch.setattr(services, "accounts_write", write_then_fail)
    with pytest.raises(RuntimeError):
        services.account_import_run(account_import=record)
    assert snapshot(existing) == before


def test_the_data_quality_report_lists_what_the_last_import_rejected(world, import_file):
    rows = [files.ROWS[0], [*files.ROWS[1][:4], "lots", *files.ROWS[1][5:]]]
    import_file(world.engagement, files.csv_bytes(rows))
    report = DataQualitySummary.objects.get(engagement=world.engagement).report
    assert report["last_import"]["rows_rejected"] == 1
    assert report["last_import"]["problems"] == [
        {"column": "Annual Revenue", "reason": "Not a number.", "count": 1}
    ]


@pytest.mark.needs_postgres
def test_postgres_upsert_goes_through_copy_and_merges_custom_attributes(
    world, import_file, existing
):
    from django.db import connection

    with connection.execute_wrapper(_recorder := _Recorder()):
        import_file(existing, files.csv_bytes(), mapping={"Industry": ingest.CUSTOM})
    # COPY itself bypasses execute wrappers; the temp table it fills does not.
    assert any("FROM _account_import t ON CONFLICT" in sql for sql in _recorder.sql)
    acme = Account.objects.get(engagement=existing, external_id="A-1")
    assert acme.custom == {"Segment Note": "kept", "Growth Signal": "high", "Industry": "Software"}


class _Recorder:
    def __init__(self):
        self.sql = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql.strip())
        return execute(sql, params, many, context)
