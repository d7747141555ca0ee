"""The Enablement (3d) and Handoff (4d) gates through the pages: the architect publishes the
enablement and project-close sign-offs built from the engagement's data, the customer approver
signs them with the one sign-off mechanism (a stale version answers 409), the gate proceeds and
the phase closes; data changed after publishing makes a new version that needs a new sign-off.
"""

from __future__ import annotations

import hashlib
import zipfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from engagements.models import ActivityEvent, ChecklistItem, GateDecision, Phase, SignoffRecord
from engagements.services import engagement_state, signoff_latest, signoff_state
from handoff import package, services
from handoff.models import HypercareIssue, TrainingSession


@pytest.fixture
def named_customer(world):
    world.customer.first_name, world.customer.last_name = "Carla", "Customer"
    world.customer.save()
    return world


def _close_phases_before(engagement, number):
    """The phases before ``number`` closed as if their gates had been passed (their own tests
    drive them through the pages)."""
    now = timezone.now()
    Phase.objects.filter(engagement=engagement, number__lt=number).update(
        status=Phase.Status.CLOSED, closed_at=now
    )
    Phase.objects.filter(engagement=engagement, number=number).update(opened_at=now)


def _h(name, engagement, *args):
    return reverse(f"handoff:{name}", args=[engagement.pk, *args])


def _board(engagement, number):
    return reverse("engagements:phase_board", args=[engagement.pk]) + f"?phase={number}"


def _gate(engagement, number):
    return reverse("engagements:gate_decide", args=[engagement.pk, number])


def _tick_phase(client, engagement, number, *, skip=()):
    """Tick every required, applicable item of phase ``number`` on the phase board."""
    items = ChecklistItem.objects.filter(
        engagement=engagement, subphase__phase__number=number, required=True, signoff_subject=""
    )
    for item in items:
        if item.applies_to(engagement) and not item.done and item.subphase.code not in skip:
            url = reverse("engagements:item_toggle", args=[engagement.pk, item.pk])
            assert client.post(url, {"done": "1"}).status_code == 302


def _sign(client, engagement, version, **extra):
    url = reverse("engagements:signoff_sign", args=[engagement.pk, version.pk])
    data = {
        "decision": "approved",
        "text_sha256": version.text_sha256,
        "intent": "on",
        "signer_name": "Carla Customer",
        "comment": "",
    }
    data.update(extra)
    return client.post(url, data)


