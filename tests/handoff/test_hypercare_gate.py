"""Live hypercare data keeps the Enablement gate closed: the window still open and critical
issues still open are gate blockers (besides the 3d items ticked by hand), on the phase board,
in the gate decision and on the manager's dashboard; extending hypercare stays possible."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engagements import services as engagement_services
from engagements.models import ChecklistItem, GateDecision, Phase
from handoff import services
from handoff.models import HypercareIssue
from tests.factories import make_engagement, make_org


def _to_enablement(engagement):
    """Strategy and Engineering closed as if their gates had been passed."""
    now = timezone.now()
    Phase.objects.filter(engagement=engagement, number__lt=3).update(
        status=Phase.Status.CLOSED, closed_at=now
    )


def _tick_enablement(engagement, actor):
    for item in ChecklistItem.objects.filter(
        engagement=engagement, subphase__phase__number=3, required=True, signoff_subject=""
    ):
        if item.applies_to(engagement):
            engagement_services.checklist_toggle(item=item, done=True, actor=actor)


def _issue(engagement, severity="critical", state=HypercareIssue.State.OPEN):
    return HypercareIssue.objects.create(
        engagement=engagement, kind="bug", severity=severity, summary="Flow error", state=state
    )


def _rollout(engagement, days_ago):
    services.hypercare_rollout_set(
        engagement=engagement,
        rollout=timezone.localdate() - timedelta(days=days_ago),
        actor=None,
    )


def test_the_conditions_follow_the_window_and_the_critical_issues(world):
    engagement = world.engagement
    today = timezone.localdate()

    def conditions():
        return services.hypercare_gate_conditions([engagement.pk]).get(engagement.pk, [])

    assert conditions() == ["Hypercare has not started: no rollout date is set"]
    _rollout(engagement, -3)  # rollout in three days
    end = today + timedelta(days=32)
    assert conditions() == [f"Hypercare window still open (ends {end:%d %b %Y})"]
    _rollout(engagement, 5)
    end = today + timedelta(days=24)
    _issue(engagement)
    _issue(engagement, severity="high")
    _issue(engagement, state=HypercareIssue.State.RESOLVED)
    assert conditions() == [
        f"Hypercare window still open (ends {end:%d %b %Y})",
        "1 critical hypercare issue open",
    ]
    _issue(engagement)
    _rollout(engagement, 30)  # the window ended yesterday
    assert conditions() == ["2 critical hypercare issues open"]
    HypercareIssue.objects.filter(severity="critical").update(state="resolved")
    assert conditions() == []  # an open high-severity issue does not block


def test_conditions_of_many_engagements_take_one_query(world, django_assert_num_queries):
    org = make_org("Third Co")
    engagements = [world.engagement, world.other] + [
        make_engagement(org, name=f"E{i}") for i in range(4)
    ]
    for e in engagements:
        _rollout(e, 3)
        _issue(e)
    with django_assert_num_queries(1):
        found = services.hypercare_gate_conditions([e.pk for e in engagements])
    assert all(found[e.pk][-1] == "1 critical hypercare issue open" for e in engagements)


def test_proceed_waits_for_hypercare_but_extending_it_is_recorded(world, client):
    engagement = world.engagement
    _to_enablement(engagement)
    _tick_enablement(engagement, world.architect)
    _rollout(engagement, 10)
    issue = _issue(engagement)
    end = timezone.localdate() + timedelta(days=19)
    client.force_login(world.architect)
    board = reverse("engagements:phase_board", args=[engagement.pk]) + "?phase=3"
    html = client.get(board).content.decode()
    assert f"Hypercare window still open (ends {end:%d %b %Y})" in html
    assert "1 critical hypercare issue open" in html
    assert 'value="proceed" disabled' in html

    gate = reverse("engagements:gate_decide", args=[engagement.pk, 3])
    response = client.post(gate, {"decision": "proceed"}, follow=True)
    shown = " ".join(str(m) for m in response.context["messages"])
    assert "The Enablement gate is not open:" in shown
    assert "1 critical hypercare issue open" in shown
    assert engagement.phases.get(number=3).status == Phase.Status.OPEN
    assert not GateDecision.objects.filter(engagement=engagement).exists()

    client.post(gate, {"decision": "extend_hypercare", "note": "Flow error still open"})
    decision = GateDecision.objects.get(engagement=engagement)
    assert (decision.decision, decision.note) == ("extend_hypercare", "Flow error still open")
    assert "1 critical hypercare issue open" in decision.blockers
    extended = end + timedelta(days=14)
    assert f"Hypercare window still open (ends {extended:%d %b %Y})" in (
        client.get(board).content.decode()
    )

    # Window over and the issue resolved: only the sign-off is left.
    _rollout(engagement, 50)
    services.issue_resolve(issue=issue, resolution="Fixed", actor=world.architect)
    blockers = engagement_services.engagement_state(engagement=engagement).phase(3).blockers
    assert [b.message for b in blockers] == [
        "Sign-off “enablement”: not yet published for sign-off"
    ]


def test_the_service_refuses_proceed_mid_window(world):
    engagement = world.engagement
    _to_enablement(engagement)
    _tick_enablement(engagement, world.architect)
    _rollout(engagement, 2)
    with pytest.raises(ValidationError) as info:
        engagement_services.gate_decide(
            phase=engagement.phases.get(number=3), decision="proceed", actor=world.architect
        )
    assert any("Hypercare window still open" in m for m in info.value.messages)


def test_hypercare_blocks_only_the_enablement_gate_when_it_is_next(world):
    # In Strategy, the Enablement gate waits for Strategy; hypercare is not asked yet.
    blockers = engagement_services.engagement_state(engagement=world.engagement).phase(3).blockers
    assert not any(b.kind == "condition" for b in blockers)
    _to_enablement(world.engagement)
    state = engagement_services.engagement_state(engagement=world.engagement)
    assert [b.message for b in state.phase(3).blockers if b.kind == "condition"] == [
        "Hypercare has not started: no rollout date is set"
    ]
    assert not any(b.kind == "condition" for b in state.phase(4).blockers)


def test_the_manager_dashboard_shows_hypercare_blockers_and_critical_issues(world, client):
    _to_enablement(world.engagement)
    _rollout(world.engagement, 5)
    _issue(world.engagement)
    _issue(world.engagement, severity="low")
    end = timezone.localdate() + timedelta(days=24)
    client.force_login(world.manager)
    html = client.get("/").content.decode()
    assert f"Hypercare window still open (ends {end:%d %b %Y}) · 1 critical hypercare" in html
    cell = services.hypercare_cells([world.engagement.pk])[world.engagement.pk]
    assert (cell.text, cell.level) == ("Day 6 of 30 · 2 open (1 critical)", "bad")
    assert "Day 6 of 30 · 2 open (1 critical)" in html


def test_dashboard_queries_stay_fixed_with_engagements_in_enablement(world, client):
    org = make_org("Third Co")
    client.force_login(world.manager)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        return len(ctx.captured_queries)

    first = make_engagement(org, name="E0")
    _to_enablement(first)
    _rollout(first, 3)
    few = count()
    for i in range(1, 5):
        e = make_engagement(org, name=f"E{i}")
        _to_enablement(e)
        _rollout(e, 3)
        _issue(e)
    # The hypercare conditions of every engagement in Enablement are read in one query,
    # whatever their number.
    assert count() == few
