"""Gate rules through the services: items, sign-offs, blocking assumptions, order, decisions,
closed phases read-only unless reopened; the territory-design gate."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from engagements import services
from engagements.models import ActivityEvent, ChecklistItem, GateDecision, Phase
from engagements.services import (
    SignoffEvidence,
    assumption_decide,
    checklist_toggle,
    engagement_state,
    gate_decide,
    phase_reopen,
    signoff_decide,
    signoff_publish,
    territory_design_blockers,
)
from tests.factories import make_meeting

EVIDENCE = SignoffEvidence("198.51.100.1", "pytest", "test")


def _approve(world, subject, text="approved text"):
    version = signoff_publish(
        engagement=world.engagement,
        subject=subject,
        title=subject,
        text=text,
        actor=world.architect,
    )
    return signoff_decide(
        version=version,
        decision="approved",
        signer=world.customer,
        signer_name="Carla",
        comment="",
        evidence=EVIDENCE,
    )


def _tick_all(world, number):
    for item in world.engagement.checklist_items.filter(
        subphase__phase__number=number, signoff_subject=""
    ):
        if item.applies_to(world.engagement) and item.required:
            checklist_toggle(item=item, done=True, actor=world.architect)


def _approve_definitions(world):
    for version in services.definitions_publish(engagement=world.engagement, actor=world.architect):
        signoff_decide(
            version=version,
            decision="approved",
            signer=world.customer,
            signer_name="Carla",
            comment="",
            evidence=EVIDENCE,
        )


def _ready_strategy(world):
    """Everything the Strategy gate needs except what a test leaves out."""
    _tick_all(world, 1)
    _approve_definitions(world)
    for subject in ("icp_matrix", "valuation_methodology", "hierarchy", "territory_map"):
        _approve(world, subject)
    meeting = make_meeting(world.engagement)
    for assumption in world.engagement.assumptions.filter(blocking=True, state="assumed"):
        assumption_decide(
            assumption=assumption, decision="confirm", meeting=meeting, actor=world.architect
        )


def _phase(world, number) -> Phase:
    return world.engagement.phases.get(number=number)


def test_a_new_engagement_starts_with_every_phase_gate_closed(world):
    state = engagement_state(engagement=world.engagement)
    assert [p.phase.name for p in state.phases] == [
        "Strategy",
        "Engineering",
        "Enablement",
        "Handoff",
    ]
    assert state.current.phase.number == 1
    assert state.current_subphase.subphase.code == "1a"
    kinds = {b.kind for b in state.phase(1).blockers}
    assert kinds == {"items", "signoff", "assumption"}
    # Later phases also wait for the phase before them.
    assert state.phase(2).blockers[0].message == "1. Strategy is not closed yet"


def test_proceed_is_refused_while_anything_blocks(world):
    with pytest.raises(ValidationError) as info:
        gate_decide(phase=_phase(world, 1), decision="proceed", actor=world.architect)
    assert "The Strategy gate is not open:" in info.value.messages
    assert not GateDecision.objects.exists()
    assert _phase(world, 1).status == Phase.Status.OPEN


def test_the_strategy_gate_waits_for_blocking_assumptions(world):
    _ready_strategy(world)
    assumption = services.assumption_register(
        engagement=world.engagement,
        key="geography.split",
        category="geography",
        statement="CA is split by zip",
        value=["CA"],
        blocking=True,
    )
    blockers = engagement_state(engagement=world.engagement).phase(1).blockers
    assert [b.message for b in blockers] == [
        "Blocking assumption still ASSUMED: CA is split by zip"
    ]
    services.assumption_set_blocking(assumption=assumption, blocking=False, actor=world.architect)
    assert engagement_state(engagement=world.engagement).phase(1).gate_open


def test_signed_items_follow_their_signoffs(world):
    _ready_strategy(world)
    signoff_publish(
        engagement=world.engagement,
        subject="territory_map",
        title="Map",
        text="revised map",
        actor=world.architect,
    )
    state = engagement_state(engagement=world.engagement)
    view = next(v for s in state.phase(1).subphases for v in s.items if v.item.key == "1d.explicit")
    assert (view.done, view.signoff_state) == (False, "pending")
    assert "Sign-off “territory_map”: waiting for the customer's sign-off" in [
        b.message for b in state.phase(1).blockers
    ]
    item = ChecklistItem.objects.get(engagement=world.engagement, key="1d.explicit")
    with pytest.raises(ValidationError, match="cannot be ticked by hand"):
        checklist_toggle(item=item, done=True, actor=world.architect)


def test_proceed_closes_the_phase_and_opens_the_next(world):
    _ready_strategy(world)
    record = gate_decide(
        phase=_phase(world, 1), decision="proceed", actor=world.architect, note="Locked"
    )
    strategy, engineering = _phase(world, 1), _phase(world, 2)
    assert strategy.status == Phase.Status.CLOSED and strategy.closed_at == record.decided_at
    assert engineering.opened_at == record.decided_at
    assert (record.actor, record.decision, record.note) == (world.architect, "proceed", "Locked")
    assert ActivityEvent.objects.filter(verb="gate.proceed", actor=world.architect).exists()
    state = engagement_state(engagement=world.engagement)
    assert state.current.phase.number == 2
    assert not any(b.kind == "previous_phase" for b in state.phase(2).blockers)


def test_a_closed_phase_is_read_only_until_reopened_with_a_reason(world):
    _ready_strategy(world)
    gate_decide(phase=_phase(world, 1), decision="proceed", actor=world.architect)
    item = ChecklistItem.objects.get(engagement=world.engagement, key="1a.b.crm")
    with pytest.raises(ValidationError, match="Strategy is closed"):
        checklist_toggle(item=item, done=False, actor=world.architect)
    with pytest.raises(ValidationError, match="already closed"):
        gate_decide(phase=_phase(world, 1), decision="hold", actor=world.architect, note="x")
    with pytest.raises(ValidationError, match="Say why"):
        phase_reopen(phase=_phase(world, 1), actor=world.architect, reason=" ")
    phase_reopen(phase=_phase(world, 1), actor=world.architect, reason="Customer adds a region")
    assert _phase(world, 1).status == Phase.Status.OPEN
    checklist_toggle(item=item, done=False, actor=world.architect)
    assert GateDecision.objects.filter(decision="reopen", note="Customer adds a region").exists()
    with pytest.raises(ValidationError, match="not closed"):
        phase_reopen(phase=_phase(world, 1), actor=world.architect, reason="again")


def test_hold_and_extend_need_a_reason_and_keep_the_phase_open(world):
    with pytest.raises(ValidationError, match="needs a reason"):
        gate_decide(phase=_phase(world, 1), decision="hold", actor=world.architect)
    record = gate_decide(
        phase=_phase(world, 1), decision="hold", actor=world.architect, note="Budget freeze"
    )
    assert record.blockers  # what blocked the gate when the hold was decided
    assert _phase(world, 1).status == Phase.Status.OPEN
    with pytest.raises(ValidationError, match="Proceed, Hold"):
        gate_decide(
            phase=_phase(world, 1), decision="extend_hypercare", actor=world.architect, note="x"
        )
    enablement = gate_decide(
        phase=_phase(world, 3),
        decision="extend_hypercare",
        actor=world.architect,
        note="Routing errors in TX",
    )
    assert enablement.decision == "extend_hypercare"
    with pytest.raises(ValidationError):
        gate_decide(phase=_phase(world, 1), decision="launch", actor=world.architect, note="x")


def test_items_that_do_not_apply_neither_block_nor_tick(world):
    item = ChecklistItem.objects.get(engagement=world.engagement, key="1a.b.partners")
    assert not item.applies_to(world.engagement)
    with pytest.raises(ValidationError, match="does not apply"):
        checklist_toggle(item=item, done=True, actor=world.architect)
    _ready_strategy(world)
    assert engagement_state(engagement=world.engagement).phase(1).gate_open
    # With partner complexity the item applies, and blocks until done.
    world.engagement.partner_complexity = True
    world.engagement.save(update_fields=["partner_complexity"])
    blockers = engagement_state(engagement=world.engagement).phase(1).blockers
    assert [b.message for b in blockers] == [f"1a: {item.text}"]


def test_every_tick_is_logged_with_who_and_when(world):
    item = ChecklistItem.objects.get(engagement=world.engagement, key="1a.b.crm")
    checklist_toggle(
        item=item,
        done=True,
        actor=world.architect,
        note="Pulled 48k accounts",
        evidence_url="https://crm.example/report/1",
    )
    checklist_toggle(item=item, done=False, actor=world.architect)
    item.refresh_from_db()
    assert not item.done and item.done_by is None and item.note == "Pulled 48k accounts"
    toggles = list(item.toggles.order_by("created_at", "id"))
    assert [(t.done, t.actor) for t in toggles] == [
        (True, world.architect),
        (False, world.architect),
    ]
    assert toggles[0].evidence_url == "https://crm.example/report/1"
    assert (
        ActivityEvent.objects.filter(verb="checklist.done", engagement=world.engagement).count()
        == 1
    )


def test_holding_a_meeting_ticks_the_items_waiting_for_it(world):
    for n in (1, 2):
        meeting = services.meeting_create(
            engagement=world.engagement,
            kind="balancing_review",
            scheduled_at=make_meeting(world.engagement).scheduled_at,
            actor=world.architect,
        )
        assert meeting.title == f"Balancing Review {n}"
        services.meeting_update(meeting=meeting, actor=world.architect, changes={"status": "held"})
        keys = set(world.engagement.checklist_items.filter(done=True).values_list("key", flat=True))
        assert "1c.balancing_1" in keys
        assert ("1c.balancing_2" in keys) is (n == 2)


def test_design_gate_needs_segment_definitions_and_valuation(world):
    messages = [b.message for b in territory_design_blockers(engagement=world.engagement)]
    assert messages == [
        "Definition “Enterprise” is not published",
        "Definition “Commercial” is not published",
        "Definition “Account Value” is not published",
        "Sign-off “valuation_methodology” is not published",
    ]
    _approve_definitions(world)
    assert [b.message for b in territory_design_blockers(engagement=world.engagement)] == [
        "Sign-off “valuation_methodology” is not published"
    ]
    _approve(world, "valuation_methodology")
    assert territory_design_blockers(engagement=world.engagement) == []
