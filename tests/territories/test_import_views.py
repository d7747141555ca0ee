"""The import pages: upload, confirm the mapping, follow the job, read and download errors."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from engagements.models import Job
from territories.models import Account, AccountImport
from tests.factories import make_account
from tests.territories import files
from tests.territories.conftest import snapshot


def url(engagement, suffix=""):
    return f"/engagements/{engagement.pk}/accounts/imports/{suffix}"


def post_file(client, engagement, data, name="accounts.csv"):
    return client.post(url(engagement), {"file": SimpleUploadedFile(name, data)})


def test_architect_uploads_confirms_the_mapping_and_the_job_imports(world, client, run_jobs):
    client.force_login(world.architect)
    response = post_file(client, world.engagement, files.csv_bytes())
    record = AccountImport.objects.get(engagement=world.engagement)
    assert response.status_code == 302
    assert response.url == url(world.engagement, f"{record.pk}/")
    assert record.status == AccountImport.Status.UPLOADED
    assert record.uploaded_by == world.architect

    page = client.get(response.url).content.decode()
    assert "Confirm the columns" in page
    assert 'id="mapping-form"' in page
    assert "Acme Analytics" in page  # the preview
    headers = record.table().headers
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(headers)}
    form[f"col_{headers.index('Growth Signal')}"] = "__ignore__"
    form["strict"] = "on"
    with run_jobs():
        response = client.post(response.url, form)
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == AccountImport.Status.IMPORTED
    assert record.strict is True
    assert record.job.status == Job.Status.SUCCEEDED
    assert Account.objects.filter(engagement=world.engagement).count() == 3
    assert Account.objects.get(external_id="A-1").custom == {}  # the ignored column

    page = client.get(url(world.engagement, f"{record.pk}/")).content.decode()
    assert 'id="import-result"' in page
    assert "Accounts created" in page


def test_the_page_polls_the_job_while_the_import_is_queued(world, client):
    from unittest import mock

    client.force_login(world.architect)
    post_file(client, world.engagement, files.csv_bytes())
    record = AccountImport.objects.get()
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}
    with mock.patch("engagements.tracking._queue"):
        client.post(url(world.engagement, f"{record.pk}/"), form)
    record.refresh_from_db()
    assert record.status == AccountImport.Status.QUEUED
    page = client.get(url(world.engagement, f"{record.pk}/")).content.decode()
    assert f"/jobs/{record.job_id}/status/" in page
    # Posting the mapping again does not start a second import.
    client.post(url(world.engagement, f"{record.pk}/"), form)
    assert Job.objects.filter(engagement=world.engagement).count() == 1


def test_an_import_whose_job_died_is_shown_failed(world, client):
    client.force_login(world.architect)
    post_file(client, world.engagement, files.csv_bytes())
    record = AccountImport.objects.get()
    job = Job.objects.create(
        engagement=world.engagement, kind="x", title="t", status=Job.Status.FAILED, error="killed"
    )
    record.status, record.job = AccountImport.Status.RUNNING, job
    record.save()
    client.get(url(world.engagement, f"{record.pk}/"))
    record.refresh_from_db()
    assert record.status == AccountImport.Status.FAILED
    assert record.message == "killed"


def test_a_bad_mapping_is_shown_on_the_form_and_nothing_starts(world, client):
    make_account(world.engagement, external_id="A-1", name="Acme (stored)")
    client.force_login(world.architect)
    post_file(client, world.engagement, files.csv_bytes())
    record = AccountImport.objects.get()
    before = snapshot(world.engagement)
    headers = record.table().headers
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(headers)}
    form["col_0"] = "__custom__"  # Account ID no longer mapped
    response = client.post(url(world.engagement, f"{record.pk}/"), form)
    assert response.status_code == 400
    assert "No column is mapped to External id" in response.content.decode()
    assert not Job.objects.exists()
    assert snapshot(world.engagement) == before
    record.refresh_from_db()
    assert record.status == AccountImport.Status.UPLOADED


def test_a_file_without_the_external_id_column_imports_nothing(world, client, run_jobs):
    make_account(world.engagement, external_id="A-1", name="Acme (stored)")
    client.force_login(world.architect)
    header = [h for h in files.HEADER if h != "Account ID"]
    post_file(client, world.engagement, files.csv_bytes([r[1:] for r in files.ROWS], header))
    record = AccountImport.objects.get()
    before = snapshot(world.engagement)
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}
    with run_jobs():
        response = client.post(url(world.engagement, f"{record.pk}/"), form)
    assert response.status_code == 400
    assert "No column is mapped to External id, which every account needs." in (
        response.content.decode()
    )
    assert not Job.objects.exists()
    assert snapshot(world.engagement) == before


def test_row_errors_are_listed_and_downloadable_as_csv(world, client, run_jobs):
    client.force_login(world.architect)
    rows = [files.ROWS[0], ["A-2", "=cmd|' /C calc'!A0", *files.ROWS[1][2:]]]
    post_file(client, world.engagement, files.csv_bytes(rows))
    record = AccountImport.objects.get()
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}
    with run_jobs():
        client.post(url(world.engagement, f"{record.pk}/"), form)
    page = client.get(url(world.engagement, f"{record.pk}/")).content.decode()
    assert 'id="import-errors"' in page
    assert "Looks like a spreadsheet formula" in page
    response = client.get(url(world.engagement, f"{record.pk}/errors.csv"))
    assert response["Content-Disposition"].startswith("attachment")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    # The offending value is neutralised in the download, not live again.
    assert "3,Account Name,'=cmd|' /C calc'!A0,Looks like a spreadsheet formula" in body.replace(
        '"', ""
    )


def test_a_bad_file_is_refused_on_the_upload_page(world, client):
    client.force_login(world.architect)
    response = post_file(client, world.engagement, b"%PDF-1.5 ...", "accounts.csv")
    assert response.status_code == 400
    assert "PDF document, not a spreadsheet" in response.content.decode()
    response = post_file(client, world.engagement, b"x", "accounts.pdf")
    assert "is not a CSV or XLSX file" in response.content.decode()
    assert not AccountImport.objects.exists()


def test_the_form_refuses_a_file_over_the_limit(world, client, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    client.force_login(world.architect)
    response = post_file(client, world.engagement, b"ID,Name\n" + b"1,A\n" * 400)
    assert response.status_code == 400
    assert "over the 0 MB upload limit" in response.content.decode()
    assert not AccountImport.objects.exists()


def test_the_view_refuses_an_oversized_body_before_reading_it(world, client, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    client.force_login(world.architect)
    response = client.generic(
        "POST",
        url(world.engagement),
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH=str(200 * 1024),
    )
    assert response.status_code == 413
    assert "over the 0 MB limit" in response.content.decode()


def test_the_page_and_every_refusal_give_the_limit_in_the_same_unit(world, client, settings):
    from django.core.exceptions import ValidationError

    from engagements.units import MB
    from territories import services
    from territories.forms import AccountUploadForm

    settings.MAX_UPLOAD_BYTES = 50 * MB  # the default MAX_UPLOAD_MB
    client.force_login(world.architect)
    assert "up to 50 MB" in client.get(url(world.engagement)).content.decode()
    response = client.generic(
        "POST",
        url(world.engagement),
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH=str(51 * MB),
    )
    assert "The upload is 51 MB, over the 50 MB limit." in response.content.decode()
    big = SimpleUploadedFile("accounts.csv", b"ID\n1\n")
    big.size = 51 * MB  # the form and the service read the size, not the bytes
    form = AccountUploadForm(files={"file": big})
    assert form.errors["file"] == ["The file is 51 MB, over the 50 MB upload limit."]
    with pytest.raises(ValidationError) as caught:
        services.account_import_create(engagement=world.engagement, upload=big, user=None)
    assert caught.value.messages == ["The file is 51 MB, over the 50 MB upload limit."]
    assert not AccountImport.objects.exists()


def test_megabytes_are_binary_and_drop_the_decimal_when_whole():
    from engagements.units import megabytes

    assert megabytes(50 * 1024 * 1024) == "50"
    assert megabytes(52_428_800) == "50"  # not "52": 1 MB is 1,048,576 bytes
    assert megabytes(1_348_576) == "1.3"
    assert megabytes(3_000_000_000) == "2,861"


def test_a_valuation_crash_after_the_import_keeps_the_rows_and_says_how_to_finish(
    world, client, run_jobs, monkeypatch
):
    from territories import services

    client.force_login(world.architect)
    post_file(client, world.engagement, files.csv_bytes())
    record = AccountImport.objects.get()
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}

    def crash(**kwargs):
        raise RuntimeError("the valuation ran out of memory")

    monkeypatch.setattr(services, "accounts_revalue", crash)
    with pytest.raises(RuntimeError), run_jobs():
        client.post(url(world.engagement, f"{record.pk}/"), form)
    record.refresh_from_db()
    job = Job.objects.get()
    # The import's state and its job's agree that something failed, and say what is stored.
    assert job.status == Job.Status.FAILED and "out of memory" in job.error
    assert record.job_id == job.pk
    assert record.status == AccountImport.Status.NOT_VALUED
    assert record.get_status_display() == "Imported; valuing failed"
    assert (record.created_count, record.updated_count) == (3, 0)
    assert "valuing them afterwards failed: the valuation ran out of memory" in record.message
    assert "Re-value now" in record.message
    assert Account.objects.filter(engagement=world.engagement).count() == 3
    assert not Account.objects.filter(engagement=world.engagement, value__isnull=False).exists()
    assert world.engagement.activity.filter(verb="accounts.valuation_failed").exists()
    page = client.get(url(world.engagement, f"{record.pk}/")).content.decode()
    assert 'id="import-revalue"' in page and "ran out of memory" in page

    monkeypatch.undo()  # the valuation works again: "Re-value now" finishes the job
    with run_jobs():
        client.post(f"/engagements/{world.engagement.pk}/accounts/valuation/revalue/")
    assert not Account.objects.filter(engagement=world.engagement, value__isnull=True).exists()
    assert Job.objects.filter(status=Job.Status.SUCCEEDED).count() == 1


def test_the_customer_approver_uploads_but_only_the_architect_imports(world, client):
    client.force_login(world.customer)
    post_file(client, world.engagement, files.csv_bytes())
    record = AccountImport.objects.get()
    assert record.uploaded_by == world.customer
    page = client.get(url(world.engagement, f"{record.pk}/")).content.decode()
    assert 'id="mapping-form"' not in page
    assert "the consultancy confirms the columns" in page
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}
    assert client.post(url(world.engagement, f"{record.pk}/"), form).status_code == 403
    assert not Account.objects.exists()


@pytest.mark.parametrize("who", ["viewer", "engineer", "manager"])
def test_read_only_roles_cannot_upload(world, client, who):
    client.force_login(getattr(world, who))
    assert client.get(url(world.engagement)).status_code == 200
    assert post_file(client, world.engagement, files.csv_bytes()).status_code == 403
    assert not AccountImport.objects.exists()


def test_the_import_list_has_a_fixed_number_of_queries(world, client, upload):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.architect)
    upload(world.engagement, files.csv_bytes(), user=world.architect)
    with CaptureQueriesContext(connection) as one:
        client.get(url(world.engagement))
    for _ in range(5):
        upload(world.engagement, files.csv_bytes(), user=world.customer)
    with CaptureQueriesContext(connection) as six:
        client.get(url(world.engagement))
    # Session, user, engagement, membership, then the imports with their uploader: constant.
    assert len(six) == len(one)


def test_the_customer_sees_the_columns_in_the_file_order(world, client):
    """The mapping is stored as JSON (PostgreSQL jsonb sorts its keys): the page lists the
    columns as they stand in the file."""
    client.force_login(world.customer)
    post_file(client, world.engagement, files.csv_bytes())
    record = AccountImport.objects.get()
    page = client.get(url(world.engagement, f"{record.pk}/")).content.decode()
    assert "the consultancy confirms the columns" in page
    positions = [page.index(f"<li>{header} → ") for header in files.HEADER]
    assert positions == sorted(positions)


# --- The intake form's customer list, imported through the normal flow -------------------------

INTAKE_LIST = (
    "Account ID,Account name,ACV,Region\nA-1,Acme Analytics,120000,East\nA-9,Newco,50000,West\n"
)


def intake_upload(client, world, content=INTAKE_LIST):
    client.force_login(world.customer)
    response = client.post(
        f"/engagements/{world.engagement.pk}/intake/upload/",
        {"file": SimpleUploadedFile("customers.csv", content.encode(), "text/csv")},
    )
    assert response.status_code == 302
    from engagements.models import IntakeUpload

    return IntakeUpload.objects.get(engagement=world.engagement)


def test_the_intake_customer_list_imports_in_one_click_through_mapping_and_job(
    world, client, run_jobs
):
    make_account(world.engagement, external_id="A-1", name="Acme (CRM)", domain="acme.com")
    source = intake_upload(client, world)
    intake_bytes = source.file.open("rb").read()
    client.force_login(world.architect)
    page = client.get(url(world.engagement)).content.decode()
    assert 'id="intake-list"' in page and "Import this list" in page
    assert "customers.csv: 2 customers" in page

    response = client.post(url(world.engagement, "from-intake/"))
    record = AccountImport.objects.get(engagement=world.engagement)
    assert response.status_code == 302
    assert response.url == url(world.engagement, f"{record.pk}/")
    assert record.status == AccountImport.Status.UPLOADED  # waiting for the mapping, as any file
    assert record.original_name == "customers.csv" and record.uploaded_by == world.architect
    assert record.mapping == {
        "Account ID": "external_id",
        "Account name": "name",
        "ACV": "contract_value",
        "Region": "__custom__",
    }
    assert Account.objects.get(external_id="A-1").contract_value is None  # nothing imported yet
    assert "Confirm the columns" in client.get(response.url).content.decode()

    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}
    with run_jobs():
        assert client.post(response.url, form).status_code == 302
    record.refresh_from_db()
    assert record.status == AccountImport.Status.IMPORTED, record.message
    assert (record.created_count, record.updated_count) == (1, 1)
    acme = Account.objects.get(engagement=world.engagement, external_id="A-1")
    assert (acme.is_customer, acme.contract_value, acme.domain) == (True, 120000, "acme.com")
    assert acme.custom == {"Region": "East"}
    assert Account.objects.get(engagement=world.engagement, external_id="A-9").is_customer
    assert Job.objects.get().status == Job.Status.SUCCEEDED
    # The intake's own copy is untouched: the import works on its own copy.
    source.refresh_from_db()
    assert source.file.open("rb").read() == intake_bytes
    assert record.file.name != source.file.name
    assert world.engagement.activity.filter(verb="accounts.intake_list_taken").exists()


def test_an_intake_list_without_account_ids_stops_at_the_mapping(world, client):
    intake_upload(client, world, "Customer,Contract value\nSolo Ltd,5000\n")
    client.force_login(world.architect)
    response = client.post(url(world.engagement, "from-intake/"), follow=True)
    record = AccountImport.objects.get()
    page = response.content.decode()
    assert "Confirm the columns" in page
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}
    assert form == {"col_0": "name", "col_1": "contract_value"}
    response = client.post(url(world.engagement, f"{record.pk}/"), form)
    assert response.status_code == 400
    assert "No column is mapped to External id" in response.content.decode()
    assert not Job.objects.exists() and not Account.objects.exists()


def test_without_an_intake_list_there_is_no_button_and_nothing_is_created(world, client):
    client.force_login(world.architect)
    assert 'id="intake-list"' not in client.get(url(world.engagement)).content.decode()
    response = client.post(url(world.engagement, "from-intake/"), follow=True)
    assert "No customer list was uploaded with the intake form yet." in response.content.decode()
    assert not AccountImport.objects.exists()


def test_only_the_consultancy_imports_the_intake_list(world, client):
    intake_upload(client, world)
    client.force_login(world.customer)
    page = client.get(url(world.engagement)).content.decode()
    assert 'id="intake-list"' in page and "Import this list" not in page
    assert client.post(url(world.engagement, "from-intake/")).status_code == 403
    assert not AccountImport.objects.exists()


def test_the_import_list_page_costs_the_same_queries_however_many_imports(
    world, client, django_assert_num_queries
):
    intake_upload(client, world)
    client.force_login(world.architect)
    for _ in range(2):
        post_file(client, world.engagement, files.csv_bytes())
        post_file(client, world.engagement, files.csv_bytes())
        # 6: session, user, engagement, the user's role on it, the intake's customer list,
        # and the imports with their uploaders (one join).
        with django_assert_num_queries(6):
            assert client.get(url(world.engagement)).status_code == 200
