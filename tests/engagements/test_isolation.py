"""Every engagement URL answers 404 to users outside the engagement, whatever the method.

The URL list is read from the URL configuration, so a view added later is covered without
touching this file; the full role × URL table lives in the end-to-end permission matrix.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from engagements.models import Job
from tests.factories import make_account


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def engagement_routes():
    routes = []
    for route, pattern in _patterns():
        if "<int:engagement_pk>" in route:
            routes.append((route, pattern))
    return routes


def _fill(route: str, values: dict[str, int]) -> str:
    import re

    def replace(match):
        name = match.group(2)
        return str(values.get(name, 1))

    path = re.sub(r"<(int|str|slug|uuid|path):(\w+)>", replace, route)
    return "/" + path.lstrip("^").rstrip("$")


@pytest.fixture
def objects(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # uploads and exports the fixture writes
    from engagements.services import SignoffEvidence, signoff_decide, signoff_publish

    job = Job.objects.create(engagement=world.engagement, kind="x", title="t")
    account = make_account(world.engagement)
    version = signoff_publish(
        engagement=world.engagement, subject="icp_matrix", title="ICP", text="T1", actor=None
    )
    record = signoff_decide(
        version=version,
        decision="declined",
        signer=world.customer,
        signer_name="",
        comment="not yet",
        evidence=SignoffEvidence("127.0.0.1", "test", "test"),
    )
    from engagements.models import Stakeholder
    from engagements.services import assumption_register, feedback_add, stakeholder_save
    from tests.factories import make_meeting, make_upload

    engagement = world.engagement
    meeting = make_meeting(engagement)
    assumption = assumption_register(
        engagement=engagement, key="x.y", category="other", statement="S", value=1
    )
    feedback = feedback_add(meeting=meeting, text="F", actor=world.architect)
    stakeholder = stakeholder_save(
        stakeholder=Stakeholder(engagement=engagement, name="Pat"), actor=world.architect
    )
    return {
        "engagement_pk": engagement.pk,
        "job_pk": job.pk,
        "account_pk": account.pk,
        "version_pk": version.pk,
        "record_pk": record.pk,
        "meeting_pk": meeting.pk,
        "assumption_pk": assumption.pk,
        "feedback_pk": feedback.pk,
        "stakeholder_pk": stakeholder.pk,
        "item_pk": engagement.checklist_items.first().pk,
        "term_pk": engagement.definition_terms.first().pk,
        "membership_pk": engagement.memberships.get(user=world.viewer).pk,
        "upload_pk": make_upload(engagement, world.customer).pk,
        "phase_number": 1,
        **_territories_objects(world),
        **_routing_objects(world),
        **_design_objects(world),
        **_handoff_objects(world),
    }


def _territories_objects(world) -> dict[str, int]:
    """Real objects for the territories URLs: an import with row errors, a tier rule, a rep, a
    planned hire and a finished XLSX export (members must get 200/403, never 404)."""
    import datetime as dt

    from django.core.files.uploadedfile import SimpleUploadedFile

    from territories import jobs, services, tiers
    from territories.models import PlannedHire, Rep

    record = services.account_import_create(
        engagement=world.engagement,
        upload=SimpleUploadedFile("a.csv", b"ID,Name,Revenue\n1,Acme,abc\n2,Bee,5\n"),
        user=None,
    )
    services.account_import_run(account_import=record, revalue=False)
    rule = services.tier_rule_save(
        engagement=world.engagement,
        rule=None,
        tier="T1",
        name="",
        conditions=[tiers.Condition("industry", "in", ("Software",))],
        actor=None,
    )
    rep = Rep.objects.create(engagement=world.engagement, name="Ann")
    hire = PlannedHire.objects.create(
        engagement=world.engagement, title="AE 2", start_date=dt.date(2030, 1, 1)
    )
    export = Job.objects.create(
        engagement=world.engagement,
        kind=f"{jobs.valued_accounts_export.__module__}.valued_accounts_export",
        title="export",
        status=Job.Status.SUCCEEDED,
        result=services.valued_accounts_export(engagement=world.engagement),
    )
    return {
        "import_pk": record.pk,
        "rule_pk": rule.pk,
        "rep_pk": rep.pk,
        "hire_pk": hire.pk,
        "export_pk": export.pk,
    }


def _routing_objects(world) -> dict[str, int]:
    """Real objects for the routing URLs: a territory object, a routed file, a QA case and
    run, an audit and an API token."""
    import datetime as dt

    from django.core.files.uploadedfile import SimpleUploadedFile

    from routing import services
    from routing.access import token_create
    from routing.models import QACase, QARun
    from tests.routing.conftest import make_small_object

    small = make_small_object(world.engagement)
    override = world.engagement.named_overrides.first()
    batch = services.batch_create(
        engagement=world.engagement,
        upload=SimpleUploadedFile("r.csv", b"ID,State,Zip\n1,CA,90012\n"),
        user=None,
    )
    services.batch_run(batch=batch)
    case = QACase.objects.create(
        engagement=world.engagement, category="standard", name="c", expect_owner="Bob"
    )
    run = QARun.objects.create(engagement=world.engagement, total=1, passed=1)
    audit = services.audit_create(
        engagement=world.engagement,
        upload=SimpleUploadedFile(
            "crm.csv", b"ID,State,Zip,Account Owner,Created Date\n1,CA,90012,Bob,2030-01-02\n"
        ),
        user=None,
        rollout_date=dt.date(2030, 1, 1),
    )
    token, _ = token_create(engagement=world.engagement, name="t", actor=None)
    return {
        "territory_pk": small.la.pk,
        "override_pk": override.pk,
        "batch_pk": batch.pk,
        "case_pk": case.pk,
        "qa_run_pk": run.pk,
        "audit_pk": audit.pk,
        "token_pk": token.pk,
    }


def _design_objects(world) -> dict[str, int]:
    """A finished balancing run (one geographic pod over the fixture's accounts) and one of its
    atoms, for the territory design URLs."""
    from dataclasses import replace

    from territories import design
    from territories.hierarchy import PodSpec
    from tests.factories import make_hierarchy, make_run

    spec = design.hierarchy_spec(engagement=world.engagement)
    make_hierarchy(world.engagement, replace(spec, pods=(PodSpec("all", "All", seats=1),)))
    run = make_run(world.engagement)
    return {"run_pk": run.pk, "atom_pk": run.atoms.first().pk}


def test_there_are_engagement_routes_to_check():
    assert len(engagement_routes()) >= 4


@pytest.mark.parametrize("stranger", ["customer2", "outsider", "architect2"])
def test_strangers_get_404_on_every_engagement_url(world, objects, client, stranger):
    client.force_login(getattr(world, stranger))
    for route, _ in engagement_routes():
        url = _fill(route, objects)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, (
                f"{method.upper()} {url} gave {response.status_code} to {stranger}"
            )


def test_anonymous_users_are_sent_to_login(world, objects, client):
    for route, _ in engagement_routes():
        url = _fill(route, objects)
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/auth/login/"), url


@pytest.mark.parametrize(
    "member", ["architect", "engineer", "customer", "viewer", "manager", "ops"]
)
def test_members_are_not_told_404_on_their_own_engagement(world, objects, client, member):
    client.force_login(getattr(world, member))
    for route, _ in engagement_routes():
        url = _fill(route, objects)
        response = client.get(url)
        assert response.status_code in (200, 403, 405), f"GET {url}: {response.status_code}"


def test_an_object_of_another_engagement_is_404_through_this_one(world, client):
    foreign_job = Job.objects.create(engagement=world.other, kind="x", title="theirs")
    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/jobs/{foreign_job.pk}/"
    assert client.get(url).status_code == 404


def _handoff_objects(world) -> dict:
    """A documentation package (v1, one file) for the package URLs."""
    import zipfile
    from pathlib import Path

    from django.conf import settings

    from handoff.package_models import DocumentPackage

    folder = Path(settings.MEDIA_ROOT) / "packages" / str(world.engagement.pk)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "alpha-documentation-v1.zip", "w") as archive:
        archive.writestr("alpha-documentation-v1/01-faq.pdf", b"%PDF-1.7\n")
    DocumentPackage.objects.create(
        engagement=world.engagement,
        version=1,
        data_version="isolation",
        file=f"packages/{world.engagement.pk}/alpha-documentation-v1.zip",
        sha256="0" * 64,
        manifest={"files": [{"file": "01-faq.pdf", "title": "FAQ", "sha256": "0", "bytes": 9}]},
    )
    return {"version": 1, "filename": "01-faq.pdf"}
