"""The documentation package: every document from the engagement's real data, the manifest,
versions, all-or-nothing builds, and the no-data case."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from handoff import documents, package
from handoff.package_models import DocumentPackage
from territories import design
from tests.factories import make_approved_run, make_hierarchy, make_universe

FORBIDDEN = re.compile(r"lorem|ipsum|\bTODO\b|\[Name\]|\bTBD\b|placeholder|\bFIXME\b", re.I)


def packaged_world(world):
    """``world`` with a valued universe of 300 accounts, an approved map, the territory object
    generated from it, a growth plan and a passing QA run (the demo's building blocks)."""
    from routing import services as routing

    make_universe(world.engagement, n=300)
    hierarchy = make_hierarchy(world.engagement)
    spec = design.hierarchy_spec(engagement=world.engagement, hierarchy=hierarchy)
    spec = dataclasses.replace(
        spec,
        pods=tuple(
            dataclasses.replace(p, granularity_by_state={"CA": "county"}) if p.atom == "unit" else p
            for p in spec.pods
        ),
    )
    make_hierarchy(world.engagement, spec, named_accounts=list(hierarchy.named_accounts))
    run = make_approved_run(world.engagement, user=world.architect)
    design.growth_plan_compute(run=run)  # what the job queued at approval does
    routing.territory_object_generate(engagement=world.engagement, actor=world.engineer)
    routing.qa_generate(engagement=world.engagement, actor=world.engineer)
    routing.qa_run(engagement=world.engagement, user=world.engineer)
    return SimpleNamespace(**world.__dict__, run=run)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def packaged(world, media):
    return packaged_world(world)


def only(monkeypatch, *slugs: str) -> None:
    """Build only these documents (tests of versions and failures need not render all)."""
    monkeypatch.setattr(
        package, "DOCUMENTS", tuple(d for d in documents.DOCUMENTS if d.slug in slugs)
    )


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name.rsplit("/", 1)[-1]: archive.read(name) for name in archive.namelist()}