def _deliver_every_session(client, engagement, today):
    for n, session in enumerate(engagement.training_sessions.order_by("position")):
        prefix = f"t{session.pk}"
        response = client.post(
            _h("training_save", engagement, session.pk),
            {
                f"{prefix}-day": (today - timedelta(days=40 - n)).isoformat(),
                f"{prefix}-state": "delivered",
                f"{prefix}-minutes": "45",
                f"{prefix}-recording_url": f"https://rec.example/{session.audience_slug}",
                f"{prefix}-attendees": f"{session.audience} team",
                f"{prefix}-notes": "",
            },
        )
        assert response.status_code == 302, response.content.decode()[:500]


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_the_enablement_gate_is_passed_through_the_pages(named_customer, client):
    world = named_customer
    engagement = world.engagement
    today = timezone.localdate()
    _close_phases_before(engagement, 3)
    client.force_login(world.architect)

    # Nothing to sign yet: publishing says what must happen first and stores nothing.
    response = client.post(_h("enablement_publish", engagement), follow=True)
    text = _messages(response)
    assert "No training session is planned" in text and "Set the rollout date" in text
    assert signoff_latest(engagement=engagement, subject="enablement") is None

    client.post(_h("enablement", engagement))  # plan the playbook's five sessions
    _deliver_every_session(client, engagement, today)
    rollout = today - timedelta(days=35)
    client.post(_h("hypercare_rollout", engagement), {"rollout_date": rollout.isoformat()})
    client.force_login(world.customer)
    client.post(
        _h("issue_add", engagement),
        {"kind": "bug", "severity": "critical", "summary": "Flow fails on blank ZIP codes"},
    )
    issue = HypercareIssue.objects.get(engagement=engagement)
    client.force_login(world.architect)
    _tick_phase(client, engagement, 3)

    # The critical issue blocks both the publication and the gate.
    response = client.post(_h("enablement_publish", engagement), follow=True)
    assert "1 critical hypercare issue open: resolve first." in _messages(response)
    assert signoff_latest(engagement=engagement, subject="enablement") is None
    html = client.get(_board(engagement, 3)).content.decode()
    assert "1 critical hypercare issue open" in html
    assert "Sign-off “enablement”: not yet published for sign-off" in html
    assert _h("enablement", engagement) + "#enablement-signoff" in html  # where to publish
    client.post(_h("issue_resolve", engagement, issue.pk), {"resolution": "Falls back to state"})

    response = client.post(_h("enablement_publish", engagement), follow=True)
    assert "is waiting for the customer approver" in _messages(response)
    first = signoff_latest(engagement=engagement, subject="enablement")
    assert first.version == 1 and first.published_by == world.architect
    reps = engagement.training_sessions.get(audience_slug="reps")
    assert (
        f"- IC Reps (AEs, SDRs): delivered {reps.day:%d %b %Y}, 45 min, recording "
        "https://rec.example/reps; attendees: IC Reps team"
    ) in first.text
    assert "5 of 5 sessions delivered." in first.text
    assert "- done: Doc: Routing Troubleshooting Guide" in first.text
    end = rollout + timedelta(days=29)
    assert (
        f"Rollout {rollout:%d %b %Y}; window of 30 days (30 days) to {end:%d %b %Y}: complete."
    ) in first.text
    assert "Issues: 1 reported, 1 resolved, 0 open (none critical)." in first.text
    assert "7. Ready for handoff" in first.text
    html = client.get(_board(engagement, 3)).content.decode()
    assert "Sign-off “enablement”: waiting for the customer&#x27;s sign-off" in html

    # The recording link of one session changes: the page says so, publishing makes v2.
    prefix = f"t{reps.pk}"
    client.post(
        _h("training_save", engagement, reps.pk),
        {
            f"{prefix}-day": reps.day.isoformat(),
            f"{prefix}-state": "delivered",
            f"{prefix}-minutes": "45",
            f"{prefix}-recording_url": "https://rec.example/reps-final",
            f"{prefix}-attendees": "IC Reps team",
        },
    )
    page = client.get(_h("enablement", engagement)).content.decode()
    assert "The text has changed since the latest published version." in page
    assert f'action="{_h("enablement_publish", engagement)}"' in page
    assert "Publish the new version" in page
    client.post(_h("enablement_publish", engagement))
    second = signoff_latest(engagement=engagement, subject="enablement")
    assert second.version == 2 and "https://rec.example/reps-final" in second.text

    client.force_login(world.customer)
    assert _sign(client, engagement, first).status_code == 409  # replaced by version 2
    assert not SignoffRecord.objects.filter(engagement=engagement).exists()
    assert _sign(client, engagement, second).status_code == 302
    record = SignoffRecord.objects.get(engagement=engagement)
    assert (record.version_id, record.decision, record.signer) == (
        second.pk,
        "approved",
        world.customer,
    )

    client.force_login(world.architect)
    client.post(_gate(engagement, 3), {"decision": "proceed", "note": "Team enabled"})
    phase = engagement.phases.get(number=3)
    assert phase.status == Phase.Status.CLOSED
    assert engagement.phases.get(number=4).opened_at is not None
    decision = GateDecision.objects.get(engagement=engagement, phase=phase)
    assert (decision.decision, decision.actor) == ("proceed", world.architect)
    assert engagement_state(engagement=engagement).current.phase.number == 4


