"""The Valued Account List: page, filters, CSV and XLSX exports with neutralised cells."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagements.exports import safe_cell
from engagements.models import Job
from territories import services
from tests.factories import make_account


def url(engagement, suffix=""):
    return f"/engagements/{engagement.pk}/accounts/{suffix}"


@pytest.fixture
def valued(world):
    e = world.engagement
    make_account(e, external_id="C1", name="=HYPERLINK(\"http://x\")", is_customer=True,
                 contract_value=100_000, custom={"Note": "+1 555 0100", "Tag": "@risk"})  # fmt: skip
    make_account(e, external_id="C2", name="Bravo", is_customer=True, contract_value=50_000)
    make_account(e, external_id="C3", name="Charlie", is_customer=True, contract_value=10_000)
    make_account(e, external_id="P1", name="-Dash Co", annual_revenue=2e9)
    make_account(e, external_id="P2", name="Echo\tTab")
    services.accounts_revalue(engagement=e)
    return e


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+1 555", "'+1 555"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("Acme", "Acme"), (-5, -5), (1.5, 1.5), (None, None),
     (float("nan"), None)],
)  # fmt: skip
def test_safe_cell_neutralises_text_that_a_spreadsheet_would_run(value, expected):
    assert safe_cell(value) == expected


def test_the_list_shows_values_with_explanations_highest_first(world, valued, client):
    client.force_login(world.viewer)
    page = client.get(url(valued)).content.decode()
    assert 'hx-history="false"' in page
    assert page.index("=HYPERLINK") < page.index("Bravo") < page.index("Charlie")
    assert "current ACV $100,000 + 20 % expansion $20,000 = $120,000" in page
    assert "=HYPERLINK(&quot;http://x&quot;)" in page  # escaped like all user text


def test_filters_narrow_the_list(world, valued, client):
    client.force_login(world.architect)
    prospects = client.get(url(valued), {"kind": "prospect"}).content.decode()
    assert "Dash Co" in prospects and "Bravo" not in prospects
    enterprise = client.get(url(valued), {"segment": "Enterprise"}).content.decode()
    assert "Dash Co" in enterprise and "Echo" not in enterprise
    search = client.get(url(valued), {"q": "brav"}).content.decode()
    assert "Bravo" in search and "Charlie" not in search
    none = client.get(url(valued), {"tier": "T1"}).content.decode()
    assert "No accounts match these filters." in none


def test_the_list_has_a_fixed_number_of_queries(world, valued, client):
    client.force_login(world.architect)
    with CaptureQueriesContext(connection) as small:
        client.get(url(valued))
    for i in range(60):
        make_account(valued, external_id=f"X{i}", name=f"Extra {i}")
    with CaptureQueriesContext(connection) as large:
        client.get(url(valued))
    # Session, user, engagement, membership, count, one page of accounts, the valuation summary,
    # the segment definition, recent exports: the same whether 5 or 65 accounts.
    assert len(large) == len(small)


def test_csv_export_neutralises_every_text_cell(world, valued, client):
    client.force_login(world.customer)
    response = client.get(url(valued, "export.csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    import csv

    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[:2] == ["External id", "Account"]
    assert header[-2:] == ["Note", "Tag"]
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert by_id["C1"]["Account"] == '\'=HYPERLINK("http://x")'
    assert by_id["C1"]["Note"] == "'+1 555 0100"
    assert by_id["C1"]["Tag"] == "'@risk"
    assert by_id["P1"]["Account"] == "'-Dash Co"
    assert by_id["P2"]["Account"] == "Echo\tTab"  # a tab inside is harmless; at the start it is not
    assert by_id["C1"]["Account value (USD)"] == "120000"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_xlsx_export_runs_as_a_job_and_downloads_with_neutralised_cells(
    world, valued, client, run_jobs
):
    from openpyxl import load_workbook

    client.force_login(world.customer)
    with run_jobs():
        response = client.post(url(valued, "export.xlsx"))
    job = Job.objects.get(engagement=valued)
    assert response.url == url(valued) + f"?job={job.pk}"
    assert job.status == Job.Status.SUCCEEDED, job.error
    page = client.get(url(valued)).content.decode()
    download = url(valued, f"exports/{job.pk}/download/")
    assert download in page
    response = client.get(download)
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["Valued accounts"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "External id"
    cells = {row[0]: row for row in values[1:]}
    assert cells["C1"][1] == '\'=HYPERLINK("http://x")'
    assert cells["P1"][1] == "'-Dash Co"
    assert cells["C1"][16] == 120000  # numbers stay numbers
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    assert "Valuation summary" in workbook.sheetnames


def test_another_engagements_export_cannot_be_downloaded(world, valued, client):
    other_job = Job.objects.create(
        engagement=world.other, kind="territories.jobs.valued_accounts_export", title="x",
        status=Job.Status.SUCCEEDED, result={"path": "exports/1/x.xlsx"},
    )  # fmt: skip
    client.force_login(world.architect)
    assert client.get(url(valued, f"exports/{other_job.pk}/download/")).status_code == 404
    escape = Job.objects.create(
        engagement=valued, kind="territories.jobs.valued_accounts_export", title="x",
        status=Job.Status.SUCCEEDED, result={"path": "../../etc/passwd"},
    )  # fmt: skip
    assert client.get(url(valued, f"exports/{escape.pk}/download/")).status_code == 404
