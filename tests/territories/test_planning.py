"""territories.planning (pure): growth statements, runway, quota and equity, drift; and the
hierarchy pyramid of territories.diagrams."""

from __future__ import annotations

import numpy as np
import pytest

from territories import planning
from territories.diagrams import hierarchy_diagram_svg
from territories.hierarchy import HierarchySpec, PodSpec, SegmentBand

# Six atoms over two territories: (accounts, value).
MEASURES = np.array([[10, 100.0], [4, 60.0], [2, 40.0], [8, 120.0], [3, 30.0], [1, 50.0]])
START = np.array([0, 0, 0, 1, 1, 1])


def test_each_giving_rep_gets_a_plain_statement_of_what_they_lose():
    steps = [
        planning.CutStep(
            2,
            np.array([1, 2, 5]),
            {"count": 5.0, "value": 8.0},
            {"count": 9.0, "value": 12.0},
            True,
        )
    ]
    out = planning.describe_cuts(
        measures=MEASURES,
        start=START,
        steps=steps,
        holders=["Avery Chen", "Riley Park"],
        new_names=["AE West #4"],
        atom_labels={1: "Orange County, CA", 2: "Kern County, CA", 5: "Nevada"},
        atom_ids={1: "CA:C06059", 2: "CA:C06029", 5: "NV"},
        kind="unit",
    )
    (step,) = out
    assert step["accounts"] == 7 and step["value"] == 150.0 and step["within_tolerance"]
    avery, riley = step["donors"]
    # Avery had 200 of value; gives 100 (50 %), the larger unit named first.
    assert avery["statement"] == (
        "Avery Chen gives up 6 accounts ($100, 50 % of their value) in Orange County, CA, "
        "Kern County, CA to AE West #4."
    )
    assert avery["atoms"] == ["CA:C06059", "CA:C06029"]
    assert (
        riley["statement"]
        == "Riley Park gives up 1 account ($50, 25 % of their value) in Nevada to AE West #4."
    )


def test_a_later_cut_can_take_from_an_earlier_new_territory_and_losses_add_up():
    steps = [
        planning.CutStep(2, np.array([0]), {"count": 1.0, "value": 1.0}, {}, True),
        planning.CutStep(3, np.array([0, 3]), {"count": 1.0, "value": 1.0}, {}, False),
    ]
    out = planning.describe_cuts(
        measures=MEASURES,
        start=START,
        steps=steps,
        holders=["Ann", "Bo", "AE #1"],
        new_names=["AE #1", "AE #2"],
        atom_labels={0: "Acme", 3: "Globex"},
        atom_ids={0: "A1", 3: "A4"},
        kind="account",
    )
    assert [d["holder"] for d in out[1]["donors"]] == ["Bo", "AE #1"]
    assert "including Globex" in out[1]["donors"][0]["statement"]
    losses = {row["holder"]: row for row in planning.losses_by_holder(out)}
    assert losses["Ann"]["value"] == 100.0 and losses["Ann"]["to"] == ["AE #1"]
    assert losses["AE #1"]["accounts"] == 10