def test_an_enablement_text_signed_then_changed_needs_a_new_sign_off(named_customer, client):
    world = named_customer
    engagement = world.engagement
    today = timezone.localdate()
    _close_phases_before(engagement, 3)
    client.force_login(world.architect)
    client.post(_h("enablement", engagement))
    _deliver_every_session(client, engagement, today)
    client.post(
        _h("hypercare_rollout", engagement),
        {"rollout_date": (today - timedelta(days=40)).isoformat()},
    )
    _tick_phase(client, engagement, 3)
    client.post(_h("enablement_publish", engagement))
    client.force_login(world.customer)
    _sign(client, engagement, signoff_latest(engagement=engagement, subject="enablement"))
    assert signoff_state(engagement=engagement, subject="enablement") == "approved"

    # A question raised after the approval is part of the hypercare record the customer signs.
    client.post(
        _h("issue_add", engagement),
        {"kind": "question", "severity": "low", "summary": "Where do I see my territory?"},
    )
    client.force_login(world.architect)
    client.post(_h("enablement_publish", engagement))
    latest = signoff_latest(engagement=engagement, subject="enablement")
    assert latest.version == 2 and "1 open (none critical)" in latest.text
    assert signoff_state(engagement=engagement, subject="enablement") == "pending"
    response = client.post(_gate(engagement, 3), {"decision": "proceed"}, follow=True)
    assert "Sign-off “enablement”: waiting for the customer's sign-off" in _messages(response)
    assert engagement.phases.get(number=3).status == Phase.Status.OPEN
    # Publishing the same text again makes no third version.
    response = client.post(_h("enablement_publish", engagement), follow=True)
    assert "Version 2 is current" in _messages(response)
    assert engagement.signoff_versions.filter(subject="enablement").count() == 2


def test_only_the_architect_publishes_gate_sign_offs(world, login):
    for who in ("customer", "viewer", "manager", "ops", "engineer"):
        client = login(getattr(world, who))
        assert client.post(_h("enablement_publish", world.engagement)).status_code == 403
        assert client.post(_h("project_close_publish", world.engagement)).status_code == 403
    client = login(world.customer2)
    assert client.post(_h("enablement_publish", world.engagement)).status_code == 404
    assert not world.engagement.signoff_versions.exists()


def test_the_handoff_gate_closes_the_project_through_the_pages(
    named_customer, client, media, small_docs
):
    world = named_customer
    engagement = world.engagement
    _close_phases_before(engagement, 4)
    services.hypercare_rollout_set(
        engagement=engagement, rollout=timezone.localdate() - timedelta(days=60), actor=None
    )
    built = package.package_build(engagement=engagement, actor=world.ops).package
    client.force_login(world.architect)
    client.post(_h("maintenance", engagement))  # the dated schedule from rollout
    _tick_phase(client, engagement, 4, skip=("4d",))

    response = client.post(_h("project_close_publish", engagement), follow=True)
    assert "Finish the project close checklist (4d) first: All project artifacts saved" in (
        _messages(response)
    )
    assert signoff_latest(engagement=engagement, subject="project_close") is None
    _tick_phase(client, engagement, 4)
    page = client.get(_h("handoff", engagement)).content.decode()
    assert "Publish for customer sign-off" in page
    assert f'action="{_h("project_close_publish", engagement)}"' in page

    client.post(_h("project_close_publish", engagement))
    version = signoff_latest(engagement=engagement, subject="project_close")
    assert version.version == 1
    with zipfile.ZipFile(package.package_path(built)) as archive:
        manifest = archive.read(next(n for n in archive.namelist() if n.endswith("manifest.json")))
    assert f"Documentation package delivered: version {built.version}," in version.text
    assert f"Zip SHA-256: {built.sha256}" in version.text
    assert f"manifest.json SHA-256: {hashlib.sha256(manifest).hexdigest()}" in version.text
    assert "- done: Time/billing finalized" in version.text
    assert "Retention path — Single project" in version.text
    assert "1. Upsell: Managed Services" in version.text
    assert "Maintenance schedule (4a): " in version.text and "owned by the customer" in version.text
    html = client.get(_board(engagement, 4)).content.decode()
    assert "Sign-off “project_close”: waiting for the customer&#x27;s sign-off" in html

    client.force_login(world.customer)
    assert _sign(client, engagement, version).status_code == 302
    client.force_login(world.architect)
    client.post(_gate(engagement, 4), {"decision": "proceed", "note": "Project complete"})
    assert engagement.phases.get(number=4).status == Phase.Status.CLOSED
    state = engagement_state(engagement=engagement)
    assert state.current is None and all(p.phase.is_closed for p in state.phases)
    assert ActivityEvent.objects.filter(
        engagement=engagement, verb="gate.proceed", data__phase=4
    ).exists()


