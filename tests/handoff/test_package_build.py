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
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from handoff import documents, package
from handoff.package_models import DocumentPackage
from territories import design, geo
from territories.models import Account
from tests.factories import (
    clear_design_blockers,
    make_approved_run,
    make_hierarchy,
    make_universe,
)

FORBIDDEN = re.compile(r"lorem|ipsum|\bTODO\b|\[Name\]|\bTBD\b|placeholder|\bFIXME\b", re.I)


def packaged_world(world):
    """``world`` with a valued universe of 300 accounts, an approved map, the territory object
    generated from it, a passing QA run, every definition and the valuation methodology signed
    by the customer, a growth plan for one planned hire, and a maintenance schedule from the
    rollout with its first check done (the demo's building blocks). The engagement is dedicated,
    so the schedule carries the refinement check-in."""
    from engagements.models import Engagement
    from engagements.services import SignoffEvidence, signoff_decide
    from handoff import services as handoff
    from routing import services as routing
    from territories import demo as territories_demo
    from territories import services as territories_services
    from territories.models import PlannedHire

    Engagement.objects.filter(pk=world.engagement.pk).update(type=Engagement.Type.DEDICATED)
    world.engagement.refresh_from_db()

    make_universe(world.engagement, n=300)
    for tier, name, conditions in territories_demo.V0_MATRIX:  # the ICP tier matrix
        territories_services.tier_rule_save(
            engagement=world.engagement,
            rule=None,
            tier=tier,
            name=name,
            conditions=conditions,
            actor=None,
        )
    territories_services.accounts_revalue(engagement=world.engagement)
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
    routing.territory_object_generate(engagement=world.engagement, actor=world.engineer)
    routing.qa_generate(engagement=world.engagement, actor=world.engineer)
    routing.qa_run(engagement=world.engagement, user=world.engineer)
    # Every definition, the valuation methodology and the ICP matrix signed by "Carla Customer".
    clear_design_blockers(world.engagement, world.customer)
    signoff_decide(
        version=territories_services.territories_publish(
            engagement=world.engagement, subject=territories_services.ICP_SUBJECT, actor=None
        ),
        decision="approved",
        signer=world.customer,
        signer_name="Carla Customer",
        comment="",
        evidence=SignoffEvidence("127.0.0.1", "tests", "tests"),
    )
    PlannedHire.objects.create(
        engagement=world.engagement,
        title="AE West #4",
        segment="Mid-Market",
        home_state="CA",
        start_date=timezone.localdate() + timedelta(days=40),
    )
    design.growth_plan_compute(run=run)  # what the job queued at approval does
    rollout = timezone.localdate() - timedelta(days=40)
    handoff.hypercare_rollout_set(engagement=world.engagement, rollout=rollout, actor=None)
    handoff.maintenance_generate(engagement=world.engagement, actor=None)
    first = world.engagement.maintenance_occurrences.order_by("due", "task_slug").first()
    handoff.maintenance_done(
        occurrence=first,
        findings="Two reps still listed on the old West territory; fixed in the CRM.",
        red_flag_hit=True,
        actor=world.architect,
    )
    return SimpleNamespace(**world.__dict__, run=run)


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

    flat = {slug: " ".join(text.split()) for slug, text in texts.items()}
    for slug, text in flat.items():  # no Python value leaked into the prose
        assert not PYTHON_LEAK.search(text), (slug, PYTHON_LEAK.search(text))
    _the_map_shows_every_territory(packaged, flat["balanced-territory-map"], territories)
    _the_hierarchy_shows_its_pods_and_draws_the_pyramid(packaged, flat["territory-hierarchy"])
    _the_growth_plan_shows_every_step(packaged, flat["growth-ready-territory-plan"])
    _the_valuation_shows_the_valued_universe(packaged, flat["valuation-methodology"])
    _the_icp_matrix_counts_every_tier(packaged, flat["icp-tier-matrix"])
    _the_definitions_carry_each_signature(packaged, flat["definition-alignment"])
    _the_rules_of_engagement_print_the_signed_holdover_policy(packaged, flat["rules-of-engagement"])
    _the_test_documentation_counts_every_category(packaged, flat["test-documentation"])
    _the_maintenance_schedule_lists_the_tasks(packaged, flat["maintenance-schedule"])

    # The growth-ready plan has a statement for every existing rep, losing something or not.
    statements = design.growth_plan(run=packaged.run)["statements"]
    assert len(statements) == len(territories)
    for row in statements:
        assert row["statement"] in flat["growth-ready-territory-plan"], row["statement"]

    trouble = flat["routing-troubleshooting-guide"]
    assert "Real decision traces" in trouble and "fallback" in trouble.lower()
    traces = documents.guides.troubleshooting(package.Sources(packaged.engagement))["traces"]
    levels = [t["level"] for t in traces]
    assert "territory" in levels and "account_list" in levels  # geography and a listed account
    assert traces[-1]["why"].endswith("the fallback") and not traces[-1]["territory"]
    for t in traces:  # each trace printed with the account it routed
        assert t["record"]["external_id"] in trouble
    a_record = packaged.engagement.territory_records.order_by("key").first()
    assert a_record.key in flat["tech-spec"]

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
    assert (
        "The schedule has not been generated in the portal yet: these are the"
        in texts["11-maintenance-schedule.pdf"]
    )
    for name, text in texts.items():
        assert not FORBIDDEN.search(text), (name, FORBIDDEN.search(text))
        assert not PYTHON_LEAK.search(text), (name, PYTHON_LEAK.search(text))
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


