"""Size segments with boundaries as written (territories.segments is pure)."""

from __future__ import annotations

import numpy as np
import pytest

from territories.segments import DEFAULT_SCHEME, Band, SegmentScheme, assign_segments, market_table

THREE = SegmentScheme(
    "annual_revenue",
    (Band("Enterprise", 1e9, True), Band("Mid-Market", 1e8, False), Band("SMB")),
)


def test_boundaries_are_inclusive_or_exclusive_as_written():
    revenue = np.array([1e9, 999_999_999, 1e8, 100_000_001, 5, np.nan])
    assert list(assign_segments(revenue, THREE)) == [
        "Enterprise",  # ≥ $1B includes exactly $1B
        "Mid-Market",
        "SMB",  # > $100M excludes exactly $100M
        "Mid-Market",
        "SMB",
        "SMB",  # unknown size falls in the last segment, as its description says
    ]


def test_descriptions_state_both_sides_of_each_boundary():
    assert THREE.describe() == [
        "Enterprise: annual revenue ≥ $1,000,000,000",
        "Mid-Market: annual revenue > $100,000,000 and annual revenue < $1,000,000,000",
        "SMB: annual revenue ≤ $100,000,000, or annual revenue unknown",
    ]
    assert DEFAULT_SCHEME.describe()[1] == (
        "Commercial: annual revenue < $1,000,000,000, or annual revenue unknown"
    )


def test_employee_thresholds_work_the_same():
    scheme = SegmentScheme("employees", (Band("Large", 1000), Band("Small")))
    assert list(assign_segments(np.array([1000, 999]), scheme)) == ["Large", "Small"]
    assert scheme.describe()[0] == "Large: employees ≥ 1,000 employees"


@pytest.mark.parametrize(
    ("bands", "problem"),
    [
        ((Band("A", 100), Band("B", 200), Band("C")), "thresholds must decrease"),
        ((Band("A", 100), Band("a")), "used twice"),
        ((Band("A", 100), Band("B", 5)), "has no threshold"),
        ((Band("A"), Band("B")), "needs a threshold"),
        ((Band("", 100), Band("B")), "needs a name"),
        ((Band("A", -1), Band("B")), "positive number"),
        ((), "at least one segment"),
    ],
)
def test_bad_schemes_are_explained(bands, problem):
    problems = SegmentScheme("annual_revenue", bands).problems()
    assert any(problem in p for p in problems), problems


def test_market_table_counts_totals_and_averages_per_segment_in_order():
    segment = np.array(["SMB", "Enterprise", "SMB", "SMB"], dtype=object)
    value = np.array([10.0, 1000.0, 20.0, 30.0])
    rows = market_table(segment, value, ["Enterprise", "Mid-Market", "SMB"],
                        is_customer=np.array([True, False, False, True]))  # fmt: skip
    assert [r["segment"] for r in rows] == ["Enterprise", "Mid-Market", "SMB"]
    assert rows[0] == {
        "segment": "Enterprise",
        "accounts": 1,
        "customers": 0,
        "total_value": 1000.0,
        "average_value": 1000.0,
        "value_share": pytest.approx(94.3),
    }
    assert rows[1]["accounts"] == 0 and rows[1]["average_value"] == 0.0
    assert rows[2]["total_value"] == 60.0 and rows[2]["average_value"] == 20.0
    assert rows[2]["customers"] == 2


def test_a_scheme_survives_a_round_trip_through_json():
    assert SegmentScheme.from_dict(THREE.as_dict()) == THREE
