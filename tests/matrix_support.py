"""Machinery of the project-wide permission matrix (``tests/test_permission_matrix.py``).

* ``url_patterns()`` walks the whole URL configuration (every ``URLPattern``, through every
  include) and yields ``Route(name, route, pattern)`` with the namespaced name
  (``"routing:qa_suite"``) and the full route text.
* ``build_objects(engagement, approver=, architect=)`` creates one object of every kind a URL
  takes as a keyword argument on ``engagement`` and returns ``{kwarg: pk}``; the matrix calls it
  for the users' own engagement and for another customer's, so a 404 on "other" is the access
  layer at work, not a missing object.
* ``fill(route, values)`` turns a route into a path with those values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from engagements.models import Engagement, Job, Stakeholder, User
from handoff.services import ASSET_PREFIX


@dataclass(frozen=True)
class Route:
    name: str  # namespaced: "engagements:intake"
    route: str  # full route text: "engagements/<int:engagement_pk>/intake/"
    pattern: URLPattern


def url_patterns(resolver=None, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}{entry.namespace}:"
            yield from url_patterns(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else f"{namespace}<unnamed {entry}>"
            yield Route(name, prefix + str(entry.pattern), entry)


def routes_by_name(*, exclude_namespaces: tuple[str, ...] = ()) -> dict[str, Route]:
    """Every named route, first one wins (what the resolver serves when two share a name and
    path, like ``login`` in the project and in ``django.contrib.auth.urls``)."""
    routes: dict[str, Route] = {}
    for route in url_patterns():
        if route.name.split(":")[0] in exclude_namespaces and ":" in route.name:
            continue
        routes.setdefault(route.name, route)
    return routes


_CONVERTER = re.compile(r"(?<!\?P)<(?:(int|str|slug|uuid|path):)?(\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def kwarg_names(route: str) -> list[str]:
    return [m.group(2) for m in _CONVERTER.finditer(route)] + _REGEX_GROUP.findall(route)


def fill(route: str, values: dict[str, object]) -> str:
    """The path of ``route`` with its keyword arguments taken from ``values`` (a missing one
    is a KeyError: every kwarg of the project must have an object in ``build_objects``)."""
    missing = [name for name in kwarg_names(route) if name not in values]
    if missing:
        raise KeyError(
            f"/{route} takes {', '.join(missing)}: create one such object on the engagement in "
            "tests/matrix_support.build_objects and return its pk under that name"
        )
    path = _CONVERTER.sub(lambda m: str(values[m.group(2)]), route)
    path = _REGEX_GROUP.sub(lambda m: str(values[m.group(1)]), path)
    return "/" + path.replace("^", "").replace("$", "").lstrip("/")


def build_objects(engagement: Engagement, *, approver: User, architect: User) -> dict[str, object]:
    """One object of every kind a URL names, on ``engagement``; ``approver`` is a customer
    approver and ``architect`` an architect of that engagement."""
    from engagements.services import (
        SignoffEvidence,
        assumption_register,
        feedback_add,
        signoff_decide,
        signoff_publish,
        stakeholder_save,
    )
    from tests.factories import make_account, make_meeting, make_upload

    job = Job.objects.create(engagement=engagement, kind="x", title="t")
    account = make_account(engagement)
    version = signoff_publish(
        engagement=engagement, subject="icp_matrix", title="ICP", text="T1", actor=None
    )
    record = signoff_decide(
        version=version,
        decision="declined",
        signer=approver,
        signer_name="",
        comment="not yet",
        evidence=SignoffEvidence("127.0.0.1", "test", "test"),
    )
    meeting = make_meeting(engagement)
    assumption = assumption_register(
        engagement=engagement, key="x.y", category="other", statement="S", value=1
    )
    feedback = feedback_add(meeting=meeting, text="F", actor=architect)
    stakeholder = stakeholder_save(
        stakeholder=Stakeholder(engagement=engagement, name="Pat"), actor=architect
    )
    viewer_membership = engagement.memberships.exclude(
        user__in=[approver, architect]
    ).first() or engagement.memberships.get(user=approver)
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
        # A 3a training-asset item: the phase board's item URLs take any item, and
        # ``handoff:asset_toggle`` takes only these (another item is 404 there).
        "item_pk": engagement.checklist_items.filter(key__startswith=ASSET_PREFIX)
        .order_by("pk")
        .first()
        .pk,
        "term_pk": engagement.definition_terms.order_by("pk").first().pk,
        "membership_pk": viewer_membership.pk,
        "upload_pk": make_upload(engagement, approver).pk,
        "phase_number": 1,
        **_territories_objects(engagement),
        **_routing_objects(engagement),
        **_design_objects(engagement),
        **_handoff_objects(engagement, architect=architect),
    }


def _territories_objects(engagement: Engagement) -> dict[str, int]:
    from territories import jobs, services, tiers
    from territories.models import PlannedHire, Rep

    record = services.account_import_create(
        engagement=engagement,
        upload=SimpleUploadedFile("a.csv", b"ID,Name,Revenue\n1,Acme,abc\n2,Bee,5\n"),
        user=None,
    )
    services.account_import_run(account_import=record, revalue=False)
    rule = services.tier_rule_save(
        engagement=engagement,
        rule=None,
        tier="T1",
        name="",
        conditions=[tiers.Condition("industry", "in", ("Software",))],
        actor=None,
    )
    rep = Rep.objects.create(engagement=engagement, name="Ann")
    hire = PlannedHire.objects.create(
        engagement=engagement, title="AE 2", start_date=dt.date(2030, 1, 1)
    )
    export = Job.objects.create(
        engagement=engagement,
        kind=f"{jobs.valued_accounts_export.__module__}.valued_accounts_export",
        title="export",
        status=Job.Status.SUCCEEDED,
        result=services.valued_accounts_export(engagement=engagement),
    )
    return {
        "import_pk": record.pk,
        "rule_pk": rule.pk,
        "rep_pk": rep.pk,
        "hire_pk": hire.pk,
        "export_pk": export.pk,
    }


def _routing_objects(engagement: Engagement) -> dict[str, int]:
    from routing import services
    from routing.access import token_create
    from routing.models import QACase, QARun
    from tests.routing.conftest import make_small_object

    small = make_small_object(engagement)
    override = engagement.named_overrides.first()
    batch = services.batch_create(
        engagement=engagement,
        upload=SimpleUploadedFile("r.csv", b"ID,State,Zip\n1,CA,90012\n"),
        user=None,
    )
    services.batch_run(batch=batch)
    case = QACase.objects.create(
        engagement=engagement, category="standard", name="c", expect_owner="Bob"
    )
    run = QARun.objects.create(engagement=engagement, total=1, passed=1)
    audit = services.audit_create(
        engagement=engagement,
        upload=SimpleUploadedFile(
            "crm.csv", b"ID,State,Zip,Account Owner,Created Date\n1,CA,90012,Bob,2030-01-02\n"
        ),
        user=None,
        rollout_date=dt.date(2030, 1, 1),
    )
    token, _ = token_create(engagement=engagement, name="t", actor=None)
    return {
        "territory_pk": small.la.pk,
        "override_pk": override.pk,
        "batch_pk": batch.pk,
        "case_pk": case.pk,
        "qa_run_pk": run.pk,
        "audit_pk": audit.pk,
        "token_pk": token.pk,
    }


def _design_objects(engagement: Engagement) -> dict[str, int]:
    from territories import design
    from territories.hierarchy import PodSpec
    from tests.factories import make_hierarchy, make_run

    spec = design.hierarchy_spec(engagement=engagement)
    make_hierarchy(engagement, replace(spec, pods=(PodSpec("all", "All", seats=1),)))
    run = make_run(engagement)
    return {"run_pk": run.pk, "atom_pk": run.atoms.first().pk}


def _handoff_objects(engagement: Engagement, *, architect: User) -> dict[str, object]:
    """A training session, a hypercare issue, a maintenance occurrence (the schedule counts
    from a rollout date and makes the calendar link), a documentation package whose zip holds
    the one file its manifest lists, and the engagement's calendar token (``calendar_token``:
    the ``token`` of ``handoff_calendar_feed``, see ``ROUTE_KWARGS`` in the matrix)."""
    import zipfile
    from pathlib import Path

    from django.conf import settings

    from handoff import services
    from handoff.documents import DOCUMENTS, filename
    from handoff.models import HypercareIssue
    from handoff.package_models import DocumentPackage

    services.trainings_generate(engagement=engagement, actor=architect)
    training = engagement.training_sessions.order_by("pk").first()
    issue = services.issue_report(
        engagement=engagement,
        values={
            "kind": HypercareIssue.Kind.QUESTION,
            "severity": HypercareIssue.Severity.LOW,
            "summary": "Who owns the Denver accounts?",
        },
        actor=architect,
    )
    services.hypercare_rollout_set(
        engagement=engagement, rollout=dt.date(2030, 1, 7), actor=architect
    )
    services.maintenance_generate(engagement=engagement, actor=architect)
    occurrence = engagement.maintenance_occurrences.order_by("due", "pk").first()
    # Package versions are numbered per engagement and file names repeat across packages, so
    # the second engagement built gets v1 and v2 and answers with v2 and another document's
    # file: the matrix's swap check (another customer's version or file name through the own
    # engagement) then asks for something the own engagement really does not have.
    top = DocumentPackage.objects.count() + 1
    folder = Path(settings.MEDIA_ROOT) / "packages" / str(engagement.pk)
    folder.mkdir(parents=True, exist_ok=True)
    for version in range(1, top + 1):
        stem = f"{engagement.pk}-documentation-v{version}"
        member = filename(version - 1, DOCUMENTS[version - 1])
        content = b"%PDF-1.7\n" if member.endswith(".pdf") else b"PK\x03\x04"
        with zipfile.ZipFile(folder / f"{stem}.zip", "w") as archive:
            archive.writestr(f"{stem}/{member}", content)
        package = DocumentPackage.objects.create(
            engagement=engagement,
            version=version,
            data_version="matrix",
            file=f"packages/{engagement.pk}/{stem}.zip",
            sha256="0" * 64,
            manifest={
                "files": [
                    {
                        "file": member,
                        "title": DOCUMENTS[version - 1].title,
                        "sha256": "0",
                        "bytes": len(content),
                    }
                ]
            },
        )
    return {
        "training_pk": training.pk,
        "issue_pk": issue.pk,
        "occurrence_pk": occurrence.pk,
        "version": package.version,
        "filename": package.files[0]["file"],
        "calendar_token": engagement.calendar_feed.token,
    }


# --- Stored data fingerprint ---------------------------------------------------------------------

# Rows a request may legitimately write whatever it is answered: the session, django-axes' access
# log, the user's last_login (written by the test client's force_login) and a routing token's
# last_used_at (a once-a-minute hint written when a token authenticates, routing/access.py).
FINGERPRINT_SKIP_APPS = frozenset({"sessions", "axes"})
FINGERPRINT_SKIP_FIELDS = frozenset({"last_login", "last_used_at"})


def data_fingerprint(*, apps_only: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """``{"app.Model": (row count, sha256 of every row)}`` for every concrete model of the project
    (or of ``apps_only``): compare two of them to prove a request changed nothing stored."""
    import hashlib

    from django.apps import apps

    result: dict[str, tuple[int, str]] = {}
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed or meta.app_label in FINGERPRINT_SKIP_APPS:
            continue
        if apps_only and meta.app_label not in apps_only:
            continue
        fields = [f.attname for f in meta.concrete_fields if f.name not in FINGERPRINT_SKIP_FIELDS]
        rows = model._base_manager.order_by("pk").values_list(*fields)
        digest = hashlib.sha256()
        count = 0
        for row in rows.iterator(chunk_size=2000):
            digest.update(repr(row).encode())
            count += 1
        result[meta.label] = (count, digest.hexdigest())
    return result


def fingerprint_changes(before: dict, after: dict) -> list[str]:
    """The tables whose rows differ between two fingerprints, as readable lines."""
    changes = []
    for label in sorted(set(before) | set(after)):
        b, a = before.get(label), after.get(label)
        if b != a:
            changes.append(
                f"{label}: {b[0] if b else 0} rows -> {a[0] if a else 0} rows"
                + (" (same count, contents changed)" if b and a and b[0] == a[0] else "")
            )
    return changes