# What a template prints when it renders a Python value it should have worded.
PYTHON_LEAK = re.compile(r"\bNone\b|\bnan\b|\{\{|\{%")


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _the_map_shows_every_territory(packaged, text: str, territories: list[dict]) -> None:
    total_value = sum(t["value"] for t in territories)
    total_count = sum(t["count"] for t in territories)
    assert f"{len(territories)} territories" in text
    assert f"{total_count:,} accounts" in text and _usd(total_value) in text
    assert total_count == packaged.engagement.accounts.count()
    for t in territories:
        assert t["label"] in text and _usd(t["value"]) in text
    assert "Contents" in text  # table of contents of a long document
    # The SVG maps rendered: their legends (text drawn only inside the SVG) are in the PDF,
    # one row per territory of a geographic pod, "label · rep" over "count · $value".
    # The value chart (SVG) rendered: its title and each pod's mean are drawn only inside it.
    assert "Value per territory Enterprise · pod mean" in text
    for pod in design.run_report(run=packaged.run)["pods"]:
        mean = sum(t["value"] for t in pod["territories"]) / len(pod["territories"])
        assert f"{pod['label']} · pod mean {geo.format_usd(mean)}" in text, pod["label"]
    layers = design.map_layers_data(run=packaged.run)
    assert layers, "the approved map has geographic pods"
    for layer in layers:
        assert f"{layer['title']}: {len(layer['legend'])} territories." in text
        for row in layer["legend"]:
            assert f"{row.label}" in text
            assert f"{row.count:,} · {geo.format_usd(row.value)}" in text, row.label


def _the_hierarchy_shows_its_pods_and_draws_the_pyramid(packaged, text: str) -> None:
    hierarchy = design.hierarchy_get(engagement=packaged.engagement)
    spec = design.hierarchy_spec(engagement=packaged.engagement, hierarchy=hierarchy)
    overview = design.hierarchy_overview(
        engagement=packaged.engagement,
        spec=spec,
        named=hierarchy.named_accounts,
        share=hierarchy.split_share,
    )
    pods = overview["pods"]
    accounts = sum(p.accounts for p in pods)
    value = sum(p.value for p in pods)
    # Named accounts go to their owners, counted in the pod of the owner's seat as a run counts
    # them; a named account whose owner holds no seat is left out; the rest fall to pods or none.
    assert overview["named"] == 1
    assert (
        accounts + overview["named_unplaced"] + overview["unassigned"]["accounts"]
        == packaged.engagement.accounts.count()
    )
    assert f"places {accounts:,} accounts worth {_usd(value)} in {len(pods)} pods" in text
    for p in pods:  # the table: seats, accounts and value per pod
        assert f"{p.accounts:,} {_usd(p.value)}" in text, p.pod.label
    # The pyramid SVG rendered: its bands and pod boxes are text drawn only inside the SVG.
    assert "Segmentation hierarchy 1. Named accounts" in text
    assert "3. State; split: California by county" in text
    for p in pods:
        box = f"{p.pod.label} {p.pod.seats} seat{'s' if p.pod.seats != 1 else ''} ·"
        assert box in text, box
        assert f"{p.accounts:,} accounts · {geo.format_usd(p.value)}" in text, p.pod.label


