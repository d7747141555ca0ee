"""The handoff part of manage.py demo: Bluepeak reaches Handoff through the real gates with
enablement, hypercare and maintenance records; a rerun changes nothing."""

from __future__ import annotations

import hashlib
import json
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command

from engagements.models import Engagement, GateDecision
from engagements.services import engagement_state, signoff_latest, signoff_state
from handoff import documents, package, services
from handoff.package_models import DocumentPackage


def _counts(engagement):
    return {
        "trainings": list(
            engagement.training_sessions.values_list("audience_slug", "state", "day")
        ),
        "office_hours": engagement.office_hours.count(),
        "issues": sorted(engagement.hypercare_issues.values_list("kind", "state")),
        "checks": engagement.accuracy_checks.count(),
        "extensions": engagement.hypercare_extensions.count(),
        "occurrences": engagement.maintenance_occurrences.count(),
        "done": engagement.maintenance_occurrences.filter(done=True).count(),
        "triggers": engagement.trigger_evaluations.count(),
        "decisions": sorted(engagement.gate_decisions.values_list("phase__number", "decision")),
    }


def _check_the_package(engagement) -> DocumentPackage:
    """The engagement's one package: v1, its zip on disk, the manifest true to the zip."""
    packages = list(DocumentPackage.objects.filter(engagement=engagement))
    assert [p.version for p in packages] == [1]
    built = packages[0]
    path = package.package_path(built)
    assert path.is_file() and path.stat().st_size == built.size
    assert hashlib.sha256(path.read_bytes()).hexdigest() == built.sha256
    with zipfile.ZipFile(path) as archive:
        names = {name.rsplit("/", 1)[-1]: name for name in archive.namelist()}
        manifest = json.loads(archive.read(names.pop("manifest.json")))
        assert manifest == built.manifest
        assert manifest["version"] == 1 and manifest["customer"] == "Bluepeak Logistics"
        assert manifest["data_version"] == built.data_version
        assert sorted(f["file"] for f in manifest["files"]) == sorted(names)
        assert len(names) == len(documents.DOCUMENTS)
        for entry in manifest["files"]:
            content = archive.read(names[entry["file"]])
            assert hashlib.sha256(content).hexdigest() == entry["sha256"]
            assert len(content) == entry["bytes"] > 0
    assert built.built_by.username == "ops"
    return built


@pytest.mark.slow
@pytest.mark.django_db
def test_demo_moves_bluepeak_to_handoff_with_its_records_and_reruns_cleanly(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("demo", accounts=300, seed=5, password="demo-pass-x", stdout=StringIO())
    bluepeak = Engagement.objects.get(organization__name="Bluepeak Logistics")
    state = engagement_state(engagement=bluepeak)
    assert [state.phase(n).phase.is_closed for n in (1, 2, 3)] == [True, True, True]
    assert state.current.phase.number == 4
    assert signoff_state(engagement=bluepeak, subject="enablement") == "approved"
    # The signed text is the one the portal builds from Bluepeak's records.
    signed = signoff_latest(engagement=bluepeak, subject="enablement").text
    assert signed == services.enablement_signoff(engagement=bluepeak).text
    assert "5 of 5 sessions delivered." in signed
    assert "window of 44 days (30 days + 14 days extension)" in signed
    first = _counts(bluepeak)
    assert {state for _, state, _ in first["trainings"]} == {"delivered"}
    assert len(first["trainings"]) == 5
    assert first["office_hours"] == 5 and first["checks"] == 1 and first["extensions"] == 1
    assert ("question", "open") in first["issues"] and len(first["issues"]) == 5
    assert (3, GateDecision.Decision.EXTEND_HYPERCARE) in first["decisions"]
    assert first["occurrences"] > 40 and first["done"] == 3 and first["triggers"] == 4
    status = services.hypercare_status(engagement=bluepeak)
    assert status.extension_days == 14 and status.state == "complete"
    assert bluepeak.debrief.went_well and bluepeak.handoff_notes.text
    # 3c "weekly office hours" was ticked by the office-hours log.
    assert bluepeak.checklist_items.get(key="3c.office_hours").done
    # Northwind has not reached enablement: no handoff records.
    northwind = Engagement.objects.get(organization__name="Northwind Analytics")
    assert not northwind.training_sessions.exists()

    # Bluepeak's documentation package is built, as ops would; Northwind has none.
    built = _check_the_package(bluepeak)
    assert not DocumentPackage.objects.filter(engagement=northwind).exists()

    call_command("demo", accounts=300, seed=5, password="demo-pass-x", stdout=StringIO())
    assert _counts(bluepeak) == first
    # The rerun re-imports the same accounts (timestamps move, no figure does): it keeps v1,
    # same row, same file, and builds no second version.
    assert _check_the_package(bluepeak).sha256 == built.sha256
