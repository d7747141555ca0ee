"""Bulk routing of uploaded files, route_file, routing_token, and accuracy audits."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook, load_workbook

from engagements.models import ActivityEvent
from routing import services
from routing.access import token_for_request
from routing.models import RoutingAudit, RoutingBatch

ROWS = (
    "Account ID,Account Name,Billing State/Province,Billing Zip/Postal Code,Annual Revenue,Industry\n"
    "1,Acme LA,CA,90012,5000000,Retail\n"
    "2,Big Co,CA,94105,2000000000,Software\n"
    "E-1,Listed,NY,10001,3000000000,Software\n"
    '3,=HYPERLINK("x"),CA,,abc,Retail\n'
)


def url(engagement, path=""):
    return f"/engagements/{engagement.pk}/routing/{path}"


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_an_uploaded_file_is_routed_as_a_job_and_downloadable(small, client, run_jobs):
    client.force_login(small.engineer)
    with run_jobs():
        response = client.post(
            url(small.engagement, "batches/"),
            {"file": SimpleUploadedFile("crm.csv", ROWS.encode())},
        )
    batch = RoutingBatch.objects.get(engagement=small.engagement)
    assert response.status_code == 302 and response.url.endswith(f"batches/{batch.pk}/")
    assert batch.job.status == "succeeded" and batch.rows == 4
    download = client.get(url(small.engagement, f"batches/{batch.pk}/download/"))
    rows = _csv(b"".join(download.streaming_content).decode("utf-8"))
    header = rows[0]
    assert header[:6] == [
        "Account ID",
        "Account Name",
        "Billing State/Province",
        "Billing Zip/Postal Code",
        "Annual Revenue",
        "Industry",
    ]
    owner = header.index("Routed owner")
    assert [r[owner] for r in rows[1:]] == ["Bob", "RevOps queue", "Ann", "RevOps queue"]
    assert rows[4][1] == '\'=HYPERLINK("x")'  # neutralised on the way out
    assert rows[4][header.index("Fallback used")] == "segment"
    assert "sub_state: CA:C06037" in rows[1][header.index("Routing trace")]
    # The per-record reason: the deciding rule's or fallback's "why", the same sentence the
    # single path (API, "test a record") gives for the record.
    assert rows[1][header.index("Routing reason")] == _single_why(small, rows[1], header)
    assert rows[4][header.index("Routing reason")] == _single_why(small, rows[4], header)
    assert "first match by priority" in rows[1][header.index("Routing reason")]
    assert "the segment fallback is" in rows[4][header.index("Routing reason")]
    page = client.get(url(small.engagement, f"batches/{batch.pk}/")).content.decode()
    assert "Download the routed file" in page and "COM-LA" in page


def _single_why(small, row, header):
    """What the single path says for an uploaded row (route_record on the same fields)."""
    from routing import engine

    record = {
        "external_id": row[header.index("Account ID")],
        "state": row[header.index("Billing State/Province")],
        "postal_code": row[header.index("Billing Zip/Postal Code")],
        "annual_revenue": row[header.index("Annual Revenue")],
        "industry": row[header.index("Industry")],
    }
    config = services.routing_config(engagement=small.engagement)
    return engine.route_record(record, config).why


def test_an_xlsx_upload_gets_an_xlsx_result(small, client, run_jobs, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["ID", "State", "Zip", "Revenue"])
    sheet.append(["1", "CA", "90012", 5_000_000])
    path = tmp_path / "in.xlsx"
    book.save(path)
    client.force_login(small.architect)
    with run_jobs():
        client.post(
            url(small.engagement, "batches/"),
            {"file": SimpleUploadedFile("in.xlsx", path.read_bytes())},
        )
    batch = RoutingBatch.objects.get(engagement=small.engagement)
    assert batch.result_file.name.endswith(".xlsx")
    result = load_workbook(batch.result_file.path).active
    values = list(result.iter_rows(values_only=True))
    assert values[1][values[0].index("Routed owner")] == "Bob"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"Color,Shape\nred,round\n", "No column is a routing field"),
        (b"ID\n", "no account rows"),
        (b"PK\x03\x04garbage", "workbook"),
    ],
)
def test_a_bad_upload_is_refused_and_nothing_is_stored(small, client, content, message):
    client.force_login(small.engineer)
    response = client.post(
        url(small.engagement, "batches/"), {"file": SimpleUploadedFile("x.csv", content)}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not RoutingBatch.objects.exists()


def test_an_oversized_upload_is_refused(small, client, settings):
    settings.MAX_UPLOAD_BYTES = 10
    client.force_login(small.engineer)
    response = client.post(
        url(small.engagement, "batches/"), {"file": SimpleUploadedFile("x.csv", ROWS.encode())}
    )
    assert response.status_code == 400 and "over the" in response.content.decode()


def test_read_only_roles_cannot_route_files(small, client):
    client.force_login(small.customer)
    response = client.post(
        url(small.engagement, "batches/"), {"file": SimpleUploadedFile("x.csv", ROWS.encode())}
    )
    assert response.status_code == 403


def test_route_file_command_writes_csv_and_xlsx(small, tmp_path, capsys):
    source = tmp_path / "crm.csv"
    source.write_text(ROWS)
    out = tmp_path / "out.csv"
    call_command("route_file", str(small.engagement.pk), str(source), "--out", str(out))
    rows = _csv(out.read_text(encoding="utf-8-sig"))
    assert rows[1][rows[0].index("Routed territory")] == "COM-LA"
    reason = rows[0].index("Routing reason")
    assert [r[reason] for r in rows[1:]] == [
        _single_why(small, r, rows[0]) for r in rows[1:]
    ] and all(r[reason] for r in rows[1:])
    assert "Routed 4 rows" in capsys.readouterr().out
    xlsx = tmp_path / "out.xlsx"
    call_command("route_file", small.engagement.name, str(source), "--out", str(xlsx))
    assert load_workbook(xlsx).active.max_row == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999", "crm.csv"], "No engagement with id 999999."),
        (["{pk}", "missing.csv"], "No such file"),
        (["{pk}", "crm.csv", "out.txt"], "--out must end in .csv or .xlsx"),
        (["{pk}", "bad.csv"], "No column of the file is a routing field"),
    ],
)
def test_route_file_refuses_bad_input_with_one_line(small, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crm.csv").write_text(ROWS)
    (tmp_path / "bad.csv").write_text("Color\nred\n")
    engagement, source, *rest = [a.format(pk=small.engagement.pk) for a in args]
    out = rest[0] if rest else "out.csv"
    with pytest.raises(CommandError, match=message):
        call_command("route_file", engagement, source, "--out", out)


def test_route_file_needs_a_territory_object(world, tmp_path):
    (tmp_path / "crm.csv").write_text(ROWS)
    with pytest.raises(CommandError, match="no territory object yet"):
        call_command(
            "route_file",
            str(world.engagement.pk),
            str(tmp_path / "crm.csv"),
            "--out",
            str(tmp_path / "o.csv"),
        )


def test_routing_token_command_prints_a_working_token(small, capsys, rf):
    call_command("routing_token", str(small.engagement.pk), "--name", "Flow")
    plaintext = capsys.readouterr().out.strip()
    request = rf.post("/api/v1/route", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    token = token_for_request(request)
    assert token is not None and token.engagement == small.engagement and token.name == "Flow"
    with pytest.raises(CommandError, match="No engagement named"):
        call_command("routing_token", "Nope")


def test_tokens_are_created_shown_once_and_revoked_on_the_page(small, client):
    client.force_login(small.engineer)
    response = client.post(url(small.engagement, "tokens/"), {"name": "Salesforce flow"})
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert "shown only once" in page
    token = small.engagement.routing_tokens.get(name="Salesforce flow")
    assert f"rt_{token.prefix}_" in page
    assert "rt_" + token.prefix + "_" not in client.get(
        url(small.engagement, "tokens/")
    ).content.decode().replace(f"rt_{token.prefix}_…", "")
    client.post(url(small.engagement, f"tokens/{token.pk}/revoke/"))
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == small.engineer
    assert ActivityEvent.objects.filter(verb="routing.token_revoked").exists()


@pytest.mark.parametrize(("who", "status"), [("customer", 403), ("viewer", 403), ("manager", 200)])
def test_customers_never_see_tokens(small, client, who, status):
    client.force_login(getattr(small, who))
    assert client.get(url(small.engagement, "tokens/")).status_code == status


# --- Accuracy audit ------------------------------------------------------------------------------


def crm_export(n_ok: int, n_wrong: int, *, old: int = 5) -> bytes:
    lines = [
        "Account ID,Account Name,Billing State,Billing Zip,Annual Revenue,Account Owner,Created Date"
    ]
    for i in range(n_ok):
        lines.append(f"A-{i},Ok {i},CA,90012,5000000,Bob,2026-03-{1 + i % 28:02d}")
    for i in range(n_wrong):
        lines.append(f"W-{i},Wrong {i},CA,90012,5000000,Someone Else,3/{1 + i % 28}/2026")
    for i in range(old):
        lines.append(f"O-{i},Old {i},CA,90012,5000000,Someone Else,2025-01-01")
    lines.append("X-1,No date,CA,90012,5000000,Bob,")
    return ("\n".join(lines) + "\n").encode()


def test_an_audit_samples_accounts_since_rollout_and_reports_accuracy(small, client, run_jobs):
    client.force_login(small.ops)
    with run_jobs():
        response = client.post(
            url(small.engagement, "audits/"),
            {
                "file": SimpleUploadedFile("crm.csv", crm_export(57, 3)),
                "rollout_date": "2026-02-01",
                "sample_size": 60,
            },
        )
    audit = RoutingAudit.objects.get(engagement=small.engagement)
    assert response.status_code == 302
    assert (audit.rows, audit.eligible, audit.compared, audit.matches) == (66, 60, 60, 57)
    assert audit.accuracy == 95.0 and not audit.below_threshold
    assert len(audit.mismatches) == 3
    mismatch = audit.mismatches[0]
    assert mismatch["crm_owner"] == "Someone Else" and mismatch["engine_owner"] == "Bob"
    assert mismatch["trace"][-1]["rule"] == "AE Bob"
    assert "1 rows have no readable created date" in " ".join(audit.notes)
    assert services.routing_accuracy_latest(engagement=small.engagement) == 95.0
    page = client.get(url(small.engagement, f"audits/{audit.pk}/")).content.decode()
    assert "95.0 %" in page and "Someone Else" in page and "Refinement trigger" not in page
    # Seed 000, 3c: "sample 50+ accounts created since rollout" — the audit did it.
    item = small.engagement.checklist_items.get(key="3c.accuracy")
    assert item.done and item.done_by == small.ops and "57 of 60 correct" in item.note


def test_accuracy_below_90_raises_the_refinement_trigger(small):
    audit = services.audit_create(
        engagement=small.engagement,
        upload=SimpleUploadedFile("crm.csv", crm_export(40, 10)),
        user=None,
        rollout_date=date(2026, 2, 1),
    )
    audit = services.audit_run(audit=audit)
    assert audit.compared == 50 and audit.accuracy == 80.0 and audit.below_threshold
    event = ActivityEvent.objects.get(verb="routing.accuracy_below_threshold")
    assert event.data["accuracy"] == 80.0
    assert services.routing_accuracy_latest(engagement=small.engagement) == 80.0
    assert services.routing_accuracy_latest(engagement=small.other) is None
    ((day, compared, matches),) = services.routing_accuracy_checks(engagement=small.engagement)
    assert (compared, matches) == (50, 40) and day == audit.finished_at.date()


def test_a_small_sample_is_compared_whole_and_flagged(small):
    audit = services.audit_create(
        engagement=small.engagement,
        upload=SimpleUploadedFile("crm.csv", crm_export(10, 0)),
        user=None,
        rollout_date=date(2026, 2, 1),
    )
    audit = services.audit_run(audit=audit)
    assert audit.compared == 10 and not audit.conclusive
    assert "Only 10 accounts were created since" in " ".join(audit.notes)
    assert not small.engagement.checklist_items.get(key="3c.accuracy").done


@pytest.mark.parametrize(
    ("content", "data", "message"),
    [
        (b"ID,State,Created Date\n1,CA,2026-01-01\n", {}, "an owner column"),
        (b"ID,State,Account Owner\n1,CA,Bob\n", {}, "a created-date column"),
        (
            crm_export(1, 0),
            {"sample_size": 10},
            "Ensure this value is greater than or equal to 50.",
        ),
        (crm_export(1, 0), {"rollout_date": ""}, "This field is required."),
    ],
)
def test_a_bad_audit_upload_is_refused(small, client, content, data, message):
    client.force_login(small.architect)
    form = {
        "file": SimpleUploadedFile("crm.csv", content),
        "rollout_date": "2026-02-01",
        "sample_size": 50,
    }
    form.update(data)
    response = client.post(url(small.engagement, "audits/"), form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not RoutingAudit.objects.exists()


def test_only_audit_roles_run_audits(small, client):
    client.force_login(small.engineer)  # engineers route; architects and ops audit
    response = client.post(
        url(small.engagement, "audits/"),
        {
            "file": SimpleUploadedFile("crm.csv", crm_export(1, 0)),
            "rollout_date": "2026-02-01",
            "sample_size": 50,
        },
    )
    assert response.status_code == 403
