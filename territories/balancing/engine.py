"""The public entry point: :func:`balance` runs one balancing of every segment."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from territories.balancing.bounds import problem_bounds
from territories.balancing.cap import enforce_cap
from territories.balancing.continuity import solve_continuity
from territories.balancing.geo import adjacency_for, connect_edges, solve_geo
from territories.balancing.greenfield import solve_greenfield
from territories.balancing.metrics import metrics_for
from territories.balancing.model import BalancingError, Problem, Result

Progress = Callable[[float, str], None]

# Default wall-clock budget of a run when the caller gives none (seconds).
DEFAULT_TIME_LIMIT = 120.0


def _noop(fraction: float, message: str) -> None:
    return None


def balance(
    problem: Problem,
    *,
    tolerance: float = 0.10,
    max_share: float | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    progress: Progress | None = None,
    contiguous: bool = False,
    mode: str = "auto",
) -> Result:
    """Assign every atom of ``problem`` to a territory of its segment.

    Args:
        problem: the atoms, measures, seats and optional owners/locks/geography.
        tolerance: half-width of the band around the segment mean, as a fraction (0.10 = ±10 %).
            Greenfield runs go past it to the lower bound; continuity runs stop inside it.
        max_share: concentration cap — no atom above this fraction of its territory's value,
            in every mode (continuity and geography runs repair it after the run, inside the
            band: ``cap.enforce_cap``); when impossible the run uses what it can, says so in
            ``notes``, and ``metrics.min_feasible_share_pct`` gives the smallest feasible cap.
        seed: seed of every random choice (``numpy.random.default_rng(seed)``): same inputs and
            seed, same assignment.
        time_limit: wall-clock budget in seconds (default 120); the run returns its best so far.
        progress: optional callback ``(fraction in [0, 1], message)``.
        contiguous: every territory one connected piece of the adjacency (``problem.edges``, or
            the Delaunay triangulation of ``problem.coords``).
        mode: ``"greenfield"`` (ignore owners except locks), ``"continuity"`` (start from the
            owners, fewest moves to the tolerance), or ``"auto"`` (continuity iff owners given).

    Returns:
        ``Result`` with ``assignment`` ``(n,)`` (territory indices, unique across segments),
        ``metrics``, ``bounds``. Locked atoms keep their owner.
    """
    t0 = time.monotonic()
    report = progress or _noop
    if not 0 <= tolerance < 1:
        raise BalancingError(f"tolerance must be in [0, 1) (got {tolerance})")
    if max_share is not None and not 0 < max_share <= 1:
        raise BalancingError(f"max share must be in (0, 1] (got {max_share})")
    if mode == "auto":
        mode = "continuity" if problem.owner is not None else "greenfield"
    if mode not in ("greenfield", "continuity"):
        raise BalancingError(f"unknown mode {mode!r}")
    if mode == "continuity" and problem.owner is None:
        raise BalancingError("a continuity run needs current owners")
    geo = contiguous or problem.edges is not None or problem.coords is not None
    if contiguous and problem.edges is None and problem.coords is None:
        raise BalancingError("contiguous territories need coordinates or an adjacency")
    if geo and problem.edges is None:
        report(0.0, "building the Delaunay adjacency")
        problem = adjacency_for(problem)
    elif geo:
        # Islands of a given adjacency are bridged to their nearest atom (reported as edges).
        problem = replace(problem, edges=connect_edges(problem.edges, problem.n, problem.coords))
    deadline = t0 + (DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit))
    rng = np.random.default_rng(seed)
    exact_counts = mode == "greenfield" and not geo and any(problem.unit_count)
    fixed_global = np.full(problem.n, -1, dtype=np.int64)
    if problem.locked is not None:
        fixed_global[problem.locked] = problem.owner[problem.locked]
    assignment = np.empty(problem.n, dtype=np.int64)
    offsets = problem.segment_offsets
    seg = problem.atom_segment
    proven = True
    methods: list[str] = []
    notes: list[str] = []
    done = 0
    for s, k in enumerate(problem.seats):
        idx = np.flatnonzero(seg == s)
        off = int(offsets[s])
        fixed = np.where(fixed_global[idx] >= 0, fixed_global[idx] - off, -1)
        share = idx.size / problem.n
        now = time.monotonic()
        seg_deadline = now + max(deadline - now, 0.0) * (share / max(1.0 - done / problem.n, share))
        report(done / problem.n, f"balancing segment {problem.segment_names[s]}")
        w = problem.measures[idx]
        if mode == "continuity":
            run = solve_continuity(
                w,
                k,
                start=np.where(problem.owner[idx] >= 0, problem.owner[idx] - off, -1),
                fixed=fixed,
                tolerance=tolerance,
                rng=rng,
                deadline=seg_deadline,
                edges=_local_edges(problem.edges, idx) if geo else None,
                contiguous=contiguous,
                value_col=problem.value_measure,
            )
        elif geo:
            run = solve_geo(
                w,
                k,
                coords=None if problem.coords is None else problem.coords[idx],
                edges=_local_edges(problem.edges, idx),
                fixed=fixed,
                tolerance=tolerance,
                contiguous=contiguous,
                rng=rng,
                deadline=seg_deadline,
            )
        else:
            run = solve_greenfield(
                w,
                k,
                unit=problem.unit_count,
                exact_counts=exact_counts,
                fixed=fixed,
                value_col=problem.value_measure,
                tolerance=tolerance,
                cap=max_share,
                rng=rng,
                deadline=seg_deadline,
            )
        if max_share is not None and (mode == "continuity" or geo):
            run = _capped(
                run,
                w,
                k,
                problem.value_measure,
                max_share,
                tolerance,
                fixed,
                _local_edges(problem.edges, idx) if geo else None,
                contiguous,
                seg_deadline,
            )
        if time.monotonic() >= seg_deadline:
            notes.append(
                "stopped at the time limit: the result is the best found so far and may differ "
                "between machines"
            )
        assignment[idx] = run.assign + off
        proven = proven and run.proven_optimal
        methods.append(run.method)
        notes.extend(run.notes)
        done += idx.size
    report(0.95, "computing metrics")
    bounds = problem_bounds(
        problem,
        tolerance=tolerance,
        exact_counts=exact_counts,
        start=problem.owner if mode == "continuity" or problem.owner is not None else None,
    )
    bounds = _with_proven(problem, bounds, assignment, proven)
    metrics = metrics_for(problem, assignment, tolerance=tolerance, bounds=bounds)
    if max_share is not None and metrics.max_share_pct > 100 * max_share + 1e-9:
        notes.append(
            f"max share {100 * max_share:.2f} % not reached: {metrics.max_share_pct:.2f} % "
            f"(smallest feasible {metrics.min_feasible_share_pct:.2f} %)"
        )
    report(1.0, "done")
    return Result(
        assignment=assignment,
        metrics=metrics,
        bounds=bounds,
        problem=problem,
        seconds=time.monotonic() - t0,
        method="; ".join(sorted(set(methods))),
        proven_optimal=proven,
        notes=tuple(dict.fromkeys(notes)),
    )


def _capped(run, w, k, value_col, cap, tolerance, fixed, edges, contiguous, deadline):
    """Continuity and geography runs: the concentration cap as a repair after the run
    (``cap.enforce_cap``); greenfield without geography applies it itself."""
    tot = w.sum(axis=0)
    cols = np.flatnonzero(tot > 0)
    if value_col not in cols:
        return run
    u = w[:, cols] / (tot[cols] / k)
    assign, note = enforce_cap(
        u,
        run.assign,
        k,
        cap=cap,
        value=int(np.flatnonzero(cols == value_col)[0]),
        tolerance=tolerance,
        movable=fixed < 0,
        edges=edges,
        contiguous=contiguous,
        deadline=deadline + 5.0,
    )
    if np.array_equal(assign, run.assign) and not note:
        return run
    return replace(
        run,
        assign=assign,
        method=run.method + " + concentration cap",
        notes=run.notes + ((note,) if note else ()),
    )


def _local_edges(edges: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
    """Edges between atoms of ``idx``, renumbered to local indices ``0 .. len(idx)-1``."""
    if edges is None or len(edges) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    local = np.full(int(max(edges.max() + 1, idx.max() + 1)), -1, dtype=np.int64)
    local[idx] = np.arange(idx.size)
    e = local[edges]
    return e[(e[:, 0] >= 0) & (e[:, 1] >= 0)]


def _with_proven(problem, bounds, assignment, proven):
    """When the MILP proved optimality of a single balanced measure, its optimum is the bound."""
    if not proven:
        return bounds
    from territories.balancing.model import MeasureBound

    per_seg = []
    for s, row in enumerate(bounds.per_segment):
        idx = np.flatnonzero(problem.atom_segment == s)
        k = problem.seats[s]
        off = int(problem.segment_offsets[s])
        balanced = [
            j
            for j in range(problem.d)
            if row[j].mean > 0 and not (bounds.exact_counts and problem.unit_count[j])
        ]
        new_row = list(row)
        if len(balanced) == 1:
            j = balanced[0]
            load = np.bincount(assignment[idx] - off, weights=problem.measures[idx, j], minlength=k)
            dev = float(np.abs(load - row[j].mean).max() / row[j].mean)
            if dev > row[j].max_dev_lb:
                new_row[j] = MeasureBound(
                    row[j].mean, row[j].max_load_lb, row[j].min_load_ub, dev, "exact MILP optimum"
                )
        per_seg.append(tuple(new_row))
    return replace(bounds, per_segment=tuple(per_seg))
