"""The assumptions register's service API (the contract other apps call)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from engagements.models import ActivityEvent, Assumption, AssumptionChange
from engagements.services import (
    assumption_decide,
    assumption_effective_value,
    assumption_register,
    assumption_set_blocking,
    assumptions_for,
)
from tests.factories import make_meeting


def _register(world, **overrides):
    params = {
        "engagement": world.engagement,
        "key": "valuation.hedge_factor",
        "category": Assumption.Category.VALUATION,
        "statement": "Prospects are valued at 0.6 × the segment-tier benchmark",
        "value": 0.6,
        "source": "territories",
    }
    params.update(overrides)
    return assumption_register(**params)


def test_registering_a_new_key_creates_it_assumed_with_history(world):
    assumption = _register(world, blocking=True)
    assert assumption.state == Assumption.State.ASSUMED
    assert assumption.blocking is True
    assert assumption.value == 0.6
    change = assumption.history.get()
    assert change.event == AssumptionChange.Event.REGISTERED
    assert change.note == "registered by territories"
    assert ActivityEvent.objects.filter(
        engagement=world.engagement, verb="assumption.registered"
    ).exists()


def test_registering_the_same_value_again_changes_nothing(world):
    first = _register(world)
    meeting = make_meeting(world.engagement)
    assumption_decide(assumption=first, decision="confirm", meeting=meeting, actor=world.architect)
    again = _register(world, statement="A reworded statement")
    assert again.pk == first.pk
    assert again.state == Assumption.State.CONFIRMED
    assert again.statement == "Prospects are valued at 0.6 × the segment-tier benchmark"
    assert again.history.count() == 2


def test_registering_a_different_value_sends_it_back_to_assumed(world):
    first = _register(world)
    meeting = make_meeting(world.engagement)
    assumption_decide(assumption=first, decision="confirm", meeting=meeting, actor=world.architect)
    changed = _register(world, value=0.7, statement="Prospects are valued at 0.7 × the benchmark")
    changed.refresh_from_db()
    assert changed.state == Assumption.State.ASSUMED
    assert changed.value == 0.7
    assert changed.statement == "Prospects are valued at 0.7 × the benchmark"
    assert changed.meeting is None
    latest = changed.history.first()
    assert latest.event == AssumptionChange.Event.VALUE_CHANGED
    assert (latest.from_state, latest.to_state) == ("confirmed", "assumed")
    assert latest.note == "value changed by territories"


def test_blocking_only_applies_when_first_registered(world):
    first = _register(world, blocking=False)
    assumption_set_blocking(assumption=first, blocking=True, actor=world.architect)
    again = _register(world, value=0.5, blocking=False)
    again.refresh_from_db()
    assert again.blocking is True


def test_adopting_the_customers_correction_keeps_it_corrected(world):
    first = _register(world)
    meeting = make_meeting(world.engagement)
    assumption_decide(
        assumption=first, decision="correct", meeting=meeting, actor=world.architect, value=0.5
    )
    again = _register(world, value=0.5)
    assert again.state == Assumption.State.CORRECTED
    assert assumption_effective_value(engagement=world.engagement, key=first.key) == 0.5


def test_effective_value_follows_the_state(world):
    key = "valuation.hedge_factor"
    assert assumption_effective_value(engagement=world.engagement, key=key, default=0.9) == 0.9
    assumption = _register(world)
    assert assumption_effective_value(engagement=world.engagement, key=key) == 0.6
    meeting = make_meeting(world.engagement)
    assumption_decide(
        assumption=assumption, decision="correct", meeting=meeting, actor=world.architect, value=0.4
    )
    assert assumption_effective_value(engagement=world.engagement, key=key) == 0.4
    assumption_decide(assumption=assumption, decision="reject", meeting=meeting, actor=None)
    assert assumption_effective_value(engagement=world.engagement, key=key, default=1) == 1
    # Another engagement's register is separate.
    assert assumption_effective_value(engagement=world.other, key=key, default="x") == "x"


def test_values_of_any_json_shape_round_trip(world):
    value = {"T1": {"industry_in": ["Software", "Fintech"], "employees_gte": 500}, "order": [1, 2]}
    assumption = _register(world, key="icp.t1", category="icp_tiers", value=value)
    assert _register(world, key="icp.t1", category="icp_tiers", value=value).pk == assumption.pk
    assert assumption_effective_value(engagement=world.engagement, key="icp.t1") == value
    assert Assumption.objects.get(pk=assumption.pk).history.count() == 1


def test_assumptions_for_filters_by_category_and_prefix(world):
    _register(world)
    _register(world, key="valuation.statistic", value="median")
    _register(world, key="segments.enterprise_threshold", category="segments", value=1e9)
    _register(world, engagement=world.other)
    keys = list(assumptions_for(engagement=world.engagement).values_list("key", flat=True))
    assert keys == [
        "segments.enterprise_threshold",
        "valuation.hedge_factor",
        "valuation.statistic",
    ]
    assert assumptions_for(engagement=world.engagement, category="segments").count() == 1
    assert assumptions_for(engagement=world.engagement, key_prefix="valuation.").count() == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"key": ""}, "key"),
        ({"category": "nonsense"}, "category"),
        ({"statement": "  "}, "statement"),
        ({"value": object()}, "JSON"),
    ],
)
def test_bad_registrations_are_refused_with_a_clear_message(world, overrides, message):
    before = Assumption.objects.count()
    with pytest.raises(ValidationError, match=message):
        _register(world, **overrides)
    assert Assumption.objects.count() == before


def test_decisions_need_a_meeting_of_the_same_engagement(world):
    assumption = _register(world)
    with pytest.raises(ValidationError, match="which meeting"):
        assumption_decide(assumption=assumption, decision="confirm", meeting=None, actor=None)
    foreign = make_meeting(world.other)
    with pytest.raises(ValidationError, match="another engagement"):
        assumption_decide(assumption=assumption, decision="confirm", meeting=foreign, actor=None)
    with pytest.raises(ValidationError, match="corrected value"):
        assumption_decide(
            assumption=assumption,
            decision="correct",
            meeting=make_meeting(world.engagement),
            actor=None,
        )
    assumption.refresh_from_db()
    assert assumption.state == Assumption.State.ASSUMED


def test_each_decision_is_recorded_with_meeting_actor_and_value(world):
    assumption = _register(world)
    kickoff = make_meeting(world.engagement, title="Kickoff")
    review = make_meeting(world.engagement, title="Valuation review")
    assumption_decide(
        assumption=assumption,
        decision="correct",
        meeting=kickoff,
        actor=world.architect,
        value=0.55,
        note="VP Sales: our win rate on prospects is lower",
    )
    assumption_decide(
        assumption=assumption, decision="correct", meeting=review, actor=world.architect, value=0.5
    )
    assumption.refresh_from_db()
    assert assumption.state == Assumption.State.CORRECTED
    assert assumption.meeting == review
    assert (assumption.value, assumption.corrected_value) == (0.6, 0.5)
    history = list(assumption.history.order_by("created_at", "id"))
    assert [(h.event, h.from_state, h.to_state) for h in history] == [
        ("registered", "", "assumed"),
        ("corrected", "assumed", "corrected"),
        ("corrected", "corrected", "corrected"),
    ]
    assert history[1].value == 0.55
    assert history[1].meeting == kickoff
    assert history[1].actor == world.architect
    assert history[1].note.startswith("VP Sales")
    assert ActivityEvent.objects.filter(verb="assumption.corrected").count() == 2


def test_decisions_that_make_no_sense_in_the_current_state_are_refused(world):
    assumption = _register(world)
    meeting = make_meeting(world.engagement)
    with pytest.raises(ValidationError, match="ASSUMED"):
        assumption_decide(assumption=assumption, decision="reopen", meeting=meeting, actor=None)
    assumption_decide(
        assumption=assumption, decision="correct", meeting=meeting, actor=None, value=0.5
    )
    with pytest.raises(ValidationError, match="CORRECTED"):
        assumption_decide(assumption=assumption, decision="confirm", meeting=meeting, actor=None)
    assumption_decide(assumption=assumption, decision="reopen", meeting=None, actor=None)
    assumption.refresh_from_db()
    assert assumption.state == Assumption.State.ASSUMED
    assert assumption.corrected_value is None
