"""The segmentation hierarchy (pure): evaluation order, vectorised pods, checks, JSON, splits."""

from __future__ import annotations

import pandas as pd
import pytest

from territories.hierarchy import (
    HierarchyError,
    HierarchySpec,
    PodSpec,
    SegmentBand,
    assign_pods,
    default_spec,
    pod_for_seat,
    split_proposals,
)
from territories.segments import DEFAULT_SCHEME

BANDS = (SegmentBand("Enterprise", 1e9, True), SegmentBand("Commercial"))


def spec(*pods: PodSpec, cuts=("named_accounts", "segment", "region", "state", "industry")):
    return HierarchySpec(cuts=cuts, segment_basis="annual_revenue", bands=BANDS, pods=pods)


WEST = PodSpec(
    "commercial-west", "Commercial · West", segments=("Commercial",), regions=("West",), seats=3
)
HEALTH = PodSpec(
    "commercial-health",
    "Commercial · Healthcare",
    segments=("Commercial",),
    industries=("Healthcare",),
    seats=2,
)
REST = PodSpec("commercial", "Commercial", segments=("Commercial",), seats=4)
ENT = PodSpec("enterprise", "Enterprise", segments=("Enterprise",), seats=2, atom="account")


def test_the_first_matching_pod_takes_the_account():
    h = spec(ENT, WEST, HEALTH, REST)
    assert h.pod_of(segment="Commercial", region="West", state="CA", industry="Healthcare") is WEST
    assert (
        h.pod_of(segment="Commercial", region="South", state="TX", industry="healthcare ") is HEALTH
    )
    assert h.pod_of(segment="Commercial", region="South", state="TX", industry="") is REST
    assert h.pod_of(segment="Enterprise", region="", state="", industry="") is ENT
    assert spec(WEST).pod_of(segment="Commercial", region="South", state="TX", industry="") is None


def test_assign_pods_agrees_with_pod_of_row_by_row():
    h = spec(ENT, WEST, HEALTH, REST)
    frame = pd.DataFrame(
        {
            "annual_revenue": [2e9, 5e6, 5e6, 5e6, None, 1e9, 999_999_999],
            "state": ["NY", "California", "TX", "", "WA", "TX", "OR"],
            "postal_code": ["10001", "94105", "75001", "94105", "98101", "", ""],
            "industry": ["Software", "Retail", "Healthcare", "Retail", None, "", "Healthcare"],
        }
    )
    got = assign_pods(h, frame).tolist()
    # Blank state falls back to the ZIP code (94105 is CA, West); unknown revenue is Commercial;
    # $1B is Enterprise (inclusive); OR is West before Healthcare.
    assert got == [
        "enterprise",
        "commercial-west",
        "commercial-health",
        "commercial-west",
        "commercial-west",
        "enterprise",
        "commercial-west",
    ]
    from territories import geo

    for i, row in frame.iterrows():
        state = geo.normalize_state(row["state"]) or geo.postal_to_state(row["postal_code"]) or ""
        segment = "Enterprise" if (row["annual_revenue"] or 0) >= 1e9 else "Commercial"
        pod = h.pod_of(
            segment=segment,
            region=geo.STATE_REGION.get(state, ""),
            state=state,
            industry=row["industry"] or "",
        )
        assert (pod.key if pod else "") == got[i]


def test_accounts_no_pod_takes_get_an_empty_key():
    assert assign_pods(
        spec(WEST), pd.DataFrame({"annual_revenue": [1.0], "state": ["TX"]})
    ).tolist() == [""]


def test_json_round_trip_keeps_everything():
    pod = PodSpec(
        "commercial-west",
        "Commercial · West",
        segments=("Commercial",),
        regions=("West",),
        states=("CA", "OR"),
        seats=3,
        granularity_by_state={"CA": "county"},
        reps=("Avery Chen",),
    )
    h = spec(ENT, pod)
    assert HierarchySpec.from_json(h.to_json()) == h
    import json

    assert HierarchySpec.from_json(json.loads(json.dumps(h.to_json()))) == h