def test_every_existing_rep_gets_a_statement_including_those_who_lose_nothing():
    steps = [
        {"hire": "AE #1", "pod": "p", "donors": [
            {"territory": 0, "holder": "Ann", "accounts": 6, "value": 100.0}]},
        {"hire": "AE #2", "pod": "p", "donors": [
            {"territory": 0, "holder": "Ann", "accounts": 2, "value": 20.0},
            {"territory": 2, "holder": "AE #1", "accounts": 1, "value": 5.0}]},
    ]  # fmt: skip
    holdings = [
        {"pod": "p", "territory": 0, "label": "P 1", "holder": "Ann", "accounts": 20, "value": 400.0},
        {"pod": "p", "territory": 1, "label": "P 2", "holder": "Bo", "accounts": 14, "value": 1.5e6},
        # The same person holding a territory in another pod is a separate line.
        {"pod": "q", "territory": 0, "label": "Q 1", "holder": "Ann", "accounts": 1, "value": 50.0},
    ]  # fmt: skip
    ann, bo, ann_q = planning.rep_statements(holdings, steps)
    assert ann["statement"] == (
        "Ann gives up 8 accounts ($120, 30 % of their value) to AE #1 and AE #2 and keeps "
        "12 accounts ($280)."
    )
    assert (ann["gives_accounts"], ann["keeps_accounts"], ann["to"]) == (8, 12, ["AE #1", "AE #2"])
    assert bo["statement"] == (
        "Bo keeps all 14 accounts ($1.50M): no pre-planned cut takes from P 2."
    )
    assert bo["gives_accounts"] == 0 and bo["keeps_value"] == 1.5e6 and bo["to"] == []
    assert ann_q["statement"] == "Ann keeps 1 account ($50): no pre-planned cut takes from Q 1."
    # A plan without steps: everyone keeps everything.
    assert all("keeps" in r["statement"] for r in planning.rep_statements(holdings, []))


def test_runway_is_the_first_month_need_exceeds_the_ramping_team():
    seats = [
        planning.SeatPlan("SMB", "ramped", 30),
        planning.SeatPlan("SMB", "ramped", 30),
        # A planned hire starting in 6 months: new hire 3 months, then ramping 6.
        planning.SeatPlan("SMB", "new_hire", -6),
    ]
    capacity = {"new_hire": 5, "ramping": 10, "ramped": 20, "senior": 5}
    result = planning.runway(
        need_now={"SMB": 2.0},
        seats=seats,
        capacity=capacity,
        growth=0.2,
        new_hire_months=3,
        ramping_months=6,
    )
    (row,) = result["segments"]
    # Team: 2.0 until month 6, 2.25 (new hire) from 6, 2.5 (ramping) from 9, 3.0 from 15.
    # Need: 2 * 1.2^(m/12) > 2.0 at m = 1.
    assert row["months"] == 1 and result["months"] == 1 and not result["meets_goal"]
    slower = planning.runway(
        need_now={"SMB": 1.5},
        seats=seats,
        capacity=capacity,
        growth=0.2,
        new_hire_months=3,
        ramping_months=6,
    )
    # 1.5 * 1.2^(m/12) exceeds 2.0 at m = 19 (2.003) but the hire lifts the team to 2.25 at 6,
    # 2.5 at 9 and 3.0 at 15: need passes 3.0 at m = 46.
    assert slower["segments"][0]["months"] == 46 and slower["meets_goal"]
    assert (
        planning.runway(
            need_now={"SMB": 0.5},
            seats=seats,
            capacity=capacity,
            growth=0.0,
            new_hire_months=3,
            ramping_months=6,
        )["months"]
        is None
    )


def test_a_rep_never_falls_behind_the_state_recorded_today():
    seat = planning.SeatPlan("SMB", "ramped", 0.5)
    assert planning.state_at(seat, 0, new_hire_months=3, ramping_months=6) == "ramped"
    fresh = planning.SeatPlan("SMB", "new_hire", 1)
    assert planning.state_at(fresh, 0, new_hire_months=3, ramping_months=6) == "new_hire"
    assert planning.state_at(fresh, 2, new_hire_months=3, ramping_months=6) == "ramping"
    assert planning.state_at(fresh, 8, new_hire_months=3, ramping_months=6) == "ramped"
    assert (
        planning.state_at(
            planning.SeatPlan("SMB", "new_hire", -2), 1, new_hire_months=3, ramping_months=6
        )
        is None
    )


