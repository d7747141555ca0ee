"""The ICP tier matrix: ordered rules, first match wins (territories.tiers is pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from territories import tiers
from territories.tiers import Condition, Rule


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "name": ["Acme", "Bee", "Cedar", "Delta", "Echo"],
            "industry": ["Software", "software ", "Retail", "", "Healthcare"],
            "employees": [1200.0, 300.0, 5000.0, np.nan, 20.0],
            "annual_revenue": [5e8, 3e7, 2e9, 1e6, 4e6],
            "state": ["CA", "NY", "TX", "CA", "MA"],
            "is_customer": [True, False, True, False, True],
            "custom": [{"growth": "high"}, {}, {"growth": "low"}, {"growth": "HIGH"}, {}],
            "segment": ["Commercial", "Commercial", "Enterprise", "Commercial", "Commercial"],
        }
    )


def mask(frame, field, op, text):
    return list(tiers.condition_mask(frame, tiers.parse_condition(field, op, text)))


def test_text_conditions_ignore_case_and_spaces(frame):
    assert mask(frame, "industry", "in", "software, healthcare") == [1, 1, 0, 0, 1]
    assert mask(frame, "industry", "not_in", "Software") == [0, 0, 1, 1, 1]
    assert mask(frame, "industry", "eq", "RETAIL") == [0, 0, 1, 0, 0]
    assert mask(frame, "name", "contains", "e") == [1, 1, 1, 1, 1]
    assert mask(frame, "industry", "blank", "") == [0, 0, 0, 1, 0]
    assert mask(frame, "industry", "present", "") == [1, 1, 1, 0, 1]


def test_numeric_conditions_are_inclusive_as_written_and_never_match_a_blank(frame):
    assert mask(frame, "employees", "gte", "1,200") == [1, 0, 1, 0, 0]
    assert mask(frame, "employees", "gt", "1200") == [0, 0, 1, 0, 0]
    assert mask(frame, "employees", "lte", "300") == [0, 1, 0, 0, 1]
    assert mask(frame, "employees", "lt", "300") == [0, 0, 0, 0, 1]
    assert mask(frame, "annual_revenue", "between", "30M - 500M") == [1, 1, 0, 0, 0]
    assert mask(frame, "employees", "ne", "300") == [1, 0, 1, 1, 1]


def test_custom_attributes_and_booleans_and_segment_can_be_tested(frame):
    assert mask(frame, "custom:growth", "eq", "high") == [1, 0, 0, 1, 0]
    assert mask(frame, "custom:missing", "blank", "") == [1, 1, 1, 1, 1]
    assert mask(frame, "is_customer", "eq", "yes") == [1, 0, 1, 0, 1]
    assert mask(frame, "is_customer", "ne", "yes") == [0, 1, 0, 1, 0]
    assert mask(frame, "segment", "eq", "enterprise") == [0, 0, 1, 0, 0]


def test_first_matching_rule_wins_in_tier_order(frame):
    rules = tiers.ordered(
        [
            ("T3", 0, Rule("T3", (Condition("state", "in", ("CA", "NY", "TX", "MA")),))),
            ("T1", 0, Rule("T1", (Condition("industry", "in", ("Software",)),
                                  Condition("employees", "gte", 1000.0)))),
            ("T2", 0, Rule("T2", (Condition("industry", "in", ("Software", "Retail")),))),
            ("T1", 1, Rule("T1", (Condition("custom:growth", "eq", "high"),))),
        ]
    )  # fmt: skip
    assert [r.tier for r in rules] == ["T1", "T1", "T2", "T3"]
    assignment = tiers.assign_tiers(frame, rules)
    assert list(assignment.tier) == ["T1", "T2", "T2", "T1", "T3"]
    assert list(assignment.rule) == [0, 2, 2, 1, 3]
    # Acme matches rule 0 and rule 1; it counts for the first only.
    assert assignment.matches == (1, 1, 2, 1)


def test_no_rules_leaves_everyone_unqualified(frame):
    assignment = tiers.assign_tiers(frame, [])
    assert set(assignment.tier) == {tiers.UNQUALIFIED}


def test_distribution_counts_accounts_and_current_customers():
    tier = np.array(["T1", "T3", "T3", "unqualified"], dtype=object)
    rows = tiers.tier_distribution(tier, np.array([True, True, True, False]))
    by = {r["tier"]: r for r in rows}
    assert by["T3"]["accounts"] == 2
    assert by["T3"]["pct"] == 50.0
    assert by["T3"]["customer_pct"] == pytest.approx(66.7)
    assert by["T2"]["accounts"] == 0


def test_a_matrix_putting_most_customers_low_is_called_suspect():
    tier = np.array(["T1", "T3", "T3", "T3"], dtype=object)
    warnings = tiers.matrix_warnings(tiers.tier_distribution(tier, np.ones(4, dtype=bool)))
    assert any("75 % of current customers fall in T3 or unqualified" in w for w in warnings)


@pytest.mark.parametrize(
    ("field", "op", "text", "message"),
    [
        ("employees", "gte", "lots", "“lots” is not a number"),
        ("employees", "between", "500 - 100", "above the upper bound"),
        ("employees", "between", "100", "Between takes two numbers"),
        ("industry", "in", " , ", "at least one value"),
        ("industry", "eq", "", "needs a value"),
        ("is_customer", "eq", "perhaps", "not yes or no"),
        ("industry", "like", "x", "Unknown operator"),
    ],
)
def test_bad_condition_input_names_the_problem(field, op, text, message):
    with pytest.raises(ValueError, match=message):
        tiers.parse_condition(field, op, text)


def test_rules_read_as_plain_sentences():
    rule = Rule(
        "T1",
        (
            tiers.parse_condition("industry", "in", "Software, Healthcare"),
            tiers.parse_condition("annual_revenue", "between", "$10M - 1B"),
            tiers.parse_condition("custom:growth", "eq", "high"),
        ),
    )
    assert rule.describe() == (
        "industry is one of Software, Healthcare and annual revenue between $10,000,000 "
        "and $1,000,000,000 and “growth” is high"
    )
    lines = tiers.matrix_lines([rule])
    assert lines[1] == "T1 · best fit:"
    assert lines[2].startswith("  1. industry is one of")
    assert "  (no rule: no account is placed here)" in lines


def test_conditions_survive_a_round_trip_through_json():
    condition = tiers.parse_condition("employees", "between", "10 - 20")
    assert Condition.from_dict(condition.as_dict()) == condition
