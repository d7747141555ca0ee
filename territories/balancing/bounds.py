"""Lower bounds: how good can any assignment be? (Proofs in ``docs/balancing.md`` §2.)

All functions are pure and vectorised; costs are ``O(n log n)`` (one sort per measure).
"""

from __future__ import annotations

import numpy as np

from territories.balancing.model import Bounds, MeasureBound, Problem

# Relative slack for float comparisons of sums (a sum of 10^6 doubles is exact to ~1e-10).
EPS = 1e-9
# How many of the largest atoms the averaged-whale bound looks at.
WHALE_BOUND_DEPTH = 64


def measure_bound(w: np.ndarray, k: int, *, min_atoms: int = 0) -> MeasureBound:
    """Lower bound on the worst deviation of one measure over ``k`` territories.

    Args:
        w: ``(n,)`` non-negative values of the measure, one per atom (any order).
        k: number of territories, ``1 <= k <= n``.
        min_atoms: every territory holds at least this many atoms (``floor(n/k)`` with exact
            counts, else 0). Strengthens the bound when a whale must be topped up with atoms.

    Returns:
        ``MeasureBound`` with ``max_load_lb`` (no assignment has a smaller maximum load),
        ``min_load_ub`` (no assignment has a larger minimum load) and
        ``max_dev_lb = max(max_load_lb - mean, mean - min_load_ub) / mean``.
        If every value is an integer, loads are integers: the bounds are rounded outwards.
    """
    w = np.asarray(w, dtype=np.float64)
    n = w.size
    total = float(w.sum())
    mean = total / k
    if n == 0 or total <= 0.0:
        return MeasureBound(mean, 0.0, 0.0, 0.0, "empty")
    desc = np.sort(w)[::-1]
    c = np.concatenate([[0.0], np.cumsum(desc)])  # c[i] = sum of the i largest

    def smallest(m: np.ndarray | int) -> np.ndarray:
        m = np.clip(np.asarray(m), 0, n)
        return total - c[n - m]

    candidates: list[tuple[float, str]] = [(mean, "mean")]
    # Pigeonhole: among the r*k+1 largest atoms some territory holds r+1; those r+1 weigh at
    # least the r+1 smallest of that set; the territory also holds min_atoms-(r+1) more atoms.
    r = np.arange(0, (n - 1) // k + 1)
    top = c[r * k + 1] - c[r * k - r]
    ph = top + smallest(min_atoms - r - 1)
    i = int(np.argmax(ph))
    candidates.append((float(ph[i]), "largest atom" if i == 0 else f"pigeonhole r={int(r[i])}"))
    if min_atoms > 0:
        # Some territory holds ceil(n/k) atoms, at least the ceil(n/k) smallest.
        candidates.append((float(smallest(-(-n // k))), "smallest atoms"))
        # Averaged whales: the t largest atoms lie in s <= t territories holding >= s*min_atoms
        # atoms in all; the heaviest of those s is at least their average.
        for t in range(2, min(k, WHALE_BOUND_DEPTH, n) + 1):
            s = np.arange(1, t + 1)
            avg = (c[t] + smallest(s * min_atoms - t)) / s
            candidates.append((float(avg.min()), f"{t} whales"))
    max_lb, source = max(candidates, key=lambda x: x[0])
    # Upper bound on the lightest territory: the r territories holding the r largest atoms
    # weigh at least those atoms, so the other k-r share at most total - top_r.
    min_ub = mean
    if k > 1:
        rr = np.arange(1, k)
        ub = (total - c[rr]) / (k - rr)
        j = int(np.argmin(ub))
        if ub[j] < min_ub:
            min_ub = float(ub[j])
    if np.all(w == np.round(w)):
        max_lb = float(np.ceil(max_lb - EPS * max(1.0, max_lb)))
        min_ub = float(np.floor(min_ub + EPS * max(1.0, min_ub)))
    up = (max_lb - mean) / mean
    down = (mean - min_ub) / mean
    dev = max(up, down, 0.0)
    if down > up:
        source = "lightest territory"
    return MeasureBound(mean, max_lb, min_ub, dev, source)


def min_feasible_share(values: np.ndarray, k: int, tolerance: float, max_load_lb: float) -> float:
    """Smallest achievable largest-atom share (fraction) for one segment.

    The territory holding the largest atom ``w_max`` has value at most
    ``H = max((1 + tolerance) * mean, max_load_lb)`` in any assignment within the tolerance band
    (or, when a whale makes the band impossible, within the best possible maximum load), so its
    largest-atom share is at least ``w_max / H``.
    """
    values = np.asarray(values, dtype=np.float64)
    total = float(values.sum())
    if total <= 0:
        return 0.0
    h = max((1.0 + tolerance) * total / k, max_load_lb)
    return float(values.max() / h)


def band(problem: Problem, tolerance: float, k_per_segment: np.ndarray | None = None):
    """Per-territory tolerance band: ``(lo, hi, mean)`` each ``(K, d)``, in measure units.

    ``mean[t, j]`` is the segment total of measure ``j`` over the segment's seats.
    """
    seg_tot = np.zeros((len(problem.seats), problem.d))
    np.add.at(seg_tot, problem.atom_segment, problem.measures)
    seats = np.asarray(problem.seats, dtype=np.float64)
    mean = (seg_tot / seats[:, None])[problem.territory_segment]
    return (1.0 - tolerance) * mean, (1.0 + tolerance) * mean, mean


def moves_lower_bound(
    w: np.ndarray,
    start: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    movable: np.ndarray,
) -> tuple[int, bool]:
    """Fewest atoms that must change territory to bring every territory inside its band.

    Args:
        w: ``(n, d)`` measures.
        start: ``(n,)`` current territory of each atom (``0 .. K-1``).
        lo, hi: ``(K, d)`` band of every territory and measure (measure units).
        movable: ``(n,)`` bool, False for locked atoms.

    Returns:
        ``(bound, feasible)``. For territory ``t`` let ``out_t`` be the least number of its movable
        atoms whose removal brings every measure to ``<= hi`` (largest first is optimal per
        measure, so ``out_t = max_j out_tj``), and ``in_t`` the least number of movable atoms
        (anywhere; a relaxation) whose arrival brings every measure to ``>= lo``. Every moved
        atom leaves one territory and enters one, so ``moves >= max(sum out_t, sum in_t)``.
        With a unit-count measure the two are coupled: the count changes by ``in_t - out_t``,
        which must land inside the count band, so ``out_t >= in_t - (floor(hi_c) - c_t)`` and
        ``in_t >= out_t + (ceil(lo_c) - c_t)``.
        ``feasible`` is False when a territory cannot shed enough (too much locked).
    """
    n, d = w.shape
    k = lo.shape[0]
    start = np.asarray(start, dtype=np.int64)
    load = np.zeros((k, d))
    np.add.at(load, start, w)
    scale = np.maximum(np.abs(hi), 1.0)
    out = np.zeros(k, dtype=np.int64)
    inn = np.zeros(k, dtype=np.int64)
    feasible = True
    mv = np.flatnonzero(movable)
    terr = start[mv]
    for j in range(d):
        excess = load[:, j] - hi[:, j]
        over = excess > EPS * scale[:, j]
        if np.any(over):
            order = np.lexsort((-w[mv, j], terr))
            ts = terr[order]
            g = np.cumsum(w[mv, j][order])
            first = np.searchsorted(ts, np.arange(k), side="left")
            last = np.searchsorted(ts, np.arange(k), side="right")
            base = np.where(first > 0, g[np.maximum(first - 1, 0)], 0.0)
            target = base + excess - EPS * scale[:, j]
            idx = np.searchsorted(g, target, side="left")
            need = idx - first + 1
            short = over & (idx >= last)
            if np.any(short):
                feasible = False
                need = np.where(short, last - first, need)
            out = np.maximum(out, np.where(over, need, 0))
        deficit = lo[:, j] - load[:, j]
        under = deficit > EPS * scale[:, j]
        if np.any(under):
            hcum = np.cumsum(np.sort(w[mv, j])[::-1])
            idx = np.searchsorted(hcum, deficit - EPS * scale[:, j], side="left") + 1
            if np.any(under & (idx > mv.size)):
                feasible = False
            inn = np.maximum(inn, np.where(under, np.minimum(idx, mv.size), 0))
    # Coupling through a unit count: a territory's count changes by (arrivals - departures), which
    # must land in [ceil(lo), floor(hi)] - so arrivals force departures and vice versa.
    for j in range(d):
        if n and np.all(w[:, j] == 1.0):
            c = load[:, j]
            room_up = np.floor(hi[:, j] + EPS) - c  # in - out <= room_up
            room_down = np.ceil(lo[:, j] - EPS) - c  # in - out >= room_down
            out2 = np.maximum(out, inn - room_up)
            inn2 = np.maximum(inn, out + room_down)
            out, inn = out2.astype(np.int64), inn2.astype(np.int64)
    return int(max(out.sum(), inn.sum())), feasible


def problem_bounds(
    problem: Problem,
    *,
    tolerance: float,
    exact_counts: bool,
    start: np.ndarray | None = None,
) -> Bounds:
    """All lower bounds of ``problem`` (per segment and measure; share; moves from ``start``).

    ``exact_counts``: the run keeps every territory at ``floor`` or ``ceil`` of its segment's
    atoms per seat (greenfield with a unit-count measure); the value bounds then use it.
    ``start``: the original owners (``-1`` = none) for the moves bound, or ``None``.
    """
    per_seg = []
    share = 0.0
    vm = problem.value_measure
    for s, seats in enumerate(problem.seats):
        idx = np.flatnonzero(problem.atom_segment == s)
        q = idx.size // seats if exact_counts else 0
        mb = tuple(
            measure_bound(problem.measures[idx, j], seats, min_atoms=q) for j in range(problem.d)
        )
        per_seg.append(mb)
        share = max(
            share,
            min_feasible_share(problem.measures[idx, vm], seats, tolerance, mb[vm].max_load_lb),
        )
    moves = None
    feasible = True
    if start is not None:
        start = np.asarray(start, dtype=np.int64)
        lo, hi, _ = band(problem, tolerance)
        movable = np.ones(problem.n, dtype=bool) if problem.locked is None else ~problem.locked
        # Atoms without an owner are placed, not moved: give them to no territory (they can
        # fill deficits, which the "in" half of the bound counts as arrivals).
        owned = start >= 0
        w = problem.measures
        moves, feasible = moves_lower_bound(w[owned], start[owned], lo, hi, movable[owned])
        if not np.all(owned):
            # Unowned atoms arrive without counting as moves: the bound keeps only the "out" side,
            # recomputed with their arrivals free. Keep it valid: count leaving atoms only.
            moves = _out_only_bound(w[owned], start[owned], hi, movable[owned])
    return Bounds(tuple(per_seg), exact_counts, tolerance, share, moves, feasible)


def _out_only_bound(w: np.ndarray, start: np.ndarray, hi: np.ndarray, movable: np.ndarray) -> int:
    k, d = hi.shape
    lo = np.full((k, d), -np.inf)
    return moves_lower_bound(w, start, lo, hi, movable)[0]