def weasyprint_errors(caplog) -> list[str]:
    """WeasyPrint's complaints: a table of contents entry without its heading, a resource
    refused — none is expected in a real document."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]


def test_every_document_is_built_from_the_engagements_own_data(packaged, caplog):
    messages = []
    with caplog.at_level(logging.WARNING):
        result = package.package_build(
            engagement=packaged.engagement,
            actor=packaged.ops,
            progress=lambda pct, msg: messages.append(msg),
        )
    assert weasyprint_errors(caplog) == []
    assert result.created and result.package.version == 1
    files = read_zip(package.package_path(result.package))
    manifest = json.loads(files.pop("manifest.json"))

    # Progress per document, "Rendering <doc> (k/n)".
    n = len(documents.DOCUMENTS)
    for k, doc in enumerate(documents.DOCUMENTS, start=1):
        assert f"Rendering {doc.title} ({k}/{n})" in messages

    # The manifest lists every file with its true hash and size, the build time and data version.
    assert manifest["version"] == 1 and manifest["customer"] == "Northwind Test"
    assert manifest["data_version"] == package.package_data_version(engagement=packaged.engagement)
    assert manifest["built_at"] == result.package.built_at.isoformat()
    assert sorted(f["file"] for f in manifest["files"]) == sorted(files)
    assert len(files) == n
    for entry in manifest["files"]:
        content = files[entry["file"]]
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        assert len(content) == entry["bytes"]
    zip_bytes = package.package_path(result.package).read_bytes()
    assert hashlib.sha256(zip_bytes).hexdigest() == result.package.sha256

    report = design.run_report(run=packaged.run)
    territories = [t for p in report["pods"] for t in p["territories"]]
    total_value = sum(t["value"] for t in territories)
    total_count = sum(t["count"] for t in territories)
    texts = {}
    for index, doc in enumerate(documents.DOCUMENTS, start=1):
        name = documents.filename(index, doc)
        if doc.kind != "pdf":
            continue
        text = pdf_text(files[name])
        texts[doc.slug] = text
        flat = " ".join(text.split())
        assert "Northwind Test" in flat, doc.slug  # cover and running header
        assert doc.title in flat, doc.slug
        assert "Package v1" in flat, doc.slug  # running header with the version
        assert re.search(r"Page 2 of \d+", flat), doc.slug  # page numbers
        context = doc.context(package.Sources(packaged.engagement))
        for _anchor, title in context["sections"]:
            assert title in flat, (doc.slug, title)  # every section's heading
        assert not FORBIDDEN.search(text), (doc.slug, FORBIDDEN.search(text))

    flat_map = " ".join(texts["balanced-territory-map"].split())
    assert f"{len(territories)} territories" in flat_map
    assert f"{total_count:,} accounts" in flat_map
    assert f"${total_value:,.0f}" in flat_map
    for t in territories:
        assert t["label"] in flat_map and f"${t['value']:,.0f}" in flat_map
    assert "Contents" in flat_map  # table of contents of a long document

    # The growth-ready plan has a statement for every existing rep, losing something or not.
    growth = " ".join(texts["growth-ready-territory-plan"].split())
    statements = design.growth_plan(run=packaged.run)["statements"]
    assert len(statements) == len(territories)
    for row in statements:
        assert row["statement"] in growth, row["statement"]

    qa = packaged.engagement.qa_runs.first()
    assert f"{qa.passed} of {qa.total} cases passed" in " ".join(
        texts["test-documentation"].split()
    )
    trouble = " ".join(texts["routing-troubleshooting-guide"].split())
    assert "Real decision traces" in trouble and "fallback" in trouble.lower()
    traces = documents.guides.troubleshooting(package.Sources(packaged.engagement))["traces"]
    levels = [t["level"] for t in traces]
    assert "territory" in levels and "account_list" in levels  # geography and a listed account
    assert traces[-1]["why"].endswith("the fallback") and not traces[-1]["territory"]
    for t in traces:  # each trace printed with the account it routed
        assert t["record"]["external_id"] in trouble
    a_record = packaged.engagement.territory_records.order_by("key").first()
    assert a_record.key in " ".join(texts["tech-spec"].split())
    maint = " ".join(texts["maintenance-schedule"].split())
    assert "Territory object hygiene" in maint or "hygiene" in maint.lower()

    # The spreadsheets: every account with its value, territories of the object, no injection.
    valued = load_workbook(io.BytesIO(files["14-valued-account-list.xlsx"]), read_only=True)
    rows = list(valued["Valued accounts"].iter_rows(values_only=True))
    assert len(rows) - 1 == packaged.engagement.accounts.count()
    value_col = rows[0].index("Account value (USD)")
    assert sum(r[value_col] or 0 for r in rows[1:]) == pytest.approx(
        sum(a.value or 0 for a in packaged.engagement.accounts.all())
    )
    assigned = load_workbook(io.BytesIO(files["15-territory-assignments.xlsx"]), read_only=True)
    keys = {r[1] for r in list(assigned["Territories"].iter_rows(values_only=True))[1:]}
    assert set(packaged.engagement.territory_records.values_list("key", flat=True)) <= keys | {
        r[0] for r in list(assigned["Territories"].iter_rows(values_only=True))[1:]
    }
    for workbook in (valued, assigned):
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows(values_only=True):
                for cell in row:
                    if isinstance(cell, str):
                        assert not FORBIDDEN.search(cell), cell


def test_a_formula_in_an_account_name_is_neutralised_in_the_xlsx(packaged, monkeypatch):
    only(monkeypatch, "valued-account-list")
    account = packaged.engagement.accounts.order_by("-value").first()
    account.name = '=HYPERLINK("http://evil.example","x")'
    account.save()
    result = package.package_build(engagement=packaged.engagement, actor=None)
    files = read_zip(package.package_path(result.package))
    sheet = load_workbook(io.BytesIO(files["01-valued-account-list.xlsx"]))["Valued accounts"]
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'" + account.name in names and account.name not in names


def test_versions_new_data_makes_v2_unchanged_data_keeps_v1_force_makes_a_new_one(
    packaged, monkeypatch
):
    only(monkeypatch, "faq", "territory-assignments")
    first = package.package_build(engagement=packaged.engagement, actor=packaged.ops)
    again = package.package_build(engagement=packaged.engagement, actor=packaged.ops)
    assert not again.created and again.package.pk == first.package.pk
    assert "current" in again.message
    assert DocumentPackage.objects.filter(engagement=packaged.engagement).count() == 1

    account = packaged.engagement.accounts.first()
    account.employees = (account.employees or 0) + 7
    account.updated_at = timezone.now()  # as an import writes it: the data version changes
    account.save()
    second = package.package_build(engagement=packaged.engagement, actor=packaged.ops)
    assert second.created and second.package.version == 2
    assert second.package.data_version != first.package.data_version
    forced = package.package_build(engagement=packaged.engagement, actor=packaged.ops, force=True)
    assert forced.created and forced.package.version == 3
    assert [p.version for p in packaged.engagement.document_packages.all()] == [3, 2, 1]
    # Every version's zip is kept and says which version it is.
    for p in packaged.engagement.document_packages.all():
        manifest = json.loads(read_zip(package.package_path(p))["manifest.json"])
        assert manifest["version"] == p.version


def test_a_failing_document_leaves_no_package_row_and_no_file(packaged, monkeypatch, media):
    only(monkeypatch, "territory-update-guide", "rules-of-engagement", "territory-assignments")
    broken = documents.document("rules-of-engagement")

    def boom(src):
        raise RuntimeError("the holdover term is unreadable")

    index = package.DOCUMENTS.index(broken)
    patched = list(package.DOCUMENTS)
    patched[index] = dataclasses.replace(broken, context=boom)
    monkeypatch.setattr(package, "DOCUMENTS", tuple(patched))
    with pytest.raises(package.PackageError) as failure:
        package.package_build(engagement=packaged.engagement, actor=packaged.ops)
    assert "Rendering Rules of Engagement (2/3) failed" in str(failure.value)
    assert "the holdover term is unreadable" in str(failure.value)
    assert not DocumentPackage.objects.filter(engagement=packaged.engagement).exists()
    folder = Path(media) / "packages" / str(packaged.engagement.pk)
    assert list(folder.iterdir()) == []  # no zip, no temporary directory left


def test_an_engagement_without_data_gets_documents_that_say_so(world, media, caplog):
    with caplog.at_level(logging.WARNING):
        result = package.package_build(engagement=world.other, actor=None)
    assert weasyprint_errors(caplog) == []  # every contents entry has its heading
    files = read_zip(package.package_path(result.package))
    texts = {
        name: " ".join(pdf_text(content).split())
        for name, content in files.items()
        if name.endswith(".pdf")
    }
    assert (
        "No balancing run has been approved for Bluepeak Test yet"
        in texts["01-balanced-territory-map.pdf"]
    )
    assert (
        "No territory object has been generated for Bluepeak Test yet" in texts["12-tech-spec.pdf"]
    )
    assert "No QA run has been recorded for Bluepeak Test yet" in texts["13-test-documentation.pdf"]
    for name, text in texts.items():
        assert not FORBIDDEN.search(text), (name, FORBIDDEN.search(text))
    sheet = load_workbook(io.BytesIO(files["15-territory-assignments.xlsx"]))["Territories"]
    assert "No balancing run has been approved" in sheet["A2"].value


def _leftovers_of_a_killed_build(folder: Path, version: int) -> list[str]:
    """What a SIGKILL leaves (no ``finally`` runs): a temporary directory with rendered files
    and a half-written zip, and a finished zip moved into place but never recorded."""
    work = folder / f"{package.WORK_PREFIX}dead1234"
    work.mkdir(parents=True)
    (work / "01-faq.pdf").write_bytes(b"%PDF-1.7\n")
    (work / f"northwind-test-documentation-v{version}.zip").write_bytes(b"PK\x03\x04 cut off")
    (folder / f"northwind-test-documentation-v{version}.zip").write_bytes(b"PK\x03\x04 no row")
    return sorted([work.name, f"northwind-test-documentation-v{version}.zip"])


def test_the_next_build_removes_what_a_killed_build_left_and_keeps_every_version(
    packaged, monkeypatch, media, caplog
):
    only(monkeypatch, "faq", "territory-assignments")
    first = package.package_build(engagement=packaged.engagement, actor=packaged.ops)
    folder = Path(media) / "packages" / str(packaged.engagement.pk)
    v1_zip = package.package_path(first.package)
    left = _leftovers_of_a_killed_build(folder, version=2)
    (folder / "README.txt").write_text("not a build's file")  # only a build's own names go
    # Without the clean-up, the stray v2 zip would fail every later build ("already exists").
    with caplog.at_level(logging.WARNING, logger="handoff.package"):
        second = package.package_build(
            engagement=packaged.engagement, actor=packaged.ops, force=True
        )
    assert second.created and second.package.version == 2
    assert f"packages/{packaged.engagement.pk}/: {', '.join(left)}" in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["README.txt", first.package.filename, second.package.filename]
    )
    assert hashlib.sha256(v1_zip.read_bytes()).hexdigest() == first.package.sha256
    manifest = json.loads(read_zip(package.package_path(second.package))["manifest.json"])
    assert manifest["version"] == 2  # the real v2, not the stray one


def test_the_lost_job_handler_cleans_up_unless_a_build_holds_the_lock(packaged, monkeypatch, media):
    from engagements import tracking
    from engagements.models import Job
    from handoff import package_jobs

    assert (
        package.package_build_lost
        in tracking._LOST_HANDLERS[tracking._kind(package_jobs.package_build)]
    )
    only(monkeypatch, "faq")
    first = package.package_build(engagement=packaged.engagement, actor=packaged.ops)
    folder = Path(media) / "packages" / str(packaged.engagement.pk)
    _leftovers_of_a_killed_build(folder, version=2)
    everything = sorted(p.name for p in folder.iterdir())
    lost = Job.objects.create(
        engagement=packaged.engagement, kind="handoff.package_jobs.package_build", title="Build"
    )

    with package.package_lock(packaged.engagement.pk, holder="job 77, pid 4242 on web-2") as held:
        assert held
        # A live build holds the lock: the handler touches nothing of it ...
        package.package_build_lost(lost)
        assert sorted(p.name for p in folder.iterdir()) == everything
        # ... and a second build of the engagement is refused at once, saying who builds.
        with pytest.raises(package.PackageError) as refused:
            package.package_build(engagement=packaged.engagement, actor=packaged.ops, force=True)
        assert str(refused.value) == (
            "Another build of this engagement's package is running (job 77, pid 4242 on web-2);"
            " build again once it has finished."
        )
    assert DocumentPackage.objects.filter(engagement=packaged.engagement).count() == 1

    package.package_build_lost(lost)  # the lock is free: the dead build's files go
    assert [p.name for p in folder.iterdir()] == [first.package.filename]
    package.package_build_lost(lost)  # idempotent
    assert hashlib.sha256(package.package_path(first.package).read_bytes()).hexdigest() == (
        first.package.sha256
    )
