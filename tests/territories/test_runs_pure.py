"""territories.runs (pure): from accounts to per-pod engine problems, and the run's figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from territories import geo, runs
from territories.balancing import metrics_for
from territories.hierarchy import HierarchySpec, PodSpec, SegmentBand

BANDS = (SegmentBand("Enterprise", 1e9, True), SegmentBand("Commercial"))


def spec(*pods):
    return HierarchySpec(
        cuts=("named_accounts", "segment", "state"),
        segment_basis="annual_revenue",
        bands=BANDS,
        pods=pods,
    )


def frame(rows):
    columns = {
        "id": 0,
        "external_id": "",
        "name": "",
        "domain": "",
        "industry": "",
        "employees": None,
        "annual_revenue": 1e6,
        "state": "",
        "city": "",
        "postal_code": "",
        "current_owner": "",
        "named_account_owner": "",
        "segment": "Commercial",
        "tier": "T2",
        "value": 100.0,
    }
    data = []
    for i, row in enumerate(rows, start=1):
        data.append({**columns, "id": i, "external_id": f"A{i}", "name": f"Account {i}", **row})
    return pd.DataFrame(data)


ENT = PodSpec(
    "ent", "Enterprise", segments=("Enterprise",), seats=2, atom="account", reps=("Dana", "Eve")
)
COM = PodSpec("com", "Commercial", segments=("Commercial",), seats=2, reps=("Ann", "Bo"))


def test_accounts_become_unit_atoms_with_their_totals_and_the_pod_covers_every_state():
    f = frame(
        [
            {"state": "CA", "postal_code": "94105", "value": 10.0, "current_owner": "Ann"},
            {"state": "CA", "postal_code": "90001", "value": 30.0, "current_owner": "Bo"},
            {
                "state": "NY",
                "postal_code": "10001",
                "value": 5.0,
                "current_owner": "Bo",
                "tier": "T1",
            },
            {"annual_revenue": 2e9, "state": "TX", "value": 500.0, "segment": "Enterprise"},
            {
                "annual_revenue": 3e9,
                "state": "TX",
                "value": 700.0,
                "segment": "Enterprise",
                "current_owner": "Eve",
            },
        ]
    )
    inputs = runs.build_inputs(spec(ENT, COM), f, segments=["Enterprise", "Commercial"])
    ent, com = inputs.pods
    assert list(ent.atom) == ["A4", "A5"] and list(ent.kind) == ["account", "account"]
    assert list(ent.owner) == [-1, 1]
    # Every state of the pod is a unit, with or without accounts (new accounts must route).
    assert set(com.atom) == set(geo.STATES)
    ca = list(com.atom).index("CA")
    assert com.count[ca] == 2 and com.value[ca] == 40.0 and com.top[ca] == 30.0
    # The unit's owner is the pod rep holding most of its value: Bo (30) over Ann (10).
    assert com.owner[ca] == 1
    assert com.count.sum() == 3 and com.value.sum() == 45.0
    ny = list(com.atom).index("NY")
    tier_t1 = com.extra_names.index("tier:T1")
    assert com.extras[ny, tier_t1] == 1
    assert com.edges is not None and len(com.edges) > 50
    assert inputs.unassigned["accounts"] == 0 and inputs.accounts == 5


def test_a_split_state_is_cut_into_every_county():
    pod = PodSpec(
        "com",
        "Commercial",
        segments=("Commercial",),
        seats=2,
        granularity_by_state={"CA": "county"},
    )
    f = frame([{"state": "CA", "postal_code": "94105"}, {"state": "CA", "postal_code": "90001"}])
    (com,) = runs.build_inputs(spec(pod), f).pods
    atoms = set(com.atom)
    assert "CA" not in atoms
    assert set(geo.state_units("CA", "county")) <= atoms
    assert com.value[list(com.atom).index("CA:C06075")] == 100.0  # San Francisco


def test_named_accounts_leave_their_pod_and_go_locked_to_their_owner():
    f = frame(
        [
            {"state": "CA", "postal_code": "94105", "named_account_owner": "Eve"},
            {"state": "CA", "postal_code": "94105", "domain": "acme.com"},
            {"state": "CA", "postal_code": "94105", "external_id": "X9"},
            {"state": "NY", "postal_code": "10001", "named_account_owner": "Nobody"},
            {"annual_revenue": 2e9, "segment": "Enterprise"},
            {"annual_revenue": 2e9, "segment": "Enterprise"},
        ]
    )
    rules = [{"match": "ACME.com", "owner": "Ann"}, {"match": "X9", "owner": "Dana"}]
    inputs = runs.build_inputs(spec(ENT, COM), f, named_rules=rules)
    ent, com = inputs.pods
    named_ent = ent.kind == "named"
    assert sorted(ent.atom[named_ent]) == ["A1", "X9"]
    assert ent.locked[named_ent].all()
    assert dict(zip(ent.atom[named_ent], ent.owner[named_ent], strict=True)) == {"A1": 1, "X9": 0}
    assert list(com.atom[com.kind == "named"]) == ["A2"] and com.owner[com.kind == "named"][0] == 0
    # The named accounts are no longer counted in their geographic unit.
    assert com.count[list(com.atom).index("CA")] == 0
    assert inputs.named_unplaced == (("A4", "Nobody"),)
    assert {n[0] for n in inputs.named} == {"A1", "A2", "X9", "A4"}


def test_accounts_no_pod_takes_are_reported():
    f = frame([{"state": "CA", "annual_revenue": 2e9, "segment": "Enterprise", "value": 7.0}])
    f = pd.concat([f, frame([{"state": "NY", "postal_code": "10001"}] * 2)], ignore_index=True)
    inputs = runs.build_inputs(spec(COM), f)
    assert inputs.unassigned["accounts"] == 1 and inputs.unassigned["value"] == 7.0


def test_a_pod_with_more_seats_than_atoms_is_refused_by_name():
    f = frame([{"annual_revenue": 2e9, "segment": "Enterprise"}])
    with pytest.raises(runs.RunInputError, match="Pod “Enterprise”: 2 seats but only 1 accounts"):
        runs.build_inputs(spec(ENT), f)


def test_a_pod_is_balanced_and_its_arrays_round_trip():
    rng = np.random.default_rng(1)
    f = frame(
        [
            {"annual_revenue": 2e9, "segment": "Enterprise", "value": float(v)}
            for v in rng.integers(10, 100, 40)
        ]
    )
    (ent,) = runs.build_inputs(spec(ENT), f).pods
    result = runs.balance_pod(
        ent, tolerance=0.1, max_share=None, seed=0, continuity=False, contiguous=False
    )
    assert result.metrics.within_tolerance
    arrays = runs.pod_arrays(ent, result)
    back = runs.PodArrays.unpack(arrays.pack())
    np.testing.assert_array_equal(back.assignment, result.assignment)
    np.testing.assert_array_equal(back.measures, ent.measures)
    bounds = runs.bounds_from_json(runs.bounds_to_json(result.bounds))
    again = metrics_for(back.problem(2), back.assignment, tolerance=0.1, bounds=bounds)
    assert again.as_dict() == result.metrics.as_dict()
    rows = runs.territory_figures(back, again, ent.extra_names, 2)
    assert sum(r["count"] for r in rows) == 40
    assert sum(r["value"] for r in rows) == pytest.approx(ent.value.sum())


def _fake_results(monkeypatch, devs):
    """Make every engine try return the next deviation of ``devs``; record the tries."""
    from types import SimpleNamespace

    tried = []

    def fake(atoms, *, mode, contiguous, **kwargs):
        dev = devs[len(tried)]
        tried.append((mode, contiguous))
        measure = SimpleNamespace(max_dev_pct=dev)
        metrics = SimpleNamespace(within_tolerance=dev <= 10, measures=(measure,))
        return runs.PodResult(np.zeros(1), metrics, None, None, mode, (), 1.0)

    monkeypatch.setattr(runs, "_balance_pod_mode", fake)
    return tried


@pytest.fixture
def unit_pod():
    f = frame(
        [
            {"state": "CA", "postal_code": "94105", "current_owner": "Ann"},
            {"state": "NY", "postal_code": "10001", "current_owner": "Bo"},
        ]
    )
    return runs.build_inputs(spec(COM), f).pods[0]


def test_continuity_inside_the_band_is_kept(monkeypatch, unit_pod):
    tried = _fake_results(monkeypatch, [8.0])
    result = runs.balance_pod(
        unit_pod, tolerance=0.1, max_share=None, seed=0, continuity=True, contiguous=True
    )
    assert tried == [("continuity", True)] and result.method == "continuity"


def test_balance_comes_before_continuity_and_contiguity(monkeypatch, unit_pod):
    # Continuity and a contiguous run from scratch miss the band; continuity without
    # contiguity reaches it and is kept, with notes saying what was tried.
    tried = _fake_results(monkeypatch, [30.0, 18.0, 9.0, 5.0])
    result = runs.balance_pod(
        unit_pod, tolerance=0.1, max_share=None, seed=0, continuity=True, contiguous=True
    )
    assert tried == [("continuity", True), ("greenfield", True), ("continuity", False)]
    assert result.method == "continuity"
    assert any("±30.0 %" in n for n in result.notes)
    assert any("not all in one piece" in n for n in result.notes)


def test_a_seat_that_owns_nothing_is_not_grown_by_contiguous_continuity(monkeypatch):
    f = frame([{"state": "CA", "postal_code": "94105", "current_owner": "Ann"}] * 2)
    pod = runs.build_inputs(spec(COM), f).pods[0]
    tried = _fake_results(monkeypatch, [8.0])
    result = runs.balance_pod(
        pod, tolerance=0.1, max_share=None, seed=0, continuity=True, contiguous=True
    )
    assert tried == [("greenfield", True)]
    assert "1 territory owns no account yet" in result.notes[-1]


def test_when_nothing_reaches_the_band_the_best_balanced_try_wins(monkeypatch, unit_pod):
    tried = _fake_results(monkeypatch, [30.0, 12.0, 25.0, 14.0])
    result = runs.balance_pod(
        unit_pod, tolerance=0.1, max_share=None, seed=0, continuity=True, contiguous=True
    )
    assert len(tried) == 4
    assert result.method == "greenfield" and result.metrics.measures[0].max_dev_pct == 12.0


def test_flags_follow_the_seeds_thresholds():
    row = {"count_dev_pct": 12.0, "value_dev_pct": -25.0, "largest_account_pct": 60.0}
    flags = {f.code: f.level for f in runs.territory_flags(row, tolerance=0.10, max_share=0.25)}
    assert flags == {"count_band": "warn", "value_rebalance": "bad", "concentration": "bad"}
    quiet = {"count_dev_pct": 9.9, "value_dev_pct": -10.0, "largest_account_pct": 25.0}
    assert runs.territory_flags(quiet, tolerance=0.10, max_share=0.25) == []
    assert [f.code for f in runs.pod_flags([{"value": 200}, {"value": 100}])] == ["ratio"]
    assert runs.pod_flags([{"value": 199}, {"value": 100}]) == []
    assert (
        runs.pod_flags([{"value": 10}, {"value": 0}])[0].text == "a territory has no value at all"
    )


def test_pods_share_a_map_only_where_their_states_do_not_overlap():
    layers = runs.map_layers(
        [
            ("west", "W", ["CA", "OR"]),
            ("east", "E", ["NY"]),
            ("smb", "S", ["CA", "NY"]),
            ("x", "X", ["TX"]),
        ]
    )
    assert layers == [["west", "east", "x"], ["smb"]]


def test_the_assignment_digest_ignores_order_and_sees_any_change():
    a = [("p", "CA", "p-01"), ("p", "NY", "p-02")]
    assert runs.assignment_sha256(a) == runs.assignment_sha256(list(reversed(a)))
    assert runs.assignment_sha256(a) != runs.assignment_sha256(
        [("p", "CA", "p-02"), ("p", "NY", "p-02")]
    )
    assert runs.digest_list(["a", "b", "c"], 2) == "a, b and 1 more"


def test_vacant_seats_are_cut_out_of_the_owned_ones_keeping_owners_elsewhere():
    rng = np.random.default_rng(4)
    owners = ["Ann", "Bo"]
    pod = PodSpec(
        "smb", "SMB", segments=("Commercial",), seats=4, atom="account", reps=("Ann", "Bo")
    )
    f = frame(
        [
            {"value": float(v), "current_owner": owners[i % 2]}
            for i, v in enumerate(rng.integers(10, 50, 400))
        ]
    )
    (atoms,) = runs.build_inputs(spec(pod), f).pods
    result = runs.balance_pod(
        atoms, tolerance=0.1, max_share=None, seed=0, continuity=True, contiguous=False
    )
    assert result.metrics.within_tolerance
    assert "pre-planned cuts for 2 vacant seats" in result.method
    # Everything that moved went to a vacant seat: Ann and Bo keep the rest of their accounts.
    moved = result.assignment != atoms.owner
    assert set(result.assignment[moved].tolist()) <= {2, 3}
    assert np.bincount(result.assignment, minlength=4).min() >= 90
