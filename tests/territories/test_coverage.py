"""Coverage model and capacity arithmetic (territories.coverage is pure)."""

from __future__ import annotations

import pytest

from territories.coverage import (
    DEFAULT_CAPACITY,
    CoverageRule,
    Seat,
    coverage_table,
    default_rule,
    headcount,
    rules_for,
)


def test_defaults_follow_seed_003_by_segment_rank():
    three = ["Enterprise", "Mid-Market", "SMB"]
    assert default_rule("Enterprise", "T1", three) == CoverageRule(
        "Enterprise", "T1", 8, "Field + SE", 4
    )
    assert default_rule("Mid-Market", "T1", three).accounts_per_rep == 15
    assert default_rule("SMB", "T2", three).accounts_per_rep == 75
    assert default_rule("SMB", "unqualified", three).accounts_per_rep is None
    two = ["Enterprise", "Commercial"]
    assert default_rule("Commercial", "T1", two).accounts_per_rep == 15  # mid-market profile
    assert DEFAULT_CAPACITY == {"new_hire": 6, "ramping": 12, "ramped": 25, "senior": 5}


def test_stored_rules_override_defaults_cell_by_cell():
    stored = [CoverageRule("Enterprise", "T2", 3, "Field", 10)]
    rules = rules_for(["Enterprise", "Commercial"], stored)
    assert len(rules) == 8
    assert rules[1] == stored[0]
    assert rules[0].touches_per_year == 8


def test_headcount_needed_against_the_team_in_ramped_equivalents():
    rules = [
        CoverageRule("Enterprise", "T1", 8, "Field + SE", 4),
        CoverageRule("Enterprise", "T2", 6, "Field", 5),
        CoverageRule("Enterprise", "unqualified", 0, "Digital", None),
    ]
    counts = {("Enterprise", "T1"): 10, ("Enterprise", "T2"): 7, ("Enterprise", "unqualified"): 50}
    table = coverage_table(counts, rules)
    assert [r["reps_needed"] for r in table] == [2.5, 1.4, 0.0]
    assert [r["touches_total"] for r in table] == [80, 42, 0]
    capacity = {"new_hire": 6, "ramping": 12, "ramped": 24, "senior": 6}
    reps = [Seat("Enterprise", "ramped", 24), Seat("Enterprise", "new_hire", 6)]
    hires = [Seat("Enterprise", "ramped", 24)]
    (row,) = headcount(table, reps, hires, capacity, ["Enterprise"])
    assert row["accounts_needing_reps"] == 17  # the digital accounts need no rep
    assert row["reps_needed_exact"] == pytest.approx(3.9)
    assert row["reps_needed"] == 4
    assert row["reps"] == 2
    assert row["team_equivalent"] == pytest.approx(1.25)  # a new hire is a quarter of a rep
    assert row["gap"] == pytest.approx(2.65)
    assert row["planned_hires"] == 1
    assert row["gap_after_hires"] == pytest.approx(1.65)


def test_reps_in_a_segment_that_no_longer_exists_still_show_up():
    rows = headcount([], [Seat("Old", "ramped", 25)], [], DEFAULT_CAPACITY, ["Enterprise"])
    assert [r["segment"] for r in rows] == ["Enterprise", "Old"]
    assert rows[1]["reps"] == 1 and rows[1]["gap"] == -1
