"""Metrics of an assignment, recomputed from scratch (cheap: ``O(n d)`` given the bounds).

The portal calls :func:`metrics_for` after every manual move, passing the ``Bounds`` of the run so
that no sort is needed.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from territories.balancing.bounds import problem_bounds
from territories.balancing.model import (
    BalancingError,
    Bounds,
    MeasureMetrics,
    Metrics,
    Problem,
    TerritoryMetrics,
)

# Float slack when comparing deviations with the tolerance or with a bound (fractions of mean).
DEV_EPS = 1e-9


def loads_of(w: np.ndarray, assignment: np.ndarray, k: int) -> np.ndarray:
    """``(k, d)`` sums of ``w`` ``(n, d)`` per territory of ``assignment`` ``(n,)``."""
    return np.stack(
        [np.bincount(assignment, weights=w[:, j], minlength=k) for j in range(w.shape[1])], axis=1
    )


def territory_pieces(edges: np.ndarray, assignment: np.ndarray, k: int) -> np.ndarray:
    """``(k,)`` number of connected pieces of each territory in the adjacency ``edges`` (m, 2).

    An empty territory has 0 pieces. ``O(n + m)``.
    """
    n = assignment.size
    if edges is None or len(edges) == 0:
        comp = np.arange(n)
    else:
        same = assignment[edges[:, 0]] == assignment[edges[:, 1]]
        e = edges[same]
        g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
        comp = connected_components(g, directed=False)[1]
    # Each component lies inside one territory; count distinct components per territory.
    first = np.unique(comp, return_index=True)[1]
    return np.bincount(assignment[first], minlength=k)


def check_assignment(problem: Problem, assignment: np.ndarray) -> np.ndarray:
    """Validate ``assignment``: ``(n,)`` ints in ``0..K-1``, segments respected. Returns int64."""
    a = np.asarray(assignment)
    if a.shape != (problem.n,):
        raise BalancingError("assignment must have one territory per atom")
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= problem.territories:
        raise BalancingError("assignment has a territory index out of range")
    if np.any(problem.territory_segment[a] != problem.atom_segment):
        raise BalancingError("an atom is assigned to a territory of another segment")
    return a


def metrics_for(
    problem: Problem,
    assignment: np.ndarray,
    *,
    tolerance: float = 0.10,
    bounds: Bounds | None = None,
    original: np.ndarray | None = None,
    exact_counts: bool = False,
) -> Metrics:
    """Metrics of ``assignment`` for ``problem``.

    Args:
        assignment: ``(n,)`` territory index per atom.
        tolerance: band half-width as a fraction of the segment mean (0.10 = ±10 %).
        bounds: the run's bounds (re-used; computed here when ``None``, ``O(n log n)``).
        original: ``(n,)`` original owners for moves (defaults to ``problem.owner``).
        exact_counts: compute bounds assuming exact counts (only used when ``bounds`` is None).

    Invariants: per-measure figures are the worst over segments; ``gap_pp`` of a measure is the
    worst segment's ``max_dev − bound``; ``optimal`` iff every gap is 0 (to 1e-9 of the mean).
    """
    a = check_assignment(problem, assignment)
    k = problem.territories
    w = problem.measures
    if original is None:
        original = problem.owner
    if bounds is None:
        bounds = problem_bounds(
            problem, tolerance=tolerance, exact_counts=exact_counts, start=original
        )
    load = loads_of(w, a, k)
    atoms = np.bincount(a, minlength=k)
    tseg = problem.territory_segment
    offs = problem.segment_offsets
    seg_tot = np.zeros((len(problem.seats), problem.d))
    np.add.at(seg_tot, problem.atom_segment, w)
    mean = seg_tot[tseg] / np.asarray(problem.seats, dtype=np.float64)[tseg][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(mean > 0, (load - mean) / mean, 0.0)
    per_seg: list[tuple[MeasureMetrics, ...]] = []
    for s in range(len(problem.seats)):
        block = slice(offs[s], offs[s + 1])
        row = []
        for j, name in enumerate(problem.measure_names):
            lj, mj, dj = load[block, j], mean[offs[s], j], dev[block, j]
            lb = bounds.per_segment[s][j].max_dev_lb
            if mj > 0:
                spread = (lj.max() - lj.min()) / mj
                cv = lj.std() / mj
                mx = float(np.abs(dj).max())
                ratio = lj.max() / lj.min() if lj.min() > 0 else np.inf
            else:
                spread = cv = mx = 0.0
                ratio = 1.0
            row.append(
                MeasureMetrics(
                    name=name,
                    spread_pct=100 * spread,
                    max_dev_pct=100 * mx,
                    cv_pct=100 * cv,
                    lower_bound_max_dev_pct=100 * lb,
                    gap_pp=100 * _gap(mx, lb),
                    max_min_ratio=float(ratio),
                    within_tolerance=bool(mx <= tolerance + DEV_EPS),
                )
            )
        per_seg.append(tuple(row))
    overall = tuple(
        MeasureMetrics(
            name=name,
            spread_pct=max(p[j].spread_pct for p in per_seg),
            max_dev_pct=max(p[j].max_dev_pct for p in per_seg),
            cv_pct=max(p[j].cv_pct for p in per_seg),
            lower_bound_max_dev_pct=max(p[j].lower_bound_max_dev_pct for p in per_seg),
            gap_pp=max(p[j].gap_pp for p in per_seg),
            max_min_ratio=max(p[j].max_min_ratio for p in per_seg),
            within_tolerance=all(p[j].within_tolerance for p in per_seg),
        )
        for j, name in enumerate(problem.measure_names)
    )
    # Concentration: largest atom's share of its territory's value.
    v = w[:, problem.value_measure]
    top = np.zeros(k)
    np.maximum.at(top, a, v)
    lv = load[:, problem.value_measure]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(lv > 0, top / lv, 0.0)
    # Moves relative to the original owners.
    moved_in = np.zeros(k, dtype=np.int64)
    moved_out = np.zeros(k, dtype=np.int64)
    moved_atoms = 0
    moved_value_pct = 0.0
    ratio = None
    if original is not None:
        o = np.asarray(original, dtype=np.int64)
        moved = (o >= 0) & (o != a)
        moved_atoms = int(moved.sum())
        moved_in = np.bincount(a[moved], minlength=k)
        moved_out = np.bincount(o[moved], minlength=k)[:k]
        moved_value_pct = 100 * float(v[moved].sum() / v.sum()) if v.sum() > 0 else 0.0
        if bounds.moves_lb is not None:
            if bounds.moves_lb > 0:
                ratio = moved_atoms / bounds.moves_lb
            else:
                ratio = 1.0 if moved_atoms == 0 else float("inf")
    contiguous = None
    if problem.edges is not None:
        contiguous = int(np.sum(territory_pieces(problem.edges, a, k) == 1))
    return Metrics(
        atoms=problem.n,
        territories=k,
        tolerance=tolerance,
        measures=overall,
        per_segment=tuple(per_seg),
        max_share_pct=100 * float(share.max()),
        min_feasible_share_pct=100 * bounds.min_feasible_share,
        moved_atoms=moved_atoms,
        moved_value_pct=moved_value_pct,
        moves_lower_bound=bounds.moves_lb,
        moves_ratio=ratio,
        contiguous_territories=contiguous,
        optimal=all(m.gap_pp <= 100 * DEV_EPS for m in overall),
        within_tolerance=all(m.within_tolerance for m in overall),
        territory=TerritoryMetrics(
            atoms=atoms,
            loads=load,
            dev_pct=100 * dev,
            max_share=share,
            moved_in=moved_in,
            moved_out=moved_out,
            segment=tseg,
        ),
    )


def _gap(dev: float, lb: float) -> float:
    g = dev - lb
    # Rounding of sums can put a run a hair under its bound: that is a zero gap.
    return 0.0 if abs(g) <= DEV_EPS else g