@pytest.mark.parametrize(
    ("pods", "cuts", "expected"),
    [
        ((ENT, ENT), None, "used twice"),
        ((PodSpec("Bad Key", "X"),), None, "lower-case slug"),
        ((PodSpec("x", "X", seats=0),), None, "at least one seat"),
        ((PodSpec("x", "X", segments=("Mid",)),), None, "segment 'Mid'"),
        ((PodSpec("x", "X", regions=("Pacific",)),), None, "region 'Pacific'"),
        ((PodSpec("x", "X", states=("XX",)),), None, "not a state"),
        ((PodSpec("x", "X", granularity_by_state={"CA": "street"}),), None, "granularity 'street'"),
        ((PodSpec("x", "X", atom="team"),), None, "atom must be"),
        ((PodSpec("x", "X", seats=1, reps=("A", "B")),), None, "2 reps for 1 seats"),
        ((REST,), ("segment", "named_accounts"), "first cut"),
        ((HEALTH,), ("named_accounts", "segment"), "industry, which is not a cut"),
        ((), None, "at least one pod"),
    ],
)
def test_problems_name_the_pod_and_field(pods, cuts, expected):
    h = spec(*pods) if cuts is None else spec(*pods, cuts=cuts)
    problems = " ".join(h.problems())
    assert expected in problems
    with pytest.raises(HierarchyError, match=expected.split("'")[0]):
        h.check()


def test_a_good_hierarchy_has_no_problems_and_describes_itself():
    pod = PodSpec(
        "c",
        "Commercial",
        segments=("Commercial",),
        seats=2,
        granularity_by_state={"CA": "county"},
        reps=("Ann",),
    )
    h = spec(ENT, pod)
    assert h.problems() == []
    text = "\n".join(h.describe())
    assert "1. named accounts" in text
    assert "California by county" in text
    assert "1 vacant" in text


def test_reps_and_hires_find_their_pod_by_segment_and_home_state():
    h = spec(ENT, WEST, REST)
    assert pod_for_seat(h, segment="Commercial", state="CA") is WEST
    assert pod_for_seat(h, segment="Commercial", state="Texas") is REST
    assert pod_for_seat(h, segment="Enterprise", state="") is ENT
    assert pod_for_seat(spec(WEST), segment="Enterprise", state="CA") is None


def test_default_spec_makes_one_pod_per_segment_with_the_roster():
    h = default_spec(
        scheme=DEFAULT_SCHEME, reps=[("Ann", "Commercial", "CA"), ("Bo", "Commercial", "NY")]
    )
    assert [p.key for p in h.pods] == ["enterprise", "commercial"]
    assert h.pods[0].atom == "account" and h.pods[0].seats == 1
    assert h.pods[1].reps == ("Ann", "Bo") and h.pods[1].seats == 2
    assert h.problems() == []


def test_split_proposal_flags_a_state_above_the_share_of_the_target():
    pod = PodSpec("c", "Commercial", segments=("Commercial",), seats=4)
    h = spec(pod)
    # Pod value 100, 4 seats: target 25; half of it is 12.5. CA at 40 is 1.6 targets.
    values = {("c", "CA"): 40.0, ("c", "NY"): 12.0, ("c", "TX"): 30.0, ("c", "WA"): 18.0}
    proposals = split_proposals(h, values, share=0.5)
    assert [(p.unit, p.proposed) for p in proposals] == [
        ("CA", "county"),
        ("TX", "county"),
        ("WA", "county"),
    ]
    assert proposals[0].target == 25.0 and proposals[0].share_of_target == pytest.approx(1.6)
    assert [p.unit for p in split_proposals(h, values, share=1.0)] == ["CA", "TX"]
    assert split_proposals(h, values, share=0.5, granularity="zip3")[0].proposed == "zip3"


def test_split_proposal_goes_finer_for_a_county_and_stops_at_zip3():
    pod = PodSpec("c", "Commercial", seats=2, granularity_by_state={"CA": "county"})
    h = spec(pod)
    values = {("c", "CA:C06037"): 80.0, ("c", "CA:C06059"): 5.0, ("c", "NV"): 15.0}
    proposals = split_proposals(h, values)
    assert [(p.unit, p.current, p.proposed) for p in proposals] == [("CA:C06037", "county", "zip3")]
    assert proposals[0].unit_label == "Los Angeles County, CA"
    zip_pod = PodSpec("c", "Commercial", seats=2, granularity_by_state={"CA": "zip3"})
    assert (
        split_proposals(spec(zip_pod), {("c", "CA:Z900"): 9.0, ("c", "NV"): 1.0})[0].proposed
        is None
    )


def test_account_pods_are_never_proposed_splits():
    assert split_proposals(spec(ENT), {("enterprise", "CA"): 100.0}) == []


def test_with_granularity_sets_and_clears_a_split():
    pod = PodSpec("c", "Commercial", seats=2)
    h = spec(pod).with_granularity("c", "CA", "county")
    assert h.pod("c").granularity_by_state == {"CA": "county"}
    assert h.with_granularity("c", "CA", "state").pod("c").granularity_by_state == {}