def test_a_new_package_after_the_close_sign_off_needs_a_new_one(
    named_customer, client, media, small_docs
):
    world = named_customer
    engagement = world.engagement
    _close_phases_before(engagement, 4)
    package.package_build(engagement=engagement, actor=world.ops)
    client.force_login(world.architect)
    _tick_phase(client, engagement, 4)
    client.post(_h("project_close_publish", engagement))
    client.force_login(world.customer)
    _sign(client, engagement, signoff_latest(engagement=engagement, subject="project_close"))
    assert signoff_state(engagement=engagement, subject="project_close") == "approved"

    rebuilt = package.package_build(engagement=engagement, actor=world.ops, force=True).package
    assert rebuilt.version == 2
    client.force_login(world.architect)
    page = client.get(_h("handoff", engagement)).content.decode()
    assert "The text has changed since the latest published version." in page
    client.post(_h("project_close_publish", engagement))
    latest = signoff_latest(engagement=engagement, subject="project_close")
    assert latest.version == 2 and f"Zip SHA-256: {rebuilt.sha256}" in latest.text
    response = client.post(_gate(engagement, 4), {"decision": "proceed"}, follow=True)
    assert "Sign-off “project_close”: waiting for the customer's sign-off" in _messages(response)
    assert engagement.phases.get(number=4).status == Phase.Status.OPEN


def test_a_project_without_a_package_says_so_in_the_close_text(world):
    signoff = services.project_close_signoff(engagement=world.engagement)
    assert "Documentation package: none was built in the portal." in signoff.text
    assert "Maintenance schedule (4a): not generated in the portal." in signoff.text
    assert signoff.problems  # the close checklist is still open


def test_a_cancelled_session_does_not_hold_up_the_enablement_text(world):
    engagement = world.engagement
    services.trainings_generate(engagement=engagement, actor=None)
    today = timezone.localdate()
    for session in engagement.training_sessions.all():
        if session.audience_slug == "sales_directors":
            session.state, session.notes = TrainingSession.State.CANCELLED, "Joined leadership"
        else:
            session.state, session.day = TrainingSession.State.DELIVERED, today
            session.attendees = "everyone"
        session.save()
    signoff = services.enablement_signoff(engagement=engagement)
    assert "- Sales Directors: cancelled (Joined leadership)" in signoff.text
    assert "4 of 5 sessions delivered." in signoff.text
    assert not any("Training not delivered" in p for p in signoff.problems)


def test_the_gate_panel_links_each_gate_sign_off_to_where_it_is_published(world, client):
    engagement = world.engagement
    pk = engagement.pk
    expected = {
        1: [f"/engagements/{pk}/definitions/", f"/engagements/{pk}/territories/"],
        2: [f"/engagements/{pk}/routing/qa/#engineering-signoff"],
        3: [f"/engagements/{pk}/handoff/enablement/#enablement-signoff"],
        4: [f"/engagements/{pk}/handoff/close/#close-signoff"],
    }
    client.force_login(world.architect)
    for number, links in expected.items():
        html = client.get(_board(engagement, number)).content.decode()
        assert 'id="gate-signoff-pages"' in html
        for link in links:
            assert f'href="{link}"' in html, (number, link)
    client.force_login(world.customer)  # the customer signs; publishing is not theirs
    assert 'id="gate-signoff-pages"' not in client.get(_board(engagement, 3)).content.decode()