TERRITORIES = [
    {
        "pod": "smb",
        "pod_label": "SMB",
        "label": "SMB 1",
        "rep": "Ann",
        "value": 130.0,
        "value_by_segment": {"SMB": 130.0},
        "tiers": {"T1": 1},
    },
    {
        "pod": "smb",
        "pod_label": "SMB",
        "label": "SMB 2",
        "rep": "Bo",
        "value": 100.0,
        "value_by_segment": {"SMB": 100.0},
        "tiers": {"T1": 2},
    },
    {
        "pod": "smb",
        "pod_label": "SMB",
        "label": "SMB 3",
        "rep": "",
        "value": 70.0,
        "value_by_segment": {"SMB": 60.0, "Mid": 10.0},
        "tiers": {},
    },
    {
        "pod": "ent",
        "pod_label": "Ent",
        "label": "Ent 1",
        "rep": "Dana",
        "value": 500.0,
        "value_by_segment": {"Ent": 500.0},
        "tiers": {},
    },
]


def test_quota_is_the_share_of_value_times_the_conversion_rate():
    result = planning.equity(
        TERRITORIES, rates={"SMB": 0.4, "Mid": 0.25, "Ent": 0.15}, quota_share=0.75
    )
    rows = {r["label"]: r for r in result["territories"]}
    assert rows["SMB 1"]["realistic"] == pytest.approx(52.0) and rows["SMB 1"][
        "quota"
    ] == pytest.approx(39.0)
    assert rows["SMB 3"]["realistic"] == pytest.approx(60 * 0.4 + 10 * 0.25)
    assert rows["Ent 1"]["quota"] == pytest.approx(0.75 * 75.0)


def test_equity_flags_territories_beyond_twenty_percent_and_the_pod_range():
    result = planning.equity(TERRITORIES, rates={}, quota_share=0.75)
    rows = {r["label"]: r for r in result["territories"]}
    # SMB mean 100: SMB 1 at +30 %, SMB 3 at -30 % need rebalancing; SMB 2 does not.
    assert rows["SMB 1"]["variance_pct"] == 30.0 and rows["SMB 1"]["rebalance"]
    assert not rows["SMB 2"]["rebalance"]
    smb = next(p for p in result["pods"] if p["pod"] == "smb")
    assert smb["range_pct"] == pytest.approx(85.7) and smb["rebalance"]
    assert smb["highest"]["label"] == "SMB 1" and smb["lowest"]["label"] == "SMB 3"
    ent = next(p for p in result["pods"] if p["pod"] == "ent")
    assert not ent["rebalance"] and result["rebalance"]


def test_the_quota_range_is_measured_on_quota_not_potential_in_a_mixed_segment_pod():
    # Two territories of equal potential, one all Enterprise (converts at 15 %), one all SMB
    # (40 %): the potential range is 0 %, but the quotas differ by 40/15 - 1 = 166.7 %.
    mixed = [
        {"pod": "mix", "pod_label": "Mixed", "label": "Mixed 1", "rep": "Ann", "value": 100.0,
         "value_by_segment": {"Enterprise": 100.0}, "tiers": {}},
        {"pod": "mix", "pod_label": "Mixed", "label": "Mixed 2", "rep": "Bo", "value": 100.0,
         "value_by_segment": {"SMB": 100.0}, "tiers": {}},
        {"pod": "mix", "pod_label": "Mixed", "label": "Mixed 3", "rep": "Cy", "value": 100.0,
         "value_by_segment": {"Enterprise": 50.0, "SMB": 50.0}, "tiers": {}},
    ]  # fmt: skip
    result = planning.equity(mixed, rates={"Enterprise": 0.15, "SMB": 0.40}, quota_share=0.75)
    (pod,) = result["pods"]
    assert pod["range_pct"] == 0.0
    assert pod["quota_low"] == pytest.approx(0.75 * 15.0)
    assert pod["quota_high"] == pytest.approx(0.75 * 40.0)
    assert pod["quota_range_pct"] == pytest.approx(166.7)
    # The rebalancing rule stays on potential: equal potential needs no rebalancing.
    assert not pod["rebalance"]
    # No quota in the lowest territory (no conversion rate): the range has no finite value.
    none = planning.equity(mixed, rates={"SMB": 0.40}, quota_share=0.75)["pods"][0]
    assert none["quota_range_pct"] is None and none["range_pct"] == 0.0


