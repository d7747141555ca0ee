"""Every engagements view for every role: who may read it, and read-only roles get 403 on
every write (strangers' 404 is tests/engagements/test_isolation.py)."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from engagements.models import ActivityEvent, Job, Stakeholder
from engagements.services import (
    SignoffEvidence,
    assumption_register,
    feedback_add,
    signoff_decide,
    signoff_publish,
    stakeholder_save,
)
from tests.factories import make_meeting, make_upload

ROLES = ["architect", "engineer", "manager", "ops", "customer", "viewer"]
ALL = set(ROLES)
INTERNAL = {"architect", "engineer", "manager", "ops"}

# url name -> roles that get 200 on GET (everyone else on the engagement gets 403).
READ = {
    "engagement_detail": ALL,
    "engagement_edit": {"architect"},
    "activity_list": ALL,
    "member_list": INTERNAL,
    "hours_list": INTERNAL,
    "stakeholder_list": INTERNAL,
    "stakeholder_edit": INTERNAL,
    "phase_board": ALL,
    "item_history": ALL,
    "assumption_list": ALL,
    "assumption_detail": ALL,
    "meeting_list": ALL,
    "meeting_detail": ALL,
    "meeting_recap": ALL,
    "intake": ALL,
    "intake_upload_download": ALL,
    "definitions": ALL,
    "definitions_print": ALL,
    "definition_edit": {"architect"},
    "signoff_list": ALL,
    "signoff_version": ALL,
    "signoff_sign": {"customer"},
    "signoff_certificate": ALL,
    "job_list": ALL,
    "job_detail": ALL,
}
# url name -> roles allowed to POST (everyone else on the engagement gets 403).
WRITE = {
    "engagement_edit": {"architect"},
    "member_list": {"architect"},
    "member_remove": {"architect"},
    "hours_list": {"architect", "engineer"},
    "stakeholder_list": {"architect"},
    "stakeholder_edit": {"architect"},
    "item_toggle": {"architect"},  # a consultancy item; customer items: see test_phase_board
    "item_note": {"architect"},
    "gate_decide": {"architect"},
    "phase_reopen": {"architect"},
    "assumption_list": {"architect"},
    "assumption_detail": {"architect"},
    "assumption_blocking": {"architect"},
    "meeting_list": {"architect"},
    "meeting_detail": {"architect"},
    "feedback_add": {"architect"},
    "feedback_status": {"architect"},
    "intake": {"architect", "customer"},
    "intake_autosave": {"architect", "customer"},
    "intake_upload": {"architect", "customer"},
    "intake_submit": {"architect", "customer"},
    "intake_reopen": {"architect"},
    "definitions": {"architect"},
    "definition_edit": {"architect"},
    "signoff_sign": {"customer"},
}


@pytest.fixture
def kwargs(world):
    engagement = world.engagement
    meeting = make_meeting(engagement)
    version = signoff_publish(
        engagement=engagement, subject="icp_matrix", title="ICP", text="T1", actor=None
    )
    record = signoff_decide(
        version=version,
        decision="declined",
        signer=world.customer,
        signer_name="",
        comment="no",
        evidence=SignoffEvidence("", "", "test"),
    )
    assumption = assumption_register(
        engagement=engagement, key="k", category="other", statement="S", value=1
    )
    return {
        "engagement_pk": engagement.pk,
        "job_pk": Job.objects.create(engagement=engagement, kind="x", title="t").pk,
        "meeting_pk": meeting.pk,
        "assumption_pk": assumption.pk,
        "feedback_pk": feedback_add(meeting=meeting, text="F", actor=world.architect).pk,
        "stakeholder_pk": stakeholder_save(
            stakeholder=Stakeholder(engagement=engagement, name="Pat"), actor=world.architect
        ).pk,
        "item_pk": engagement.checklist_items.get(key="1a.b.crm").pk,
        "term_pk": engagement.definition_terms.first().pk,
        "membership_pk": engagement.memberships.get(user=world.viewer).pk,
        "upload_pk": make_upload(engagement, world.customer).pk,
        "version_pk": version.pk,
        "record_pk": record.pk,
        "phase_number": 1,
    }


def _url(name, kwargs):
    """The URL of ``name``: the engagement plus whichever one object kwarg the route takes."""
    others = [k for k in kwargs if k != "engagement_pk"]
    for extra in [None, *others]:
        attempt = {"engagement_pk": kwargs["engagement_pk"]}
        if extra:
            attempt[extra] = kwargs[extra]
        try:
            return reverse(f"engagements:{name}", kwargs=attempt)
        except NoReverseMatch:
            continue
    raise AssertionError(f"cannot build a URL for {name}")


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_the_table_says(world, client, kwargs, role):
    client.force_login(getattr(world, role))
    for name, allowed in READ.items():
        response = client.get(_url(name, kwargs))
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, f"GET {name} as {role}: {response.status_code}"


@pytest.mark.parametrize("role", ["engineer", "manager", "ops", "customer", "viewer"])
def test_read_only_roles_get_403_on_every_write_and_nothing_changes(world, client, kwargs, role):
    client.force_login(getattr(world, role))
    events = ActivityEvent.objects.count()
    for name, allowed in WRITE.items():
        if role in allowed:
            continue
        response = client.post(
            _url(name, kwargs),
            {
                "done": "1",
                "decision": "hold",
                "note": "x",
                "reason": "x",
                "status": "applied",
                "blocking": "1",
            },
        )
        assert response.status_code == 403, f"POST {name} as {role}: {response.status_code}"
    assert ActivityEvent.objects.count() == events


def test_the_tables_cover_every_engagement_view():
    from django.urls import get_resolver

    resolver = get_resolver()
    names = {
        name
        for name, _ in resolver.namespace_dict["engagements"][1].reverse_dict.items()
        if isinstance(name, str)
    }
    covered = set(READ) | set(WRITE) | {"engagement_list", "engagement_create", "job_status"}
    assert names - covered == set()