def _the_growth_plan_shows_every_step(packaged, text: str) -> None:
    plan = design.growth_plan(run=packaged.run)
    assert plan["steps"], "the planned hire gets a pre-planned cut"
    for step in plan["steps"]:
        assert f"Step {step['step']}: {step['hire']} ({step['pod']})" in text
        assert f"takes {step['atoms']:,} areas or accounts worth {_usd(step['value'])}" in text
        for donor in step["donors"]:
            assert " ".join(donor["statement"].split()) in text
    for loss in plan["losses"]:
        assert f"{loss['holder']} {loss['accounts']:,} {_usd(loss['value'])}" in text
    months = plan["runway"]["months"]
    assert (
        f"covers the market for more than {plan['runway']['horizon']} months" in text
        if months is None
        else f"covers the market for {months} months" in text
    )
    assert "AE West #4 Account executive Mid-Market CA" in text  # the planned hires table


def _the_valuation_shows_the_valued_universe(packaged, text: str) -> None:
    from django.db.models import Count, Sum

    accounts = packaged.engagement.accounts
    totals = accounts.aggregate(n=Count("pk"), value=Sum("value"))
    customers = accounts.filter(is_customer=True).aggregate(value=Sum("value"))["value"]
    assert (
        f"{totals['n']:,} accounts of Northwind Test were valued on" in text
        and f"{_usd(totals['value'])} in total ({_usd(customers)} from current customers, "
        f"{_usd(totals['value'] - customers)} from prospects)"
        in text
    )
    for row in accounts.values("tier").annotate(n=Count("pk"), value=Sum("value")):
        label = dict(Account.Tier.choices)[row["tier"]]
        assert f"{label} {row['n']:,} {_usd(row['value'])}" in text, label
    assert "Hedge factor 0.6" in text
    assert "Signed by Carla Customer (customer)" in text  # the methodology's sign-off


def _the_icp_matrix_counts_every_tier(packaged, text: str) -> None:
    from django.db.models import Count, Sum

    accounts = packaged.engagement.accounts
    n = accounts.count()
    rows = accounts.values("tier").annotate(k=Count("pk"), value=Sum("value"))
    assert len(rows) == 4  # T1, T2, T3 and unqualified all occur in this universe
    for row in rows:
        label = dict(Account.Tier.choices)[row["tier"]]
        share = f"{100 * row['k'] / n:.1f} %"
        assert f"{label} {row['k']:,} {share} {_usd(row['value'])}" in text, label
        customers = accounts.filter(tier=row["tier"], is_customer=True).count()
        assert f"{label} {customers:,} " in text
    assert f"All accounts {n:,}" in text
    for rule in packaged.engagement.tier_rules.all():
        assert rule.name in text
    assert "Signed by Carla Customer (customer)" in text


def _the_definitions_carry_each_signature(packaged, text: str) -> None:
    from engagements.models import SignoffRecord

    terms = list(packaged.engagement.definition_terms.all())
    assert f"{len(terms)} of {len(terms)} definitions are approved by Northwind Test" in text
    no_spaces = "".join(text.split())  # a hash wraps inside its table cell
    for term in terms:
        record = SignoffRecord.objects.get(
            engagement=packaged.engagement, subject=term.subject, decision="approved"
        )
        assert record.signer_name == "Carla Customer"
        row = f"{term.term} v{record.version_number} Carla Customer"
        assert row in text, row
        assert record.text_sha256 in no_spaces, term.term
    records = SignoffRecord.objects.filter(engagement=packaged.engagement).count()
    assert f"All {records} sign-off records of this engagement were re-verified" in text


