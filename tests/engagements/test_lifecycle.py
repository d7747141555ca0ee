"""The lifecycle rules (pure): gate blockers, the design gate, projection, progress."""

from __future__ import annotations

from datetime import date

import pytest

from engagements.lifecycle import (
    blockers_summary,
    calendar_projection,
    current_subphase,
    design_blockers,
    gate_blockers,
    item_applies,
    planned_months,
    weighted_progress,
)

SEED_RULE = {"hours_low": 100, "months_low": 2, "hours_high": 200, "months_high": 3}


def _gate(**overrides):
    params = {
        "previous_open": None,
        "open_items": {},
        "signoffs": {},
        "blocking_assumptions": [],
        "check_assumptions": True,
    }
    params.update(overrides)
    return gate_blockers(**params)


def test_an_empty_gate_is_open():
    assert _gate() == []
    assert blockers_summary([]) == "ready"


def test_every_kind_of_blocker_is_named_most_fundamental_first():
    blockers = _gate(
        previous_open="1. Strategy",
        open_items={"2c": ["Missing data fallback configured"], "2a": ["Edge case handling rules"]},
        signoffs={"engineering_qa": "pending", "definitions": "approved", "icp_matrix": "none"},
        blocking_assumptions=["California is split by zip"],
    )
    assert [b.kind for b in blockers] == [
        "previous_phase",
        "items",
        "items",
        "signoff",
        "signoff",
        "assumption",
    ]
    assert blockers[1].message == "2a: Edge case handling rules"
    assert "waiting for the customer's sign-off" in blockers[3].message
    assert "not yet published" in blockers[4].message
    assert blockers_summary(blockers) == (
        "1. Strategy is not closed yet · 2 items (2a, 2c) · 2 sign-offs · 1 blocking assumption"
    )


def test_blocking_assumptions_only_count_where_the_gate_checks_them():
    assert _gate(blocking_assumptions=["x"], check_assumptions=False) == []
    assert len(_gate(blocking_assumptions=["x", "y"])) == 2


def test_item_counts_stand_for_many_items():
    blockers = _gate(open_items={"1c": 8, "1d": 0, "1b": 1})
    assert [b.message for b in blockers] == [
        "1b: 1 required item open",
        "1c: 8 required items open",
    ]
    assert blockers_summary(blockers) == "9 items (1b, 1c)"


def test_declined_signoff_is_a_blocker():
    [blocker] = _gate(signoffs={"territory_map": "declined"})
    assert blocker.message == "Sign-off “territory_map”: declined by the customer"


def test_design_gate():
    assert (
        design_blockers(
            terms={"Enterprise": "approved"}, signoffs={"valuation_methodology": "approved"}
        )
        == []
    )
    blockers = design_blockers(
        terms={"Enterprise": "approved", "Commercial": "pending"},
        signoffs={"valuation_methodology": "none"},
    )
    assert [b.message for b in blockers] == [
        "Definition “Commercial” is pending",
        "Sign-off “valuation_methodology” is not published",
    ]


def test_conditions():
    assert item_applies("", ["x"])
    assert item_applies("partner_complexity", {"partner_complexity", "icp_light"})
    assert not item_applies("partner_complexity", {"icp_light"})


def test_current_subphase_is_the_first_with_open_work():
    assert current_subphase(["1a", "1b", "1c", "1d"], {"1a": 0, "1b": 2, "1c": 5}) == "1b"
    assert current_subphase(["1a", "1b"], {"1a": 0, "1b": 0}) == "1b"
    assert current_subphase([], {}) == ""


@pytest.mark.parametrize(
    ("hours", "months"), [(100, 2), (150, 2.5), (200, 3), (300, 4), (10, 1.1), (-500, 0.5)]
)
def test_hours_to_calendar_months_follow_the_seed(hours, months):
    assert planned_months(hours, **SEED_RULE) == pytest.approx(months)


def test_projection_against_the_fiscal_year():
    projection = calendar_projection(
        hour_budget=150,
        hours_used=60,
        start=date(2026, 1, 5),
        today=date(2026, 2, 4),
        fiscal_year_start=date(2026, 3, 1),
        progress=20,
        **SEED_RULE,
    )
    assert projection.months == 2.5
    assert projection.planned_finish == date(2026, 3, 22)  # 76 days
    assert projection.hours_pct == 40.0
    assert projection.elapsed_pct == pytest.approx(39.5, abs=0.1)
    assert projection.late_for_fiscal_year and projection.at_risk
    # 30 days for 20 % of the work: 150 days in all.
    assert projection.forecast_finish == date(2026, 6, 4)
    assert projection.forecast_late


def test_projection_without_progress_or_fiscal_year():
    projection = calendar_projection(
        hour_budget=100,
        hours_used=120,
        start=date(2026, 1, 1),
        today=date(2026, 1, 1),
        fiscal_year_start=None,
        progress=0,
        **SEED_RULE,
    )
    assert projection.forecast_finish is None
    assert projection.over_budget and projection.at_risk
    assert not projection.late_for_fiscal_year


def test_closed_engagement_has_an_outcome_not_a_risk():
    """Once every phase is closed, time stops on the closing day: no forecast, elapsed counted
    to that day, nothing at risk; whether it closed after the fiscal-year start is a fact."""
    common = dict(hour_budget=150, hours_used=170, start=date(2026, 1, 5), **SEED_RULE)
    open_ = calendar_projection(
        today=date(2026, 5, 1), fiscal_year_start=date(2026, 3, 1), progress=90, **common
    )
    assert open_.at_risk and open_.forecast_finish is not None and open_.closed_on is None
    closed = calendar_projection(
        today=date(2026, 12, 1),
        fiscal_year_start=date(2026, 3, 1),
        progress=100,
        closed_on=date(2026, 2, 20),
        **common,
    )
    assert closed.closed_on == date(2026, 2, 20)
    assert closed.forecast_finish is None and not closed.forecast_late
    assert closed.elapsed_pct == pytest.approx(100 * 46 / 76, abs=0.1)  # to 20 Feb, not 1 Dec
    assert not closed.late_for_fiscal_year  # closed before 1 Mar, though planned after it
    assert closed.over_budget and not closed.at_risk
    late = calendar_projection(
        today=date(2026, 12, 1),
        fiscal_year_start=date(2026, 3, 1),
        closed_on=date(2026, 4, 2),
        **common,
    )
    assert late.late_for_fiscal_year and not late.at_risk


def test_weighted_progress():
    weights = {"strategy": 40, "engineering": 30, "enablement": 20, "handoff": 10}
    assert weighted_progress(weights, {"strategy": 1.0, "engineering": 0.5}) == 55.0
    assert weighted_progress(weights, {}) == 0.0
    assert weighted_progress({}, {"strategy": 1}) == 0.0
