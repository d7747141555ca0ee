"""The bad-input corpus (issue 9, part 3): every upload endpoint, every file-reading command and
the routing API, fed every bad input of ``tests/data/bad/``.

Each case must be answered with a clear error — the fragment in ``tests/data/bad/expected.json``
names the row, field or parameter, and must appear in what the user sees (the page, the command's
error, the API's JSON) — and nothing stored may change: the whole database is fingerprinted
(row counts and a checksum of every row of every table, ``tests/matrix_support.data_fingerprint``)
before and after, and so are the files under ``MEDIA_ROOT``.

Where the endpoint accepts the file and reports bad *rows* afterwards (the account import reads
the layout on upload, checks the rows in its job), the import's own record, its job and the
activity line "uploaded" are the report of that attempt; every other table must be unchanged.

Endpoints and the corpus folders they get:

==========================  ==========================================================
``intake``                  ``files/`` + ``customer_list_rows/`` (the intake form's customer list)
``account_import``          ``files/`` + ``account_rows/`` (Accounts → Import, then the job)
``import_accounts_command`` ``files/`` + ``account_rows/``
``routing_batch``           ``files/`` (Routing → Route a file)
``routing_audit``           ``files/`` (Routing → Accuracy audit)
``route_file_command``      ``files/``
``balance_file_command``    ``files/``
``assumption_register``     ``form_values/`` (Assumptions → register, the value field)
``assumption_correct``      ``form_values/`` (an assumption's "correct" decision)
``api``                     ``api/`` (bodies) + request cases built here (``API_REQUESTS``)
==========================  ==========================================================

Cases made at run time rather than committed (``generated/…``): an upload over the size limit,
a real, highly compressible workbook over the unpacked-size limit (both limits lowered for the
test so the files stay small) and a workbook whose sheet lies about its unpacked size.

A corpus file or a generated case without an entry for an endpoint fails
``test_every_case_has_an_expectation`` with the line to add.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.matrix_support import data_fingerprint, fingerprint_changes
from tests.territories.conftest import run_jobs  # noqa: F401  (fixture)

CORPUS = Path(__file__).parent / "data" / "bad"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))

FOLDERS = {
    "intake": ("files", "customer_list_rows"),
    "account_import": ("files", "account_rows"),
    "import_accounts_command": ("files", "account_rows"),
    "routing_batch": ("files",),
    "routing_audit": ("files",),
    "route_file_command": ("files",),
    "balance_file_command": ("files",),
    "assumption_register": ("form_values",),
    "assumption_correct": ("form_values",),
}
# Generated at run time, for the endpoints that take uploads (a command reads a local file: it
# has no upload limit, but it keeps the unpacked-size limit).
GENERATED = {
    "intake": ("generated/oversize.csv", "generated/zip_bomb_real.xlsx", "generated/zip_liar.xlsx"),
    "account_import": (
        "generated/oversize.csv",
        "generated/zip_bomb_real.xlsx",
        "generated/zip_liar.xlsx",
    ),
    "import_accounts_command": (
        "generated/oversize.csv",
        "generated/zip_bomb_real.xlsx",
        "generated/zip_liar.xlsx",
    ),
    "routing_batch": (
        "generated/oversize.csv",
        "generated/zip_bomb_real.xlsx",
        "generated/zip_liar.xlsx",
    ),
    "routing_audit": (
        "generated/oversize.csv",
        "generated/zip_bomb_real.xlsx",
        "generated/zip_liar.xlsx",
    ),
    "route_file_command": ("generated/zip_bomb_real.xlsx", "generated/zip_liar.xlsx"),
    "balance_file_command": ("generated/zip_bomb_real.xlsx", "generated/zip_liar.xlsx"),
    "assumption_register": ("generated/value_too_long.txt",),
    "assumption_correct": ("generated/value_too_long.txt",),
}
# Lowered limits while the corpus runs (the generated files are built just over them).
UPLOAD_LIMIT = 1024 * 1024
UNPACKED_LIMIT = 1024 * 1024
# The tables an accepted upload writes as its own report (see the module docstring).
ATTEMPT_LOG = {"territories.AccountImport", "engagements.Job", "engagements.ActivityEvent"}


def _corpus_cases(endpoint: str) -> list[str]:
    cases = [
        f"{folder}/{path.name}"
        for folder in FOLDERS[endpoint]
        for path in sorted((CORPUS / folder).iterdir())
    ]
    return cases + list(GENERATED[endpoint])


def _api_cases() -> list[str]:
    return [f"api/{p.name}" for p in sorted((CORPUS / "api").iterdir())] + list(API_REQUESTS)


def _content(case: str) -> bytes:
    if case == "generated/oversize.csv":
        row = b"A-1,Acme,1000000,50,CA,94105,US\n"
        header = b"Account ID,Account Name,Annual Revenue,Employees,State,Postal Code,Country\n"
        return header + row * ((UPLOAD_LIMIT + 300_000) // len(row))  # 1.3 MB
    if case == "generated/value_too_long.txt":
        return b"7" * 20_001
    if case == "generated/zip_bomb_real.xlsx":
        return _compressible_workbook(UNPACKED_LIMIT + 200_000)
    if case == "generated/zip_liar.xlsx":
        return _lying_workbook()
    return (CORPUS / case).read_bytes()


def _compressible_workbook(unpacked: int) -> bytes:
    """A genuine workbook whose sheet unpacks to ``unpacked`` bytes (honestly declared) but
    packs to a few kilobytes: the real zip bomb shape, scaled to the lowered limit."""
    from tests.data.bad.make_corpus import _minimal_xlsx

    row = b'<row><c t="inlineStr"><is><t>A</t></is></c><c t="inlineStr"><is><t>B</t></is></c></row>'
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row><c t="inlineStr"><is><t>Account ID</t></is></c>'
        b'<c t="inlineStr"><is><t>Annual Revenue</t></is></c></row>'
        + row * (unpacked // len(row) + 1)
        + b"</sheetData></worksheet>"
    )
    data = _minimal_xlsx(sheet_xml=sheet)
    assert len(data) < 128 * 1024
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()) > unpacked
    return data


def _lying_workbook() -> bytes:
    """A workbook whose sheet unpacks to 4 MB but declares 1,000 bytes (local header and
    central directory both lie): the declared-size check passes, so the readers must stop at
    the declared size instead of trusting it."""
    import struct

    data = bytearray(_compressible_workbook(4 * 1024 * 1024))
    name = b"xl/worksheets/sheet1.xml"
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + length]) == name:
            struct.pack_into("<I", data, at + 24, 1000)
            local = struct.unpack_from("<I", data, at + 42)[0]
            struct.pack_into("<I", data, local + 22, 1000)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def _text(response) -> str:
    """What the user reads: the page without tags, entities resolved, whitespace collapsed."""
    body = response.content.decode("utf-8", "replace")
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _form_errors(response) -> str:
    form = response.context.get("form")
    errors = [str(e) for field in (form.errors.values() if form else []) for e in field]
    return " | ".join(errors + [response.context.get("too_big") or ""])


def _media_files(root: Path) -> set[str]:
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


@pytest.fixture
def corpus_world(world, settings, tmp_path):
    """``world`` with limits lowered, a private MEDIA_ROOT, an account already stored (so a
    change to it would show), a territory object (route_file needs one) and a rollout date."""
    from routing import services as routing_services
    from tests.factories import make_account
    from tests.routing.conftest import make_small_object

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAX_UPLOAD_BYTES = UPLOAD_LIMIT
    settings.MAX_XLSX_UNCOMPRESSED_BYTES = UNPACKED_LIMIT
    make_account(world.engagement, external_id="A-1", name="Acme stored", annual_revenue=5.0)
    make_small_object(world.engagement)
    row = routing_services.routing_settings_get(engagement=world.engagement)
    import datetime as dt

    row.rollout_date = dt.date(2030, 1, 1)
    row.save()
    from engagements.services import assumption_register
    from tests.factories import make_meeting

    world.assumption = assumption_register(
        engagement=world.engagement, key="win.rate", category="other", statement="S", value=0.3
    )
    world.meeting = make_meeting(world.engagement)
    world.media = Path(settings.MEDIA_ROOT)
    world.tmp = tmp_path
    return world


# --- One function per endpoint: send the case, return what the user reads -------------------------


def _intake(w, client, case, data) -> str:
    client.force_login(w.customer)
    url = f"/engagements/{w.engagement.pk}/intake/upload/"
    upload = SimpleUploadedFile(Path(case).name, data)
    response = client.post(url, {"file": upload}, follow=True)
    assert response.status_code == 200
    return _text(response), " | ".join(str(m) for m in response.context["messages"])


def _account_import(w, client, case, data, run_jobs) -> str:  # noqa: F811
    from territories.models import AccountImport

    client.force_login(w.architect)
    base = f"/engagements/{w.engagement.pk}/accounts/imports/"
    before = set(AccountImport.objects.values_list("pk", flat=True))
    response = client.post(base, {"file": SimpleUploadedFile(Path(case).name, data)})
    if response.status_code != 302:
        assert response.status_code in (400, 413), response.status_code
        return _text(response), _form_errors(response)
    # Accepted on upload: confirm the proposed mapping, run the import job, read its page.
    record = AccountImport.objects.exclude(pk__in=before).get()
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}
    with run_jobs():
        confirmed = client.post(f"{base}{record.pk}/", form)
    if confirmed.status_code == 400:
        # The layout cannot be imported (a required column is missing): the mapping form says
        # so and no job starts.
        record.refresh_from_db()
        assert record.status == AccountImport.Status.UPLOADED and record.job_id is None
        return _text(confirmed), _form_errors(confirmed)
    assert confirmed.status_code == 302, confirmed.status_code
    record.refresh_from_db()
    assert record.status in (AccountImport.Status.REJECTED, AccountImport.Status.FAILED), (
        f"{case}: the import ended {record.status}"
    )
    hint = f"{record.message} | {record.errors[:3]}"
    return _text(client.get(f"{base}{record.pk}/")), hint


def _import_accounts_command(w, client, case, data) -> str:
    path = w.tmp / Path(case).name
    path.write_bytes(data)
    stdout = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "import_accounts", str(w.engagement.pk), str(path), stdout=stdout, stderr=io.StringIO()
        )
    # The one-line error, then the rows it printed ("row 2, column Employees: '-5': …").
    shown = f"{caught.value} {' '.join(stdout.getvalue().split())}"
    return shown, shown


def _routing_batch(w, client, case, data) -> str:
    client.force_login(w.engineer)
    url = f"/engagements/{w.engagement.pk}/routing/batches/"
    response = client.post(url, {"file": SimpleUploadedFile(Path(case).name, data)})
    assert response.status_code in (400, 413), response.status_code
    return _text(response), _form_errors(response)


def _routing_audit(w, client, case, data) -> str:
    client.force_login(w.ops)
    url = f"/engagements/{w.engagement.pk}/routing/audits/"
    response = client.post(
        url,
        {
            "file": SimpleUploadedFile(Path(case).name, data),
            "rollout_date": "2030-01-01",
            "sample_size": "50",
        },
    )
    assert response.status_code in (400, 413), response.status_code
    return _text(response), _form_errors(response)


def _route_file_command(w, client, case, data) -> str:
    path = w.tmp / Path(case).name
    path.write_bytes(data)
    with pytest.raises(CommandError) as caught:
        call_command(
            "route_file",
            str(w.engagement.pk),
            str(path),
            "--out",
            str(w.tmp / "out.csv"),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert not (w.tmp / "out.csv").exists()
    return str(caught.value), str(caught.value)


def _balance_file_command(w, client, case, data, monkeypatch) -> str:
    from territories.balancing import io as balancing_io

    monkeypatch.setattr(balancing_io, "MAX_XLSX_UNPACKED", UNPACKED_LIMIT)
    path = w.tmp / Path(case).name
    path.write_bytes(data)
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as caught:
        call_command(
            "balance_file", str(path), "--territories", "2", "--json", stdout=stdout, stderr=stderr
        )
    assert caught.value.code == 2, caught.value.code
    lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1, f"one line on stderr, got {lines}"
    assert not stdout.getvalue().strip()
    return lines[0], lines[0]


def _assumption_register(w, client, case, data) -> str:
    client.force_login(w.architect)
    url = f"/engagements/{w.engagement.pk}/assumptions/"
    form = {"category": "other", "statement": "Typed value", "value": data.decode()}
    response = client.post(url, form)
    assert response.status_code in (200, 400), response.status_code
    return _text(response), _form_errors(response)


def _assumption_correct(w, client, case, data) -> str:
    client.force_login(w.architect)
    url = f"/engagements/{w.engagement.pk}/assumptions/{w.assumption.pk}/"
    form = {"decision": "correct", "meeting": w.meeting.pk, "value": data.decode()}
    response = client.post(url, form)
    assert response.status_code in (200, 400), response.status_code
    return _text(response), _form_errors(response)


ENDPOINTS = {
    "intake": _intake,
    "account_import": _account_import,
    "import_accounts_command": _import_accounts_command,
    "routing_batch": _routing_batch,
    "routing_audit": _routing_audit,
    "route_file_command": _route_file_command,
    "balance_file_command": _balance_file_command,
    "assumption_register": _assumption_register,
    "assumption_correct": _assumption_correct,
}


def _file_params():
    return [
        pytest.param(endpoint, case, id=f"{endpoint}:{case}")
        for endpoint in ENDPOINTS
        for case in _corpus_cases(endpoint)
    ]


@pytest.mark.parametrize(("endpoint", "case"), _file_params())
def test_bad_file(endpoint, case, corpus_world, client, run_jobs, monkeypatch):  # noqa: F811
    expected = EXPECTED.get(endpoint, {}).get(case)
    data = _content(case)
    w = corpus_world
    client.force_login(w.architect)  # the fingerprint below is taken after any login write
    client.logout()
    before, media_before = data_fingerprint(), _media_files(w.media)
    handler = ENDPOINTS[endpoint]
    if endpoint == "account_import":
        shown, hint = handler(w, client, case, data, run_jobs)
    elif endpoint == "balance_file_command":
        shown, hint = handler(w, client, case, data, monkeypatch)
    else:
        shown, hint = handler(w, client, case, data)
    changes = fingerprint_changes(before, data_fingerprint())
    if case.startswith("account_rows/"):
        # Accepted on upload, refused row by row: the import's record (and its stored file and
        # error report) is the answer; nothing else may change.
        changes = [c for c in changes if c.split(":")[0] not in ATTEMPT_LOG]
    else:
        assert _media_files(w.media) == media_before, "a refused upload left a file behind"
    assert expected is not None, (
        f"add to tests/data/bad/expected.json[{endpoint!r}]: {case!r}: <a fragment of> {hint[:600]!r}"
    )
    assert expected in shown, (
        f"{endpoint} {case}: {expected!r} not in what the user sees:\n{shown[:2000]}"
    )
    assert not changes, f"{endpoint} {case} changed stored data:\n" + "\n".join(changes)


# --- The routing API --------------------------------------------------------------------------------

# Request cases that are not a body: (headers, body) built with the engagement's tokens.
API_REQUESTS = {
    "request/no_token": "no Authorization header",
    "request/wrong_token": "a token that was never issued",
    "request/malformed_token": "not a bearer token",
    "request/revoked_token": "a revoked token of this engagement",
    "request/wrong_content_type": "form-encoded body",
    "request/body_over_limit": "a body over ROUTING_API_MAX_BODY_BYTES (lowered to 4 KB)",
    "request/declared_length_over_limit": "Content-Length over the limit",
    "request/batch_over_limit": "more records than ROUTING_API_MAX_BATCH (lowered to 5)",
    "request/get": "GET instead of POST",
}


@pytest.fixture
def api_world(corpus_world, settings):
    from routing.access import token_create, token_revoke

    settings.ROUTING_API_MAX_BODY_BYTES = 4096
    settings.ROUTING_API_MAX_BATCH = 5
    settings.ROUTING_API_RATE_LIMIT = 0
    w = corpus_world
    _, w.token = token_create(engagement=w.engagement, name="corpus", actor=None)
    revoked, w.revoked = token_create(engagement=w.engagement, name="old", actor=None)
    token_revoke(token=revoked, actor=None)
    return w


def _api_request(w, client, case):
    url = "/api/v1/route"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {w.token}"}
    json_type = "application/json"
    if case.startswith("api/"):
        return client.post(url, (CORPUS / case).read_bytes(), content_type=json_type, **auth)
    if case == "request/no_token":
        return client.post(url, b'{"state": "CA"}', content_type=json_type)
    if case == "request/wrong_token":
        fake = "rt_00000000_" + "x" * 43
        return client.post(
            url, b'{"state": "CA"}', content_type=json_type, HTTP_AUTHORIZATION=f"Bearer {fake}"
        )
    if case == "request/malformed_token":
        return client.post(
            url, b'{"state": "CA"}', content_type=json_type, HTTP_AUTHORIZATION="Basic dTpw"
        )
    if case == "request/revoked_token":
        return client.post(
            url,
            b'{"state": "CA"}',
            content_type=json_type,
            HTTP_AUTHORIZATION=f"Bearer {w.revoked}",
        )
    if case == "request/wrong_content_type":
        return client.post(url, {"state": "CA"}, **auth)
    if case == "request/body_over_limit":
        body = json.dumps({"name": "x" * 200, "records": [{"state": "CA"}] * 400}).encode()
        return client.post(url, body, content_type=json_type, **auth)
    if case == "request/declared_length_over_limit":
        return client.generic(
            "POST",
            url,
            b'{"state": "CA"}',
            content_type=json_type,
            CONTENT_LENGTH="999999999",
            **auth,
        )
    if case == "request/batch_over_limit":
        body = json.dumps({"records": [{"state": "CA"}] * 6}).encode()
        return client.post(url, body, content_type=json_type, **auth)
    if case == "request/get":
        return client.get(url, **auth)
    raise AssertionError(case)


@pytest.mark.parametrize("case", _api_cases())
def test_bad_api_request(case, api_world, client):
    expected = EXPECTED.get("api", {}).get(case)
    before = data_fingerprint()
    response = _api_request(api_world, client, case)
    changes = fingerprint_changes(before, data_fingerprint())
    shown = {
        "status": response.status_code,
        "body": response.content.decode("utf-8", "replace")[:600],
    }
    assert expected is not None, f"add to tests/data/bad/expected.json['api']: {case!r}: {shown}"
    assert response.status_code == expected["status"], shown
    assert response["Content-Type"] == "application/json", shown
    if expected["status"] == 200:
        # The API routes a record whose size cannot be read (as the CRM would still need an
        # owner): the answer is the fallback, and the trace says which value was unreadable.
        body = response.json()
        assert body["fallback"] == expected["fallback"], shown
        reasons = [step["reason"] for step in body["trace"]]
        assert any(expected["trace"] in r for r in reasons), f"{case}: {reasons}"
        assert not changes, f"api {case} changed stored data:\n" + "\n".join(changes)
        return
    errors = response.json()["errors"]
    assert any(
        e["field"] == expected["field"] and expected["message"] in e["message"] for e in errors
    ), f"{case}: no error on {expected['field']!r} saying {expected['message']!r}: {errors}"
    assert not changes, f"api {case} changed stored data:\n" + "\n".join(changes)


def test_every_case_has_an_expectation():
    missing = [
        f"expected.json[{endpoint!r}] has no entry for {case!r}"
        for endpoint in ENDPOINTS
        for case in _corpus_cases(endpoint)
        if case not in EXPECTED.get(endpoint, {})
    ] + [
        f"expected.json['api'] has no entry for {case!r}"
        for case in _api_cases()
        if case not in EXPECTED.get("api", {})
    ]
    known = {case for endpoint in ENDPOINTS for case in _corpus_cases(endpoint)} | set(_api_cases())
    stale = [
        f"expected.json[{endpoint!r}][{case!r}] names no corpus case"
        for endpoint, cases in EXPECTED.items()
        for case in cases
        if case not in known
    ]
    unused = [
        f"tests/data/bad/{folder}/{p.name} is sent to no endpoint"
        for folder in ("files", "account_rows", "customer_list_rows", "api", "form_values")
        for p in (CORPUS / folder).iterdir()
        if not any(
            f"{folder}/{p.name}" in EXPECTED.get(endpoint, {}) for endpoint in [*ENDPOINTS, "api"]
        )
    ]
    assert not missing + stale + unused, "\n".join(missing + stale + unused)


# --- Bad parameters of the file commands ----------------------------------------------------------

GOOD_ACCOUNTS = (
    b"Account ID,Account Name,Annual Revenue,State,Postal Code\nA-9,Zed,100,CA,94105\n"
    b"A-8,Yak,200,NY,10001\n"
)
# (command, arguments after the file; "{engagement}" and "{tmp}" are filled in, message fragment)
BAD_PARAMETERS = {
    "import_accounts:mapping_not_json": (
        "import_accounts",
        ["--mapping", "{not json"],
        "--mapping is not valid JSON",
    ),
    "import_accounts:mapping_not_object": (
        "import_accounts",
        ["--mapping", '{"Account ID": 5}'],
        '--mapping must be a JSON object {"file column": "field"}.',
    ),
    "import_accounts:mapping_unknown_column": (
        "import_accounts",
        ["--mapping", '{"Revenue": "annual_revenue"}'],
        "--mapping names columns the file does not have: Revenue",
    ),
    "import_accounts:mapping_unknown_field": (
        "import_accounts",
        ["--mapping", '{"Account Name": "nickname"}'],
        "nickname",
    ),
    "import_accounts:no_such_engagement": ("import_accounts", ["@999999"], "No engagement with id"),
    "route_file:out_not_csv": ("route_file", ["--out", "{tmp}/out.pdf"], "--out must end in"),
    "route_file:out_folder_missing": (
        "route_file",
        ["--out", "{tmp}/nowhere/out.csv"],
        "does not exist",
    ),
    "balance_file:zero_territories": ("balance_file", ["--territories", "0"], "--territories"),
    "balance_file:tolerance_out_of_range": (
        "balance_file",
        ["--territories", "2", "--tolerance", "1.5"],
        "--tolerance must be in [0, 1) (got 1.5)",
    ),
    "balance_file:unknown_measure": (
        "balance_file",
        ["--territories", "2", "--measures", "Profit"],
        "Profit",
    ),
}


@pytest.mark.parametrize("case", list(BAD_PARAMETERS))
def test_bad_command_parameter(case, corpus_world):
    command, extra, fragment = BAD_PARAMETERS[case]
    w = corpus_world
    source = w.tmp / "accounts.csv"
    source.write_bytes(GOOD_ACCOUNTS)
    extra = [a.replace("{tmp}", str(w.tmp)) for a in extra]
    engagement = str(w.engagement.pk)
    if extra[:1] == ["@999999"]:
        engagement, extra = "999999", extra[1:]
    if command == "balance_file":
        argv = [str(source), *extra]
    elif command == "route_file":
        argv = [engagement, str(source), *extra]
    else:
        argv = [engagement, str(source), *extra]
    before, media_before = data_fingerprint(), _media_files(w.media)
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises((CommandError, SystemExit)) as caught:
        call_command(command, *argv, stdout=stdout, stderr=stderr)
    if isinstance(caught.value, SystemExit):
        assert caught.value.code == 2, caught.value.code
        shown = stderr.getvalue().strip()
        assert len(shown.splitlines()) == 1, shown
    else:
        shown = str(caught.value)
    assert fragment in shown, f"{case}: {fragment!r} not in {shown!r}"
    assert fingerprint_changes(before, data_fingerprint()) == []
    assert _media_files(w.media) == media_before
