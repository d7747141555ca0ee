"""The engine on small, hand-checkable instances: greenfield, whales, cap, locks, segments,
continuity, growth cuts, and the exact optimum of tiny instances against scipy's MILP."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.spatial import Delaunay

from territories.balancing import (
    BalancingError,
    Problem,
    balance,
    greenfield,
    growth_cut,
    metrics_for,
)


def count_value(values, k, **kw) -> Problem:
    values = np.asarray(values, dtype=float)
    return Problem(np.stack([np.ones(values.size), values], axis=1), ("count", "value"), k, **kw)


def lognormal_problem(n, k, seed=0, **kw) -> Problem:
    return count_value(np.random.default_rng(seed).lognormal(0, 1.5, n), k, **kw)


def reference_milp(w, k, *, exact_counts, cap=None, value_col=None):
    """The optimum by ``scipy.optimize.milp``, written here independently of the engine.

    Minimises ``z`` with ``|load[t, j] - mean[j]| <= z * mean[j]`` for every territory ``t`` and
    balanced measure ``j`` (with exact counts a unit-count column is a constraint instead:
    ``floor(n/k)`` or ``ceil(n/k)`` atoms each), and with a cap
    ``w[i, value_col] <= cap * value[t]`` for every atom ``i`` of ``t``.
    Returns ``(assignment, z, balanced columns)``.
    """
    n, d = w.shape
    unit = [bool(np.all(w[:, j] == 1)) for j in range(d)]
    cols = [j for j in range(d) if not (exact_counts and unit[j])]
    nv = n * k + 1
    rows, lo, hi = [], [], []

    def row(cells, values, low, high):
        r = np.zeros(nv)
        r[cells] = values
        rows.append(r)
        lo.append(low)
        hi.append(high)

    for i in range(n):  # each atom once
        row(slice(i * k, (i + 1) * k), 1, 1, 1)
    q = n // k
    for t in range(k):
        cells = slice(t, n * k, k)
        if exact_counts:
            row(cells, 1, q, q if n % k == 0 else q + 1)
        for j in cols:
            mean = w[:, j].sum() / k
            for sign in (1, -1):  # sign * (load - mean) <= z * mean
                r = np.zeros(nv)
                r[cells] = sign * w[:, j]
                r[-1] = -mean
                rows.append(r)
                lo.append(-np.inf)
                hi.append(sign * mean)
        if cap is not None:
            v = w[:, value_col]
            for i in range(n):  # v_i x_it <= cap * sum_l v_l x_lt
                r = np.zeros(nv)
                r[cells] = -cap * v
                r[i * k + t] += v[i]
                rows.append(r)
                lo.append(-np.inf)
                hi.append(0.0)
    c = np.zeros(nv)
    c[-1] = 1
    res = milp(
        c,
        integrality=np.r_[np.ones(n * k), 0],
        bounds=Bounds(np.zeros(nv), np.r_[np.ones(n * k), np.inf]),
        constraints=LinearConstraint(np.array(rows), lo, hi),
        options={"mip_rel_gap": 0},
    )
    assert res.status == 0, res.message
    return res.x[: n * k].reshape(n, k).argmax(axis=1), float(res.x[-1]), cols


def worst_deviation(w, assignment, k, cols) -> float:
    """Worst ``|load - mean| / mean`` over territories and the given measure columns."""
    worst = 0.0
    for j in cols:
        load = np.bincount(assignment, weights=w[:, j], minlength=k)
        mean = w[:, j].sum() / k
        worst = max(worst, float(np.abs(load - mean).max() / mean))
    return worst


def assert_reaches_the_optimum(w, result, k, *, exact_counts, cap=None, value_col=None):
    reference, z, cols = reference_milp(
        w, k, exact_counts=exact_counts, cap=cap, value_col=value_col
    )
    # The reference's own assignment, recomputed: HiGHS's z may sit up to its feasibility
    # tolerance (~1e-6) below the assignment's true deviation.
    optimum = worst_deviation(w, reference, k, cols)
    dev = worst_deviation(w, result.assignment, k, cols)
    assert dev <= optimum + 1e-9, (
        f"{result.method}: {100 * dev:.4f} % vs optimum {100 * optimum:.4f} %"
    )
    assert dev >= z - 1e-6  # nothing beats a proven optimum: the reference is sound


def tiny_count_value(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 13))
    return np.stack([np.ones(n), np.round(rng.lognormal(0, 1.2, n) * 100, 2)], axis=1)


@pytest.mark.parametrize("seed", range(6))
def test_engine_matches_the_milp_optimum_on_tiny_instances(seed):
    w = tiny_count_value(seed)
    result = balance(Problem(w, ("count", "value"), 3), seed=seed)
    assert result.method == "exact MILP"  # tiny instances take the exact path (EXACT_CELLS)
    assert_reaches_the_optimum(w, result, 3, exact_counts=True)
    assert result.optimal


@pytest.fixture
def heuristic_only(monkeypatch):
    """Force the greenfield heuristic: no instance is small enough for the exact solver."""
    monkeypatch.setattr(greenfield, "EXACT_CELLS", 0)


@pytest.mark.parametrize("seed", range(12))
def test_the_heuristic_alone_reaches_the_milp_optimum_on_tiny_instances(seed, heuristic_only):
    w = tiny_count_value(seed)
    result = balance(Problem(w, ("count", "value"), 3), seed=seed)
    assert result.method.startswith("whales + deal + exchanges")
    assert_reaches_the_optimum(w, result, 3, exact_counts=True)
    assert set(result.metrics.territory.atoms) <= {w.shape[0] // 3, -(-w.shape[0] // 3)}


@pytest.mark.parametrize("seed", range(12))
def test_the_heuristic_alone_reaches_the_milp_optimum_with_three_measures(seed, heuristic_only):
    # The CTDP recipe's measures, no count column: atoms move freely between territories.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 13))
    w = np.stack([rng.uniform(4, 20, n), rng.uniform(15, 400, n), rng.uniform(15, 100, n)], 1)
    result = balance(Problem(w, ("a", "b", "c"), 3), seed=seed)
    assert result.method.startswith("deal + multi-measure exchanges")
    assert_reaches_the_optimum(w, result, 3, exact_counts=False)


@pytest.mark.parametrize("seed", range(12))
def test_the_heuristic_alone_reaches_the_milp_optimum_under_a_concentration_cap(
    seed, heuristic_only
):
    # One big account needs its territory about 5 % above the mean to stay under the cap (inside
    # the ±10 % band); the others are small enough never to bind.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(9, 13))
    rest = rng.uniform(10, 30, n - 1)
    f = rng.uniform(0.7, 0.9)
    values = np.round(np.r_[f * rest.sum() / (3 - f), rest], 2)
    cap = round(values[0] / (1.05 * values.sum() / 3), 3)
    w = np.stack([np.ones(n), values], axis=1)
    result = balance(Problem(w, ("count", "value"), 3), seed=seed, max_share=cap, tolerance=0.10)
    assert "concentration cap" in result.method and "exact" not in result.method
    assert result.metrics.max_share_pct <= 100 * cap + 1e-9
    assert_reaches_the_optimum(w, result, 3, exact_counts=True, cap=cap, value_col=1)


def test_greenfield_gives_exact_counts_and_balanced_value():
    result = balance(lognormal_problem(20_000, 40))
    counts = result.metrics.territory.atoms
    assert set(counts) == {500}
    value = result.metrics.measure("value")
    assert value.gap_pp < 0.01
    assert result.metrics.within_tolerance


def test_counts_are_floor_or_ceil_when_they_do_not_divide():
    result = balance(lognormal_problem(1003, 10))
    assert set(result.metrics.territory.atoms) == {100, 101}
    assert result.metrics.measure("count").gap_pp == 0


def test_a_whale_gets_the_smallest_atoms_and_the_run_meets_the_bound():
    rng = np.random.default_rng(1)
    values = np.r_[5000.0, rng.uniform(1, 10, 999)]  # one account is ~90 % of a territory mean x 9
    result = balance(count_value(values, 10))
    whale_territory = result.assignment[0]
    mates = np.flatnonzero(result.assignment == whale_territory)
    assert mates.size == 100
    assert set(np.sort(values)[:99]) == set(values[mates[mates != 0]])
    value = result.metrics.measure("value")
    assert value.gap_pp == 0 and result.metrics.optimal


def test_two_whales_closed_with_the_smallest_atoms_still_leave_exact_counts():
    # 23 atoms into 3: 7 or 8 each. Two whales closed with 7 atoms each leave 9 for the third
    # territory unless one of them takes an 8th (it once took all 9).
    values = np.r_[1000.0, 900.0, np.arange(1.0, 22.0)]
    result = balance(count_value(values, 3))
    assert sorted(result.metrics.territory.atoms) == [7, 8, 8]
    assert result.assignment[0] != result.assignment[1]


def test_big_atoms_are_spread_one_per_territory():
    values = np.r_[[400.0] * 5, np.ones(995)]  # five accounts above half a territory mean
    result = balance(count_value(values, 5))
    assert sorted(result.assignment[:5]) == [0, 1, 2, 3, 4]


def test_three_measures_are_balanced_together():
    rng = np.random.default_rng(2)
    w = np.stack(
        [rng.uniform(4, 20, 2000), rng.uniform(15, 400, 2000), rng.uniform(15, 100, 2000)], 1
    )
    result = balance(Problem(w, ("a", "b", "c"), 20), time_limit=20)
    for m in result.metrics.measures:
        assert m.max_dev_pct < 0.1


def test_concentration_cap_raises_the_territory_of_a_big_account():
    # 4 territories with a mean of about 110: the 40 is 36 % of a balanced territory.
    values = np.r_[40.0, np.random.default_rng(0).uniform(0, 2, 399)]
    plain = balance(count_value(values, 4))
    capped = balance(count_value(values, 4), max_share=0.34, tolerance=0.10)
    assert plain.metrics.max_share_pct > 34
    assert capped.metrics.max_share_pct <= 34 + 1e-9
    assert capped.metrics.within_tolerance


def test_an_impossible_cap_reports_the_smallest_feasible_cap():
    values = np.r_[40.0, np.random.default_rng(0).uniform(0, 2, 399)]
    result = balance(count_value(values, 4), max_share=0.10, tolerance=0.10)
    mean = values.sum() / 4
    assert result.metrics.min_feasible_share_pct == pytest.approx(100 * 40 / (1.1 * mean))
    assert result.metrics.max_share_pct >= result.metrics.min_feasible_share_pct - 1e-9
    assert any("feasible" in note for note in result.notes)


def one_big_account(n=400, k=4, seed=0):
    """One account of 40 among small ones: about 36 % of a balanced territory (mean ~110)."""
    rng = np.random.default_rng(seed)
    return np.stack([np.ones(n), np.r_[40.0, rng.uniform(0, 2, n - 1)]], axis=1)


def largest_share(w, assignment, k):
    top = np.zeros(k)
    np.maximum.at(top, assignment, w[:, 1])
    return float((top / np.bincount(assignment, weights=w[:, 1], minlength=k)).max())


def test_continuity_honours_the_concentration_cap():
    w = one_big_account()
    owner = np.random.default_rng(1).integers(0, 4, w.shape[0])
    p = Problem(w, ("count", "value"), 4, owner=owner)
    plain = balance(p, tolerance=0.25)
    capped = balance(p, tolerance=0.25, max_share=0.30)
    assert largest_share(w, plain.assignment, 4) > 0.30  # the cap binds
    assert largest_share(w, capped.assignment, 4) <= 0.30 + 1e-12
    assert capped.metrics.max_share_pct <= 30 + 1e-9
    assert capped.metrics.within_tolerance
    assert "concentration cap" in capped.method and not capped.notes
    assert capped.metrics.moved_atoms == int(np.sum(capped.assignment != owner))


@pytest.mark.parametrize("contiguous", [False, True])
def test_geography_honours_the_concentration_cap(contiguous):
    w = one_big_account()
    pts = np.random.default_rng(2).uniform(0, 100, (w.shape[0], 2))
    p = Problem(w, ("count", "value"), 4, coords=pts)
    plain = balance(p, tolerance=0.20, contiguous=contiguous)
    capped = balance(p, tolerance=0.20, contiguous=contiguous, max_share=0.31)
    assert largest_share(w, plain.assignment, 4) > 0.31
    assert largest_share(w, capped.assignment, 4) <= 0.31 + 1e-12
    assert capped.metrics.within_tolerance
    if contiguous:
        assert territories_in_one_piece(capped.problem.edges, capped.assignment, 4)
    # From those owners (contiguous continuity), the cap holds too.
    again = balance(
        Problem(w, ("count", "value"), 4, coords=pts, owner=plain.assignment),
        tolerance=0.20,
        contiguous=contiguous,
        max_share=0.31,
    )
    assert largest_share(w, again.assignment, 4) <= 0.31 + 1e-12
    assert again.metrics.within_tolerance
    if contiguous:
        assert territories_in_one_piece(again.problem.edges, again.assignment, 4)


def test_a_cap_the_band_cannot_hold_is_reported_in_continuity():
    # 40 / 0.25 = 160, far above the ceiling of a ±10 % band around ~110.
    w = one_big_account()
    owner = np.random.default_rng(1).integers(0, 4, w.shape[0])
    result = balance(Problem(w, ("count", "value"), 4, owner=owner), tolerance=0.10, max_share=0.25)
    assert result.metrics.within_tolerance
    assert result.metrics.max_share_pct > 25
    assert any("more value than the band allows" in note for note in result.notes)
    assert any("not reached" in note for note in result.notes)


def test_locked_atoms_keep_their_owner():
    p = lognormal_problem(500, 5)
    owner = np.full(500, -1)
    owner[:50] = np.arange(50) % 5
    locked = np.zeros(500, dtype=bool)
    locked[:50] = True
    p = lognormal_problem(500, 5, owner=owner, locked=locked)
    result = balance(p, mode="greenfield")
    assert np.array_equal(result.assignment[:50], owner[:50])


def test_segments_are_balanced_into_their_own_seats():
    rng = np.random.default_rng(4)
    seg = np.r_[np.zeros(300, dtype=int), np.ones(700, dtype=int)]
    values = np.r_[rng.lognormal(3, 1, 300), rng.lognormal(0, 1, 700)]
    p = count_value(values, 7, segment=seg, seats=(2, 5), segment_names=("ENT", "SMB"))
    result = balance(p)
    assert set(result.assignment[seg == 0]) == {0, 1}
    assert set(result.assignment[seg == 1]) == {2, 3, 4, 5, 6}
    assert len(result.metrics.per_segment) == 2
    assert set(result.metrics.territory.atoms[:2]) == {150}
    assert set(result.metrics.territory.atoms[2:]) == {140}


def test_same_seed_same_assignment():
    p = Problem(np.random.default_rng(5).uniform(1, 9, (600, 3)), ("a", "b", "c"), 6)
    a = balance(p, seed=3, time_limit=2).assignment
    b = balance(p, seed=3, time_limit=2).assignment
    assert np.array_equal(a, b)


def test_continuity_reaches_the_tolerance_near_the_fewest_moves():
    rng = np.random.default_rng(6)
    n, k = 20_000, 20
    drift = rng.lognormal(0, 0.12, k)
    owner = rng.choice(k, n, p=drift / drift.sum())
    p = lognormal_problem(n, k, seed=6, owner=owner)
    result = balance(p, tolerance=0.05)
    m = result.metrics
    assert m.within_tolerance
    # The bound is a bound; the greedy is within 15 % of it here (about 2 % at 1M atoms, bench/).
    assert m.moves_lower_bound <= m.moved_atoms <= 1.15 * m.moves_lower_bound
    assert m.moved_atoms == int(np.sum(result.assignment != owner))


def test_continuity_moves_nothing_when_already_within_tolerance():
    p = lognormal_problem(2000, 4)
    start = balance(p).assignment
    p2 = lognormal_problem(2000, 4, owner=start)
    result = balance(p2, tolerance=0.10)
    assert result.metrics.moved_atoms == 0
    assert result.metrics.moves_lower_bound == 0


def test_continuity_places_atoms_without_owner_without_counting_moves():
    p = lognormal_problem(2000, 4)
    start = balance(p).assignment.copy()
    start[:100] = -1
    result = balance(lognormal_problem(2000, 4, owner=start))
    assert (result.assignment >= 0).all()
    assert result.metrics.moved_atoms == int(np.sum((start >= 0) & (result.assignment != start)))


def test_growth_cut_adds_territories_balanced_after_every_step():
    p = lognormal_problem(20_000, 20, seed=8)
    start = balance(p).assignment
    result = growth_cut(p, start, add=3, tolerance=0.05)
    assert result.problem.territories == 23
    assert len(result.steps) == 3
    assert all(s.within_tolerance for s in result.steps)
    assert [s.new_territory for s in result.steps] == [20, 21, 22]
    for s in result.steps:
        assert np.all(result.assignment[s.atoms] >= 20)  # they went into new territories
    m = result.metrics
    assert m.within_tolerance
    assert m.moves_lower_bound <= m.moved_atoms <= 1.02 * m.moves_lower_bound
    # Existing territories keep their index and only lose atoms.
    kept = result.assignment < 20
    assert np.array_equal(result.assignment[kept], start[kept])


def test_growth_cut_per_segment_renumbers_blocks():
    seg = np.r_[np.zeros(400, dtype=int), np.ones(600, dtype=int)]
    p = count_value(
        np.random.default_rng(9).lognormal(0, 1, 1000),
        5,
        segment=seg,
        seats=(2, 3),
        segment_names=("A", "B"),
    )
    start = balance(p).assignment
    result = growth_cut(p, start, add={"A": 1}, tolerance=0.10)
    assert result.problem.seats == (3, 3)
    assert set(result.assignment[seg == 1]) == {3, 4, 5}  # B's territories moved up by one
    assert result.steps[0].new_territory == 2
    assert result.problem.label(2) == "NEW-A-1"


def test_metrics_for_a_manual_move_are_cheap_and_consistent():
    p = lognormal_problem(5000, 10)
    result = balance(p)
    a = result.assignment.copy()
    a[0] = (a[0] + 1) % 10
    m = metrics_for(p, a, tolerance=0.10, bounds=result.bounds)
    loads = np.bincount(a, weights=p.measures[:, 1], minlength=10)
    mean = loads.mean()
    assert m.measure("value").max_dev_pct == pytest.approx(100 * np.abs(loads - mean).max() / mean)
    assert m.measure("count").max_dev_pct == pytest.approx(100 * 1 / 500)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"tolerance": 1.5}, "tolerance"),
        ({"max_share": 0}, "max share"),
        ({"mode": "other"}, "mode"),
        ({"mode": "continuity"}, "owners"),
        ({"contiguous": True}, "coordinates"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(BalancingError, match=message):
        balance(lognormal_problem(100, 2), **kwargs)


def test_more_territories_than_atoms_is_refused():
    with pytest.raises(BalancingError, match="territories"):
        lognormal_problem(3, 4)


def test_values_in_whole_cents_converge_without_the_time_limit():
    # Equal exchanges of rounded values once cycled on float noise until the deadline.
    values = np.round(np.random.default_rng(0).lognormal(0, 1.5, 400), 2)
    result = balance(count_value(values, 4), time_limit=30)
    assert result.seconds < 5
    assert not any("time limit" in note for note in result.notes)


def test_progress_is_reported_from_zero_to_one():
    seen = []
    balance(lognormal_problem(1000, 4), progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert all(isinstance(m, str) and m for _, m in seen)


def territories_in_one_piece(edges, assignment, k) -> bool:
    """Every territory one connected piece of ``edges`` (a breadth-first search per territory)."""
    nbrs = [[] for _ in range(assignment.size)]
    for i, j in edges:
        nbrs[i].append(j)
        nbrs[j].append(i)
    for t in range(k):
        members = set(np.flatnonzero(assignment == t).tolist())
        if not members:
            return False
        start = next(iter(members))
        seen, queue = {start}, [start]
        while queue:
            v = queue.pop()
            for x in nbrs[v]:
                if x in members and x not in seen:
                    seen.add(x)
                    queue.append(x)
        if seen != members:
            return False
    return True


def test_continuity_with_geography_brings_a_drifted_map_back_in_one_piece():
    rng = np.random.default_rng(11)
    pts = rng.uniform(0, 100, (600, 2))
    w = np.stack([np.ones(600), rng.uniform(1, 3, 600)], axis=1)
    base = balance(Problem(w, ("count", "value"), 6, coords=pts), contiguous=True, tolerance=0.02)
    start, edges = base.assignment, base.problem.edges
    # Drift: territory 0 hands three layers of its atoms along its border to a neighbour, which
    # grows to about 137 atoms while territory 0 shrinks to about 62 (mean 100).
    neighbour = min(
        int(start[j]) for i, j in np.r_[edges, edges[:, ::-1]] if start[i] == 0 and start[j] != 0
    )
    drifted = start.copy()
    for _ in range(3):
        border = {
            int(i)
            for i, j in np.r_[edges, edges[:, ::-1]]
            if drifted[i] == 0 and drifted[j] == neighbour
        }
        drifted[list(border)] = neighbour
    problem = Problem(w, ("count", "value"), 6, coords=pts, owner=drifted)
    assert not metrics_for(problem, drifted, tolerance=0.05, bounds=base.bounds).within_tolerance

    result = balance(problem, contiguous=True, tolerance=0.05)

    m = result.metrics
    assert m.within_tolerance
    assert m.contiguous_territories == 6
    assert territories_in_one_piece(result.problem.edges, result.assignment, 6)
    assert m.moved_atoms == int(np.sum(result.assignment != drifted))
    # Measured: 49 moves against a bound of 33 (1.48x; it was 68 before moves home came first).
    # Boundary moves only, and the bound ignores geography: it cannot be met in general.
    assert m.moves_lower_bound <= m.moved_atoms <= 1.6 * m.moves_lower_bound


def test_continuity_with_geography_moves_nothing_when_already_within_tolerance():
    rng = np.random.default_rng(11)
    pts = rng.uniform(0, 100, (600, 2))
    w = np.stack([np.ones(600), rng.uniform(1, 3, 600)], axis=1)
    start = balance(
        Problem(w, ("count", "value"), 6, coords=pts), contiguous=True, tolerance=0.02
    ).assignment
    result = balance(
        Problem(w, ("count", "value"), 6, coords=pts, owner=start), contiguous=True, tolerance=0.10
    )
    assert result.metrics.contiguous_territories == 6
    assert result.metrics.moved_atoms == 0


@pytest.mark.parametrize("seed", range(3))
def test_a_ctdp_like_instance_is_contiguous_and_within_tolerance_on_every_measure(seed):
    # The published recipe: points uniform in a 1000 x 1000 square, three measures uniform on
    # [4, 20], [15, 400] and [15, 100], Delaunay adjacency, ±5 %; 300 points into 6 territories.
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1000, (300, 2))
    w = np.stack(
        [rng.uniform(4, 20, 300), rng.uniform(15, 400, 300), rng.uniform(15, 100, 300)], axis=1
    )
    result = balance(Problem(w, ("a", "b", "c"), 6, coords=pts), contiguous=True, tolerance=0.05)
    # Recomputed here, not read from the metrics: every measure of every territory in the band...
    for j in range(3):
        load = np.bincount(result.assignment, weights=w[:, j], minlength=6)
        mean = w[:, j].sum() / 6
        assert np.all(np.abs(load - mean) <= 0.05 * mean), (j, load / mean)
    # ...and every territory one piece of the Delaunay triangulation, built here with scipy.
    tri = Delaunay(pts)
    edges = {
        tuple(sorted((int(s[a]), int(s[b]))))
        for s in tri.simplices
        for a, b in ((0, 1), (1, 2), (0, 2))
    }
    assert territories_in_one_piece(np.array(sorted(edges)), result.assignment, 6)
    assert result.metrics.within_tolerance and result.metrics.contiguous_territories == 6


def test_islands_of_a_given_adjacency_are_bridged_and_territories_stay_in_one_piece():
    # Two separate paths of 6 units (0-5 and 6-11) and 3 territories: one must cross the gap.
    edges = np.array([[i, i + 1] for i in range(5)] + [[i, i + 1] for i in range(6, 11)])
    w = np.stack([np.ones(12), np.ones(12)], axis=1)
    p = Problem(w, ("count", "value"), 3, edges=edges)
    result = balance(p, contiguous=True)
    assert len(result.problem.edges) == len(edges) + 1  # one bridge between the islands
    assert result.metrics.contiguous_territories == 3
    assert set(result.metrics.territory.atoms) == {4}
