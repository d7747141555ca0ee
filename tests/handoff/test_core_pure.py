"""The pure handoff modules on hand-made inputs: trigger rules at their boundaries, sensitive
territories, and the maintenance schedule's dates."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff import schedule, sensitivity, triggers
from handoff.triggers import AccuracyCheck, RosterChange, TerritoryValue


def _t(key, value, segment="smb"):
    return TerritoryValue(key, key.title(), segment, segment.upper(), value)


# --- value drift: fires at exactly 2x --------------------------------------------------------


def test_value_drift_fires_at_exactly_twice():
    result = triggers.value_drift([_t("east", 200.0), _t("west", 100.0)])
    assert result.fired and result.value == 2.0
    assert "East" in result.detail and "West" in result.detail and "SMB" in result.detail


def test_value_drift_quiet_just_under_twice():
    result = triggers.value_drift([_t("east", 199.0), _t("west", 100.0)])
    assert not result.fired and result.value == pytest.approx(1.99)


def test_value_drift_compares_only_within_a_segment():
    result = triggers.value_drift(
        [_t("a", 500.0, "ent"), _t("b", 450.0, "ent"), _t("c", 100.0, "smb"), _t("d", 90.0, "smb")]
    )
    assert not result.fired  # 500 vs 100 are different segments


def test_value_drift_fires_when_a_territory_has_no_value():
    result = triggers.value_drift([_t("a", 100.0), _t("b", 0.0)])
    assert result.fired and result.value is None and "no value" in result.detail


def test_value_drift_without_pairs_measures_nothing():
    result = triggers.value_drift([_t("a", 100.0, "ent"), _t("b", 10.0, "smb")])
    assert not result.fired and result.value is None


# --- balance variance: fires above 20 % -------------------------------------------------------


def test_balance_variance_exactly_twenty_does_not_fire():
    # mean 100; 120 and 80 are 20 % away.
    result = triggers.balance_variance([_t("a", 120.0), _t("b", 80.0)])
    assert result.value == 20.0 and not result.fired


def test_balance_variance_above_twenty_fires_and_names_the_territory():
    result = triggers.balance_variance([_t("a", 121.0), _t("b", 79.0)])
    assert result.fired and result.value == 21.0
    assert result.detail.startswith("A in SMB is 21.0 % above")


def _tc(key, value, count, segment="smb"):
    return TerritoryValue(key, key.title(), segment, segment.upper(), value, count)


def test_balance_variance_counts_accounts_too_the_seeds_count_plus_value_review():
    # Values equal, counts 13 and 7: mean 10, 30 % apart — the count fires on its own.
    result = triggers.balance_variance([_tc("a", 100.0, 13), _tc("b", 100.0, 7)])
    assert result.fired and result.value == 30.0
    assert result.detail == (
        "A in SMB has 13 accounts, 30.0 % above the segment mean (10.0), more than 20 %."
    )
    # Exactly 20 % on the count does not fire.
    assert not triggers.balance_variance([_tc("a", 100.0, 12), _tc("b", 100.0, 8)]).fired


def test_balance_variance_reports_the_worse_measure_and_value_wins_a_tie():
    worse_value = triggers.balance_variance([_tc("a", 130.0, 11), _tc("b", 70.0, 9)])
    assert worse_value.value == 30.0 and "segment mean value" in worse_value.detail
    worse_count = triggers.balance_variance([_tc("a", 105.0, 14), _tc("b", 95.0, 6)])
    assert worse_count.value == 40.0 and "has 14 accounts" in worse_count.detail
    tie = triggers.balance_variance([_tc("a", 125.0, 5), _tc("b", 75.0, 3)])
    assert tie.value == 25.0 and "segment mean value" in tie.detail


def test_balance_variance_skips_the_count_where_it_is_not_measured_or_zero():
    # One territory without a count: the segment is judged on value only.
    assert not triggers.balance_variance([_tc("a", 100.0, 30), _t("b", 100.0)]).fired
    # No accounts anywhere yet: no count mean to compare with.
    assert triggers.balance_variance([_tc("a", 100.0, 0), _tc("b", 100.0, 0)]).value == 0.0
    # A segment of one territory is never compared.
    empty = triggers.balance_variance([_tc("a", 100.0, 3, "ent")])
    assert empty.value is None and not empty.fired


# --- team change: 3+ in a quarter -------------------------------------------------------------


def test_team_change_three_in_a_quarter_fires():
    changes = [
        RosterChange(date(2026, 10, 2), "Ann", "hired"),
        RosterChange(date(2026, 11, 1), "Bob", "departed"),
        RosterChange(date(2026, 11, 20), "Cy", "hired"),
    ]
    result = triggers.team_change(changes, today=date(2026, 11, 25))
    assert result.fired and result.value == 3
    assert "Q4 2026" in result.detail and "Ann" in result.detail and "gone Bob" in result.detail


def test_team_change_two_does_not_fire_and_a_person_counts_once():
    changes = [
        RosterChange(date(2026, 10, 2), "Ann", "hired"),
        RosterChange(date(2026, 10, 3), "ann ", "hired"),
        RosterChange(date(2026, 11, 1), "Bob", "departed"),
    ]
    result = triggers.team_change(changes, today=date(2026, 11, 25))
    assert not result.fired and result.value == 2


def test_team_change_spread_over_quarters_and_future_hires_do_not_fire():
    changes = [
        RosterChange(date(2026, 9, 30), "Ann", "hired"),  # Q3
        RosterChange(date(2026, 10, 1), "Bob", "hired"),  # Q4
        RosterChange(date(2026, 12, 1), "Cy", "hired"),  # Q4 but in the future
        RosterChange(date(2026, 12, 2), "Di", "hired"),  # future
    ]
    result = triggers.team_change(changes, today=date(2026, 11, 25))
    assert not result.fired and result.value == 1


def test_team_change_counts_the_quarter_just_ended():
    changes = [RosterChange(date(2026, 12, d), f"P{d}", "departed") for d in (1, 2, 3)]
    assert triggers.team_change(changes, today=date(2027, 1, 10)).fired
    # Two quarters later it no longer counts.
    assert not triggers.team_change(changes, today=date(2027, 4, 10)).fired


# --- routing accuracy: below 90 % -------------------------------------------------------------


def test_routing_accuracy_at_ninety_does_not_fire():
    result = triggers.routing_accuracy([AccuracyCheck(date(2026, 11, 1), 50, 45, "manual")])
    assert result.value == 90.0 and not result.fired


def test_routing_accuracy_below_ninety_fires_on_the_latest_check():
    checks = [
        AccuracyCheck(date(2026, 10, 1), 100, 99, "audit"),
        AccuracyCheck(date(2026, 11, 1), 50, 44, "manual"),
    ]
    result = triggers.routing_accuracy(checks)
    assert result.fired and result.value == 88.0 and "01 Nov 2026 (manual)" in result.detail


def test_routing_accuracy_recovers_when_a_later_check_passes():
    checks = [
        AccuracyCheck(date(2026, 11, 1), 50, 30, "manual"),
        AccuracyCheck(date(2026, 11, 8), 60, 60, "audit"),
    ]
    assert not triggers.routing_accuracy(checks).fired


def test_routing_accuracy_without_checks_is_quiet():
    result = triggers.routing_accuracy([])
    assert not result.fired and result.value is None


def test_evaluate_returns_the_four_rules_in_order():
    slugs = [
        r.slug
        for r in triggers.evaluate(territories=[], changes=[], checks=[], today=date(2026, 1, 1))
    ]
    assert slugs == ["value-drift", "balance-variance", "team-change", "routing-accuracy"]


# --- sensitivity ------------------------------------------------------------------------------


def test_concentration_flags_an_account_at_a_quarter_of_its_territory():
    accounts = [
        sensitivity.AccountValue("A1", "Acme", "t1", "West 1", 25.0),
        sensitivity.AccountValue("A2", "Bolt", "t1", "West 1", 24.9),
        sensitivity.AccountValue("A3", "Cogs", "t2", "East 1", 60.0),
        sensitivity.AccountValue("A4", "None", "", "", 99.0),
    ]
    found = sensitivity.concentration_risks(accounts, {"t1": 100.0, "t2": 120.0})
    assert [(c.account, c.share_pct) for c in found] == [("A3", 50.0), ("A1", 25.0)]


def test_split_states_are_states_shared_by_territories_of_one_segment():
    rows = [
        ("Commercial", "CA", "West 1"),
        ("Commercial", "CA", "West 2"),
        ("Commercial", "CA", "West 1"),
        ("Commercial", "TX", "South 1"),
        ("Enterprise", "TX", "Ent 1"),  # another segment: not a split
    ]
    found = sensitivity.split_states(rows)
    assert [(s.segment_label, s.state, s.territories) for s in found] == [
        ("Commercial", "CA", ("West 1", "West 2"))
    ]


def test_borderline_accounts_within_ten_percent_of_a_threshold():
    measures = [
        ("a", "Just over", 1_050.0),
        ("b", "Just under", 910.0),
        ("c", "Far", 800.0),
        ("d", "Unknown", None),
        ("e", "Exactly ten below", 900.0),
    ]
    found = sensitivity.borderline_accounts(measures, [("Enterprise", 1_000.0)])
    assert [b.external_id for b in found] == ["a", "b", "e"]
    assert found[0].distance_pct == pytest.approx(5.0)
    assert found[1].distance_pct == pytest.approx(-9.0)


# --- schedule ---------------------------------------------------------------------------------


def _cadence(slug, *, every=None, once=None):
    task = SimpleNamespace(slug=f"{slug}-task", task="T", check="C", red_flag="R", action="")
    return SimpleNamespace(
        slug=slug, name=slug, every_months=every, once_after_days=once, tasks=(task,)
    )


def test_schedule_dates_for_twelve_months_from_rollout():
    cadences = [
        _cadence("monthly", every=1),
        _cadence("quarterly", every=3),
        _cadence("first", once=90),
        _cadence("annual", every=12),
    ]
    found = schedule.occurrences(cadences, start=date(2026, 1, 31), owner="customer")
    by = {}
    for o in found:
        by.setdefault(o.cadence, []).append(o.due)
    assert by["monthly"][:3] == [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert len(by["monthly"]) == 12 and by["monthly"][-1] == date(2027, 1, 31)
    assert by["quarterly"] == [
        date(2026, 4, 30),
        date(2026, 7, 31),
        date(2026, 10, 31),
        date(2027, 1, 31),
    ]
    assert by["first"] == [date(2026, 5, 1)]
    assert by["annual"] == [date(2027, 1, 31)]
    assert all(o.owner == "customer" for o in found)
    assert [o.due for o in found] == sorted(o.due for o in found)


def test_schedule_rejects_a_horizon_under_a_month():
    with pytest.raises(ValueError, match="months"):
        schedule.occurrences([], start=date(2026, 1, 1), owner="x", months=0)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
def test_schedule_invariants_for_any_rollout_day(start):
    cadences = [_cadence("monthly", every=1), _cadence("quarterly", every=3)]
    found = schedule.occurrences(cadences, start=start, owner="architect")
    end = schedule.add_months(start, 12)
    assert all(start < o.due <= end for o in found)
    assert sum(o.cadence == "monthly" for o in found) == 12
    assert sum(o.cadence == "quarterly" for o in found) == 4
    assert len({o.key for o in found}) == len(found)  # regeneration keys never collide
