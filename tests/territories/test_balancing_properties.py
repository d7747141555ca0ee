"""Invariants of the engine on random problems (hypothesis): every atom once, locks kept, seeds
reproduce, contiguity when asked, metrics agree with an independent recomputation, and no run
ever beats a lower bound."""

from __future__ import annotations

from collections import deque

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territories.balancing import Problem, balance, delaunay_edges, metrics_for, problem_bounds

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@st.composite
def problems(draw, geo: bool = False, owners: bool = False):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_seg = draw(st.integers(1, 2)) if not geo else 1
    seats, sizes = [], []
    for _ in range(n_seg):
        k = draw(st.integers(1, 5))
        seats.append(k)
        sizes.append(draw(st.integers(k, 60)))
    n = sum(sizes)
    d = draw(st.integers(1, 3))
    cols = [np.ones(n)] if draw(st.booleans()) else []
    while len(cols) < d:
        kind = draw(st.sampled_from(["lognormal", "uniform", "integer", "zeros"]))
        if kind == "lognormal":
            cols.append(rng.lognormal(0, 1.5, n))
        elif kind == "uniform":
            cols.append(rng.uniform(0, 100, n))
        elif kind == "integer":
            cols.append(rng.integers(0, 20, n).astype(float))
        else:
            cols.append(np.where(rng.random(n) < 0.5, 0.0, 1.0))
    segment = np.repeat(np.arange(n_seg), sizes) if n_seg > 1 else None
    offsets = np.r_[0, np.cumsum(seats)]
    seg_of = np.repeat(np.arange(n_seg), sizes)
    owner = locked = None
    if owners:
        owner = np.array([offsets[s] + rng.integers(0, seats[s]) for s in seg_of])
        locked = rng.random(n) < 0.1
    coords = rng.uniform(0, 100, (n, 2)) if geo else None
    return Problem(
        np.stack(cols, axis=1),
        tuple(f"m{j}" for j in range(len(cols))),
        sum(seats),
        coords=coords,
        owner=owner,
        locked=locked,
        segment=segment,
        seats=tuple(seats),
    )


def check_partition(p: Problem, a: np.ndarray) -> None:
    assert a.shape == (p.n,)
    assert a.dtype.kind == "i"
    assert a.min() >= 0 and a.max() < p.territories
    # Every atom in a territory of its own segment.
    assert np.array_equal(p.territory_segment[a], p.atom_segment)


def independent_metrics(p: Problem, a: np.ndarray):
    """(max deviation %, spread %, cv %) per measure, worst over segments, by plain loops."""
    out = []
    for j in range(p.d):
        worst = [0.0, 0.0, 0.0]
        for s, k in enumerate(p.seats):
            terrs = [t for t in range(p.territories) if p.territory_segment[t] == s]
            loads = dict.fromkeys(terrs, 0.0)
            for i in range(p.n):
                if p.atom_segment[i] == s:
                    loads[a[i]] += p.measures[i, j]
            mean = sum(loads.values()) / k
            if mean > 0:
                xs = list(loads.values())
                dev = max(abs(x - mean) for x in xs) / mean
                spread = (max(xs) - min(xs)) / mean
                cv = (sum((x - mean) ** 2 for x in xs) / k) ** 0.5 / mean
                worst = [max(worst[0], dev), max(worst[1], spread), max(worst[2], cv)]
        out.append([100 * x for x in worst])
    return out


@SETTINGS
@given(problems())
def test_greenfield_assigns_every_atom_once_and_metrics_agree(p):
    r = balance(p, seed=1, time_limit=0.5)
    check_partition(p, r.assignment)
    for m, (dev, spread, cv) in zip(
        r.metrics.measures, independent_metrics(p, r.assignment), strict=True
    ):
        assert abs(m.max_dev_pct - dev) < 1e-7
        assert abs(m.spread_pct - spread) < 1e-7
        assert abs(m.cv_pct - cv) < 1e-7
        # No assignment beats its bound.
        assert m.max_dev_pct >= m.lower_bound_max_dev_pct - 1e-7
    assert r.metrics.territory.atoms.sum() == p.n


@SETTINGS
@given(problems())
def test_unit_counts_are_exact_in_greenfield(p):
    unit = [j for j in range(p.d) if p.unit_count[j]]
    r = balance(p, seed=0, time_limit=0.5)
    if unit:
        for s, k in enumerate(p.seats):
            size = int(np.sum(p.atom_segment == s))
            counts = r.metrics.territory.atoms[p.territory_segment == s]
            assert set(counts) <= {size // k, -(-size // k)}


@SETTINGS
@given(problems(), st.integers(0, 5))
def test_same_seed_reproduces(p, seed):
    a = balance(p, seed=seed).assignment
    b = balance(p, seed=seed).assignment
    assert np.array_equal(a, b)


@SETTINGS
@given(problems(owners=True))
def test_locked_atoms_never_move(p):
    for mode in ("greenfield", "continuity"):
        r = balance(p, mode=mode, seed=0, time_limit=0.5)
        check_partition(p, r.assignment)
        assert np.array_equal(r.assignment[p.locked], p.owner[p.locked])


@SETTINGS
@given(problems(owners=True))
def test_continuity_never_beats_the_moves_bound(p):
    r = balance(p, mode="continuity", tolerance=0.2, seed=0, time_limit=0.5)
    m = r.metrics
    moved = int(np.sum(r.assignment != p.owner))
    assert m.moved_atoms == moved
    if m.within_tolerance and r.bounds.moves_lb_feasible:
        assert moved >= m.moves_lower_bound


@SETTINGS
@given(problems(geo=True))
def test_contiguous_territories_are_one_piece(p):
    r = balance(p, contiguous=True, tolerance=0.1, seed=0, time_limit=0.5)
    check_partition(p, r.assignment)
    edges = r.problem.edges
    nbrs = [[] for _ in range(p.n)]
    for i, j in edges:
        nbrs[i].append(j)
        nbrs[j].append(i)
    for t in range(p.territories):
        members = set(np.flatnonzero(r.assignment == t).tolist())
        assert members, "empty territory"
        start = next(iter(members))
        seen = {start}
        queue = deque([start])
        while queue:
            v = queue.popleft()
            for w in nbrs[v]:
                if w in members and w not in seen:
                    seen.add(w)
                    queue.append(w)
        assert seen == members, f"territory {t} is in pieces"
    assert r.metrics.contiguous_territories == p.territories


@SETTINGS
@given(problems())
def test_random_assignments_never_beat_the_bounds(p):
    rng = np.random.default_rng(0)
    offsets = p.segment_offsets
    a = offsets[p.atom_segment] + rng.integers(0, np.asarray(p.seats)[p.atom_segment])
    bounds = problem_bounds(p, tolerance=0.1, exact_counts=False)
    m = metrics_for(p, a, bounds=bounds)
    for x in m.measures:
        assert x.max_dev_pct >= x.lower_bound_max_dev_pct - 1e-7


def test_delaunay_adjacency_is_connected_and_symmetric_free():
    pts = np.random.default_rng(1).uniform(0, 1, (200, 2))
    e = delaunay_edges(pts)
    assert (e[:, 0] < e[:, 1]).all()
    assert len(np.unique(e, axis=0)) == len(e)
    # Planar triangulation: at most 3n - 6 edges; every point has a neighbour.
    assert len(e) <= 3 * 200 - 6
    assert set(np.unique(e)) == set(range(200))
