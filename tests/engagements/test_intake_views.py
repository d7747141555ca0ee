"""The intake form: autosave as the customer types, completion, submit, customer list upload."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from engagements.models import ActivityEvent, ChecklistItem, IntakeForm, IntakeUpload
from tests.factories import CUSTOMER_LIST_CSV

HX = {"HTTP_HX_REQUEST": "true"}

COMPLETE = {
    "current_definitions": "Enterprise is $1B+",
    "assignment_logic": "round_robin",
    "assignment_details": "",
    "org_ae": "8",
    "org_sdr": "3",
    "org_se": "",
    "org_csm": "",
    "org_am": "",
    "org_notes": "",
    "headcount_trajectory": "Two AEs a quarter",
    "planned_hires_12m": "8",
    "fiscal_year_start": "2027-02-01",
    "has_partners": "no",
    "partner_details": "",
    "pain_points": "California is a mess",
}


def _url(world, suffix=""):
    return f"/engagements/{world.engagement.pk}/intake/{suffix}"


def _upload(client, world, content=CUSTOMER_LIST_CSV, name="customers.csv"):
    return client.post(
        _url(world, "upload/"),
        {"file": SimpleUploadedFile(name, content.encode(), "text/csv")},
        follow=True,
    )


def test_autosave_keeps_good_fields_and_reports_bad_ones(world, client):
    client.force_login(world.customer)
    response = client.post(
        _url(world, "autosave/"),
        {
            "current_definitions": "Enterprise is $500M+",
            "org_ae": "lots",
            "fiscal_year_start": "2027-02-01",
        },
        **HX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="intake-status"')
    assert "Saved at" in html
    assert "Account executives (AEs): Enter a whole number." in html
    intake = IntakeForm.objects.get(engagement=world.engagement)
    assert intake.current_definitions == "Enterprise is $500M+"
    assert intake.fiscal_year_start.isoformat() == "2027-02-01"
    assert intake.org_ae is None
    assert intake.updated_by == world.customer
    assert "25% complete" in html  # definitions + fiscal year of eight sections


def test_completion_is_visible_to_the_architect(world, client):
    client.force_login(world.customer)
    client.post(_url(world, "autosave/"), COMPLETE, **HX)
    client.force_login(world.architect)
    html = client.get(_url(world)).content.decode()
    assert "88% complete" in html  # everything but the customer list
    assert "Existing customer list with contract values" in html


def test_submit_needs_every_section(world, client):
    client.force_login(world.customer)
    client.post(_url(world, "autosave/"), COMPLETE, **HX)
    response = client.post(_url(world, "submit/"), follow=True)
    assert (
        "Still missing: Existing customer list with contract values." in response.content.decode()
    )
    assert not IntakeForm.objects.get(engagement=world.engagement).is_submitted
    _upload(client, world)
    response = client.post(_url(world, "submit/"), follow=True)
    intake = IntakeForm.objects.get(engagement=world.engagement)
    assert intake.is_submitted and intake.submitted_by == world.customer
    assert "the intake form is submitted" in response.content.decode()
    assert ChecklistItem.objects.get(engagement=world.engagement, key="1a.a.intake").done
    assert ActivityEvent.objects.filter(verb="intake.submitted").exists()
    # Submitted: read-only, autosave refused.
    html = client.post(_url(world, "autosave/"), {"pain_points": "changed"}, **HX).content.decode()
    assert "ask your architect to reopen it" in html
    assert IntakeForm.objects.get(engagement=world.engagement).pain_points == "California is a mess"


def test_the_architect_reopens_a_submitted_form(world, client):
    client.force_login(world.customer)
    client.post(_url(world, "autosave/"), COMPLETE, **HX)
    _upload(client, world)
    client.post(_url(world, "submit/"))
    client.force_login(world.architect)
    client.post(_url(world, "reopen/"), {"reason": "Add the partner details"})
    assert not IntakeForm.objects.get(engagement=world.engagement).is_submitted
    client.force_login(world.customer)
    assert client.post(_url(world, "reopen/"), {"reason": "x"}).status_code == 403


def test_partner_details_are_required_when_there_are_partners(world, client):
    client.force_login(world.customer)
    html = client.post(
        _url(world, "autosave/"), {**COMPLETE, "has_partners": "yes"}, **HX
    ).content.decode()
    assert "Partner ecosystem" in html.split("Still to do:")[1]


def test_customer_list_upload_is_kept_and_summarised(world, client):
    client.force_login(world.customer)
    html = _upload(client, world).content.decode()
    upload = IntakeUpload.objects.get(engagement=world.engagement)
    assert (upload.rows, upload.value_column, upload.total_value) == (3, "ACV", 245500.0)
    assert "3 customers, $245,500 total contract value" in html
    assert ChecklistItem.objects.get(engagement=world.engagement, key="1a.a.customer_list").done
    download = client.get(_url(world, f"uploads/{upload.pk}/"))
    assert b"".join(download.streaming_content).decode() == CUSTOMER_LIST_CSV
    assert 'filename="customers.csv"' in download["Content-Disposition"]


def test_a_bad_customer_list_is_refused_whole_with_rows_named(world, client):
    client.force_login(world.customer)
    html = _upload(client, world, "Account name,ACV\nAcme,12k\n,10\n").content.decode()
    assert "row 2, column “ACV”: “12k” is not an amount" in html
    assert "row 3, column “Account name”: the customer name is blank" in html
    html = _upload(client, world, "x", name="customers.pdf").content.decode()
    assert "Upload a .csv or .xlsx file." in html
    assert not IntakeUpload.objects.exists()


def test_viewers_see_the_form_read_only(world, client):
    client.force_login(world.viewer)
    html = client.get(_url(world)).content.decode()
    assert "disabled" in html and "hx-post" not in html
    assert client.post(_url(world, "autosave/"), {"pain_points": "x"}, **HX).status_code == 403


def test_the_form_works_without_javascript(world, client):
    client.force_login(world.customer)
    response = client.post(_url(world), COMPLETE)
    assert response.status_code == 302
    assert IntakeForm.objects.get(engagement=world.engagement).org_ae == 8
    response = client.post(_url(world), {**COMPLETE, "fiscal_year_start": "someday"})
    assert response.status_code == 200 and "Enter a valid date." in response.content.decode()


def test_the_latest_customer_list_is_there_for_the_import(world, client):
    from engagements.services import intake_customer_list

    assert intake_customer_list(engagement=world.engagement) is None
    client.force_login(world.customer)
    _upload(client, world)
    _upload(client, world, "Customer,Contract value\nSolo Ltd,5000\n", name="second.csv")
    latest = intake_customer_list(engagement=world.engagement)
    assert (latest.original_name, latest.rows, latest.name_column, latest.value_column) == (
        "second.csv",
        1,
        "Customer",
        "Contract value",
    )
    assert latest.file.read() == b"Customer,Contract value\nSolo Ltd,5000\n"