def test_drift_compares_current_routing_with_the_approval():
    approved = [
        {
            "key": "a",
            "label": "A",
            "pod": "p",
            "pod_label": "P",
            "rep": "Ann",
            "count": 10,
            "value": 100.0,
        },
        {
            "key": "b",
            "label": "B",
            "pod": "p",
            "pod_label": "P",
            "rep": "Bo",
            "count": 10,
            "value": 100.0,
        },
    ]
    result = planning.drift(approved, {"a": (12, 150.0), "b": (9, 70.0)})
    rows = {r["key"]: r for r in result["territories"]}
    assert rows["a"]["value_variance_pct"] == 50.0 and rows["a"]["count_change"] == 2
    assert rows["b"]["value_variance_pct"] == -30.0
    (pod,) = result["pods"]
    assert pod["max_min_ratio"] == pytest.approx(150 / 70, abs=1e-3)
    assert pod["two_x"] and pod["over_20"]
    calm = planning.drift(approved, {"a": (10, 100.0), "b": (10, 100.0)})["pods"][0]
    assert not calm["two_x"] and not calm["over_20"] and calm["max_min_ratio"] == 1.0


def test_the_pyramid_shows_every_cut_and_pod_and_escapes_text():
    spec = HierarchySpec(
        cuts=("named_accounts", "segment", "state"),
        segment_basis="annual_revenue",
        bands=(SegmentBand("Enterprise", 1e9, True), SegmentBand("Commercial")),
        pods=(
            PodSpec("ent", "Enterprise <VIP>", segments=("Enterprise",), atom="account"),
            PodSpec(
                "com",
                "Commercial",
                segments=("Commercial",),
                seats=4,
                granularity_by_state={"CA": "county"},
            ),
        ),
    )
    svg = hierarchy_diagram_svg(spec, pod_stats={"com": (1234, 5.6e6)}, named=7)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "Enterprise &lt;VIP&gt;" in svg and "<VIP>" not in svg
    assert "Named accounts: 7 to their owners first" in svg
    assert "California by county" in svg
    assert "1,234 accounts · $5.60M" in svg
    assert "4 seats · geographic units" in svg


def test_the_value_chart_draws_a_bar_per_territory_on_one_scale_with_each_pods_band():
    import xml.etree.ElementTree as ET

    from territories.diagrams import territory_value_bars_svg

    svg = territory_value_bars_svg(
        [
            ("Mid-Market", [("MM 1", 100.0, "#1f77b4"), ("MM <2>", 300.0, "#ff7f0e")]),
            ("Empty pod", []),
            ("SMB", [("SMB 1", 50.0, "#2ca02c")]),
        ],
        tolerance=0.1,
        width=700,
    )
    root = ET.fromstring(svg)  # well-formed, the label escaped
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "Mid-Market · pod mean $200" in texts and "SMB · pod mean $50" in texts
    assert "MM <2>" in texts and "Empty pod · pod mean" not in " ".join(texts)
    bars = {
        g.find(f"{ns}title").text.split(":")[0]: float(g.find(f"{ns}rect").get("width"))
        for g in root.iter(f"{ns}g")
    }
    # One scale: the largest value (300) spans the plot, 700 - 170 label - 70 value = 460 px.
    assert bars == {
        "MM 1": pytest.approx(460 / 3, abs=0.1),
        "MM <2>": 460.0,
        "SMB 1": pytest.approx(460 / 6, abs=0.1),
    }
    # Mid-Market's band is its mean ±10 % (180 to 220 of 300); the dashed mean line at 200.
    band = [r for r in root.iter(f"{ns}rect") if r.get("fill") == "#e4f1e4"][0]
    assert float(band.get("x")) == pytest.approx(170 + 460 * 180 / 300, abs=0.1)
    assert float(band.get("width")) == pytest.approx(460 * 40 / 300, abs=0.1)
    mean_line = next(root.iter(f"{ns}line"))
    assert float(mean_line.get("x1")) == pytest.approx(170 + 460 * 200 / 300, abs=0.1)
