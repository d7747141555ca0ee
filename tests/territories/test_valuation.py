"""Valuation on small hand-made inputs with known answers (territories.valuation is pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territories.segments import SegmentScheme
from territories.valuation import (
    ValuationParams,
    methodology_lines,
    sensitivity,
    summary,
    value_accounts,
)

NAN = float("nan")


def accounts(rows):
    """rows: (segment, tier, is_customer, acv, employees, revenue)"""
    return pd.DataFrame(
        rows,
        columns=["segment", "tier", "is_customer", "contract_value", "employees", "annual_revenue"],
    )


# Three Commercial T2 customers (ACV 40k, 48k, 60k: median 48k) and prospects around them.
BASE = [
    ("Commercial", "T2", True, 40_000, 10, 1e6),
    ("Commercial", "T2", True, 48_000, 20, 2e6),
    ("Commercial", "T2", True, 60_000, 30, 3e6),
    ("Commercial", "T2", False, NAN, 40, 4e6),  # prospect in a full cell
    ("Commercial", "T1", False, NAN, NAN, NAN),  # cell without customers: segment median
    ("Enterprise", "T1", False, NAN, 5000, 9e9),  # segment without customers: everyone's median
]


def test_the_benchmark_method_gives_the_known_values_and_explains_them():
    result = value_accounts(
        accounts(BASE), ValuationParams(), segments=["Enterprise", "Commercial"]
    )
    assert list(result.value) == [48_000, 57_600, 72_000, 28_800, 28_800, 28_800]
    assert result.explanation[0] == (
        "Commercial · T2 customer: current ACV $40,000 + 20 % expansion $8,000 = $48,000"
    )
    assert result.explanation[3] == (
        "Commercial · T2 prospect: median customer ACV $48,000 × hedge 0.6 = $28,800"
    )
    assert result.explanation[4] == (
        "Commercial · T1 prospect: median ACV of all Commercial customers "
        "(fewer than 3 T1 customers) $48,000 × hedge 0.6 = $28,800"
    )
    assert result.explanation[5] == (
        "Enterprise · T1 prospect: median ACV of all customers "
        "(fewer than 3 Enterprise customers) $48,000 × hedge 0.6 = $28,800"
    )
    assert list(result.basis) == [
        "customer", "customer", "customer", "benchmark", "benchmark_segment", "benchmark_all"
    ]  # fmt: skip


def test_other_statistics_hedges_and_expansion_change_the_numbers_as_stated():
    params = ValuationParams(statistic="mean", hedge_factor=0.5, expansion_factor=0.0)
    result = value_accounts(accounts(BASE), params)
    # mean of 40k, 48k, 60k = 49,333.33 -> × 0.5 = 24,666.67 -> rounded to whole dollars
    assert result.value[3] == 24_667
    assert result.value[0] == 40_000
    assert "average customer ACV $49,333 × hedge 0.5 = $24,667" in result.explanation[3]
    p75 = value_accounts(accounts(BASE), ValuationParams(statistic="p75", hedge_factor=0.9))
    assert p75.value[3] == 48_600  # 75th percentile of 40k, 48k, 60k (linear) = 54k, × 0.9


def test_a_customer_without_an_acv_is_valued_like_a_prospect():
    rows = [*BASE, ("Commercial", "T2", True, NAN, 5, 1e5)]
    result = value_accounts(accounts(rows), ValuationParams())
    assert result.value[-1] == 28_800
    assert result.explanation[-1].startswith("Commercial · T2 customer (no ACV on record):")


def test_with_no_customer_at_all_nothing_is_valued_and_it_says_why():
    rows = [("Commercial", "T2", False, NAN, 10, 1e6)]
    result = value_accounts(accounts(rows), ValuationParams())
    assert list(result.value) == [0.0]
    assert "no current customer has a contract value" in result.explanation[0]
    assert summary(result, np.array(["Commercial"]), np.array(["T2"]))["not_valued"] == 1


def test_the_scaled_method_uses_value_per_employee_with_caps():
    # Customers: 40k/10, 48k/20, 60k/30 per employee = 4,000, 2,400, 2,000 -> median 2,400
    params = ValuationParams(method="scaled", caps={"Enterprise": 100_000})
    result = value_accounts(accounts(BASE), params, segments=["Enterprise", "Commercial"])
    assert result.value[3] == 2_400 * 40 * 0.6  # 57,600
    assert result.explanation[3] == (
        "Commercial · T2 prospect: $2,400.00 per employee (median of Commercial customers) "
        "× 40 employees × hedge 0.6 = $57,600"
    )
    # Enterprise has no customers: all customers' ratio, then the segment's cap.
    assert result.value[5] == 100_000
    assert result.explanation[5].endswith("= $7,200,000, capped at $100,000")
    assert result.basis[5] == "scaled_capped"
    # Unknown employee count: the benchmark method instead.
    assert result.value[4] == 28_800
    assert "median ACV of all Commercial customers" in result.explanation[4]


def test_the_scaled_method_can_use_revenue():
    params = ValuationParams(method="scaled", scale_basis="annual_revenue")
    result = value_accounts(accounts(BASE), params)
    # ACV per revenue dollar: 0.04, 0.024, 0.02 -> median 0.024; × 4,000,000 × 0.6 = 57,600
    assert result.value[3] == 57_600
    assert "$24.00 per $1,000 of revenue" in result.explanation[3]


def test_sensitivity_recomputes_totals_and_segments_at_other_hedges():
    result = value_accounts(
        accounts(BASE), ValuationParams(), segments=["Enterprise", "Commercial"]
    )
    rows = sensitivity(result, accounts(BASE)["segment"].to_numpy(), [0.5, 0.6, 1.0],
                       ["Enterprise", "Commercial"])  # fmt: skip
    customers = 48_000 + 57_600 + 72_000
    assert rows[1]["total"] == pytest.approx(result.value.sum())
    assert rows[0]["total"] == customers + 3 * 24_000
    assert rows[2]["total"] == customers + 3 * 48_000
    assert rows[2]["segments"] == {"Enterprise": 48_000, "Commercial": customers + 2 * 48_000}


@pytest.mark.parametrize("hedge", [1.5, 1.0, 1, 0, -0.2])
def test_the_hedge_factor_must_be_below_one(hedge):
    # SPEC §4: a prospect is worth a share (< 1) of what a customer like it pays.
    with pytest.raises(
        ValueError, match=f"Hedge factor must be above 0 and below 1 .*, not {hedge:g}"
    ):
        value_accounts(accounts(BASE), ValuationParams(hedge_factor=hedge))
    assert ValuationParams(hedge_factor=0.99).problems() == []


def test_a_parameter_that_is_not_a_number_is_named():
    assert ValuationParams(hedge_factor="0,6").problems() == [
        "Hedge factor must be a number, not “0,6”."
    ]


def test_bad_parameters_are_named():
    problems = ValuationParams(statistic="mode", min_customers=0, caps={"X": -1}).problems()
    assert any("Statistic" in p for p in problems)
    assert any("Minimum customers" in p for p in problems)
    assert any("cap for X" in p for p in problems)


def test_the_methodology_reads_the_parameters_back_in_plain_words():
    scheme = SegmentScheme.from_dict({"basis": "annual_revenue", "bands": [
        {"label": "Enterprise", "minimum": 1e9}, {"label": "Commercial"}]})  # fmt: skip
    lines = methodology_lines(ValuationParams(hedge_factor=0.55), scheme)
    text = "\n".join(lines)
    assert "Enterprise: annual revenue ≥ $1,000,000,000" in text
    assert "a hedge factor of 0.55" in text
    assert "plus 20 % expansion potential" in text
    scaled = "\n".join(
        methodology_lines(ValuationParams(method="scaled", caps={"Enterprise": 5e5}), scheme)
    )
    assert "capped per segment: Enterprise at $500,000" in scaled


def test_one_hundred_thousand_accounts_value_in_well_under_a_second_of_work():
    # Not a timing test (see bench/valuation.py): it checks the vectorised path handles scale.
    rng = np.random.default_rng(1)
    n = 100_000
    frame = pd.DataFrame(
        {
            "segment": rng.choice(["Enterprise", "Commercial"], n),
            "tier": rng.choice(["T1", "T2", "T3", "unqualified"], n),
            "is_customer": rng.random(n) < 0.1,
            "contract_value": rng.uniform(1e4, 1e6, n),
            "employees": rng.integers(1, 10_000, n).astype(float),
            "annual_revenue": rng.uniform(1e5, 1e10, n),
        }
    )
    result = value_accounts(frame, ValuationParams())
    assert len(result.value) == n and all(isinstance(e, str) for e in result.explanation[:10])


customers_and_prospects = st.lists(
    st.tuples(
        st.sampled_from(["Enterprise", "Commercial"]),
        st.sampled_from(["T1", "T2", "T3", "unqualified"]),
        st.booleans(),
        st.one_of(st.just(NAN), st.floats(min_value=1, max_value=5e6)),
        st.one_of(st.just(NAN), st.integers(min_value=1, max_value=100_000)),
        st.floats(min_value=1e4, max_value=1e11),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=customers_and_prospects, hedge=st.floats(min_value=0.05, max_value=1.0, exclude_max=True)
)
def test_invariants_hold_for_any_universe(rows, hedge):
    frame = accounts(rows)
    for method in ("benchmark", "scaled"):
        result = value_accounts(frame, ValuationParams(method=method, hedge_factor=hedge))
        assert np.all(result.value >= 0)
        assert all(isinstance(e, str) and e for e in result.explanation)
        with np.errstate(invalid="ignore"):
            paying = frame["is_customer"].to_numpy() & (frame["contract_value"].to_numpy() > 0)
        # A paying customer is worth at least its current contract.
        assert np.all(result.value[paying] >= np.round(frame["contract_value"].to_numpy()[paying]))
        # Every explanation ends with the value it explains.
        for value, text in zip(result.value, result.explanation, strict=True):
            if "not valued" not in text:
                assert f"${value:,.0f}" in text