def _the_rules_of_engagement_print_the_signed_holdover_policy(packaged, text: str) -> None:
    from engagements.models import SignoffRecord

    term = packaged.engagement.definition_terms.get(slug="holdover-policy")
    signed = (
        SignoffRecord.objects.select_related("version")
        .get(engagement=packaged.engagement, subject=term.subject, decision="approved")
        .version.text
    )
    assert signed.startswith("Holdover Policy: ")
    assert f"Holdover policy for territory transitions {signed} (approved)." in text
    assert "Holdover Policy: Holdover Policy" not in text  # the term is printed once
    for loss in design.growth_plan(run=packaged.run)["losses"]:  # the planned handovers
        assert f"{loss['holder']} {loss['accounts']:,} {_usd(loss['value'])} AE West #4" in text
    territories = packaged.engagement.territory_records.count()
    assert f"Northwind Test's {territories} territories took effect" in text


def _the_test_documentation_counts_every_category(packaged, text: str) -> None:
    from routing.models import QACase

    qa = packaged.engagement.qa_runs.first()
    assert f"{qa.passed} of {qa.total} cases passed" in text
    labels = dict(QACase.Category.choices)
    counts: dict[str, list[int]] = {}
    for result in qa.results:
        bucket = counts.setdefault(labels[result["category"]], [0, 0])
        bucket[0] += int(result["passed"])
        bucket[1] += 1
    assert len(counts) >= 5
    for label, (passed, total) in counts.items():
        assert f"{label} {passed} {total}" in text, label
    for result in qa.results:
        assert result["name"] in text


def _the_maintenance_schedule_lists_the_tasks(packaged, text: str) -> None:
    from handoff import services

    stored = list(packaged.engagement.maintenance_occurrences.all())
    tasks = {o.task for o in stored}
    assert len(tasks) == 12  # three tasks for each of the four cadences
    for task in tasks:
        assert task in text, task
    # The stored schedule, not a recomputation: its count, and the done check with its findings,
    # who did it and the red flag it hit.
    assert f"{len(stored)} task occurrences from" in text and "as scheduled in the portal" in text
    [done] = [o for o in stored if o.done]
    assert (
        f"Checks done and what they found Due Task Done By Red flag hit Findings "
        f"{done.due:%-d %b %Y} {done.task} {timezone.localdate(done.done_at):%-d %b %Y} "
        f"architect yes {done.findings}"
    ) in text
    assert text.count("open") >= len(stored) - 1  # the others are open
    # The dedicated engagement's refinement check-in and its reminder, dated.
    path = services.retention(engagement=packaged.engagement)
    assert (
        f"Refinement check-in on {path.checkin:%-d %B %Y}, a quarter after rollout; the "
        f"architect is reminded on {path.reminder:%-d %B %Y}"
    ) in text
    assert f"{path.reminder:%a %-d %b %Y} Retention Refinement check-in in 2 weeks" in text
    assert f"{path.checkin:%a %-d %b %Y} Retention Refinement check-in with Northwind Test" in text


def test_marking_a_maintenance_check_done_makes_a_new_package_version(packaged, monkeypatch):
    from handoff import services

    only(monkeypatch, "maintenance-schedule")
    first = package.package_build(engagement=packaged.engagement, actor=packaged.ops)
    occurrence = packaged.engagement.maintenance_occurrences.filter(done=False).first()
    services.maintenance_done(
        occurrence=occurrence, findings="All routing correct.", red_flag_hit=False, actor=None
    )
    second = package.package_build(engagement=packaged.engagement, actor=packaged.ops)
    assert second.created and second.package.version == first.package.version + 1
    text = " ".join(
        pdf_text(
            read_zip(package.package_path(second.package))["01-maintenance-schedule.pdf"]
        ).split()
    )
    assert f"{occurrence.task} " in text and "All routing correct." in text


def test_the_demo_builds_the_package_once_and_again_only_when_its_zip_is_gone(
    world, media, monkeypatch
):
    only(monkeypatch, "faq")
    first = package.demo_package(engagement=world.other, actor=world.ops)
    assert first.version == 1 and package.package_path(first).is_file()
    assert package.demo_package(engagement=world.other, actor=world.ops).pk == first.pk
    package.package_path(first).unlink()  # media wiped, database kept
    second = package.demo_package(engagement=world.other, actor=world.ops)
    assert second.version == 2 and package.package_path(second).is_file()
    assert [p.version for p in world.other.document_packages.all()] == [2, 1]
