"""manage.py import_accounts: the same import from the command line, one-line errors."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from territories.models import Account, AccountImport
from tests.territories import files
from tests.territories.conftest import snapshot


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("import_accounts", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue()


def test_imports_a_csv_by_engagement_id(world, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_bytes(files.csv_bytes())
    output = run(world.engagement.pk, path)
    assert "Imported 3 of 3 rows: 3 new accounts, 0 updated." in output
    assert "Account ID -> external_id" in output
    assert Account.objects.filter(engagement=world.engagement).count() == 3
    record = AccountImport.objects.get()
    assert record.uploaded_by is None and record.status == "imported"


def test_imports_an_xlsx_by_engagement_name_with_a_mapping(world, tmp_path):
    path = tmp_path / "crm.xlsx"
    path.write_bytes(files.xlsx_bytes())
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Growth Signal": "__ignore__", "Industry": "__custom__"}))
    run(world.engagement.name, path, "--mapping", mapping)
    acme = Account.objects.get(external_id="A-1")
    assert acme.industry == ""
    assert acme.custom == {"Industry": "Software"}
    run(world.engagement.name, path, "--mapping", '{"Industry": "__custom__"}')
    assert Account.objects.get(external_id="A-1").custom == {
        "Industry": "Software",
        "Growth Signal": "high",
    }


def test_strict_mode_exits_non_zero_with_one_line_and_imports_nothing(world, tmp_path):
    path = tmp_path / "crm.csv"
    rows = [files.ROWS[0], [*files.ROWS[1][:4], "lots", *files.ROWS[1][5:]]]
    path.write_bytes(files.csv_bytes(rows))
    errors = tmp_path / "errors.csv"
    before = snapshot(world.engagement)
    with pytest.raises(CommandError) as caught:
        run(world.engagement.pk, path, "--strict", "--errors", errors)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Nothing imported: 1 of 2 rows have errors")
    assert snapshot(world.engagement) == before
    assert "3,Annual Revenue,lots,Not a number." in errors.read_text(encoding="utf-8-sig")


def test_without_strict_valid_rows_land_and_the_rest_are_listed(world, tmp_path):
    path = tmp_path / "crm.csv"
    rows = [files.ROWS[0], [*files.ROWS[1][:4], "lots", *files.ROWS[1][5:]]]
    path.write_bytes(files.csv_bytes(rows))
    output = run(world.engagement.pk, path)
    assert "row 3, column Annual Revenue: 'lots': Not a number." in output
    assert "1 rows rejected" in output
    assert list(Account.objects.values_list("external_id", flat=True)) == ["A-1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999", "{file}"], "No engagement with id 999999."),
        (["No such engagement", "{file}"], "No engagement named 'No such engagement'."),
        (["{engagement}", "/nope/missing.csv"], "No such file: /nope/missing.csv"),
        (["{engagement}", "{file}", "--mapping", "{oops"], "--mapping is not valid JSON"),
        (["{engagement}", "{file}", "--mapping", '{"Nope": "name"}'], "columns the file does not have: Nope"),
        (["{engagement}", "{file}", "--mapping", '{"Account ID": "__ignore__"}'], "No column is mapped to External id"),
        (["{engagement}", "{empty}"], "empty.csv: The file is empty."),
    ],
)  # fmt: skip
def test_bad_input_exits_with_a_one_line_error(world, tmp_path, args, message):
    path = tmp_path / "crm.csv"
    path.write_bytes(files.csv_bytes())
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    values = {"{file}": str(path), "{empty}": str(empty), "{engagement}": str(world.engagement.pk)}
    filled = [values.get(a, a) for a in args]
    with pytest.raises(CommandError) as caught:
        run(*filled)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not Account.objects.exists()
