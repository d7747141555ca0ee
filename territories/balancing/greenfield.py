"""Greenfield balancing of one segment: no current owners to respect (locks aside).

Order of work (``docs/balancing.md`` §3):

1. tiny instances (``n * k <= EXACT_CELLS``) are solved exactly with ``scipy.optimize.milp``;
2. whales — atoms whose territory would stay above the others' mean even when topped up with the
   smallest atoms — get a territory each, filled with the smallest atoms (this is what the
   largest-atom bound assumes, so the run meets it);
3. the other atoms are dealt largest first to the lightest territory with room (exact counts);
4. exchanges between heavy and light territories bring every measure to the mean;
5. with a concentration cap, territories whose largest atom is too big a share get a higher value
   target (inside the tolerance) and step 4 runs again;
6. small segments (``n <= POLISH_MAX_ATOMS``) not yet at their bounds are polished towards the
   exact solver's objective (``search.polish_small``): one-for-one exchanges stall early when a
   territory holds only a handful of atoms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from territories.balancing.bounds import measure_bound
from territories.balancing.search import (
    deal,
    deal_two_ends,
    exact_milp,
    improve_1d,
    improve_multi,
    polish_small,
)

# Largest instance (atoms × territories) handed to the exact MILP solver.
EXACT_CELLS = 60
EXACT_MAX_ATOMS = 20
# Stop improving when every territory is this close to its target (fraction of the mean).
STOP = 1e-9
# With several balanced measures, stop when each is this close to its bound (0.01 points).
MULTI_PRECISION = 1e-4
# Segments up to this many atoms get the small-segment polish after the exchanges.
POLISH_MAX_ATOMS = 64


@dataclass(frozen=True)
class SegmentRun:
    """Local result of one segment: ``assign`` ``(n_s,)`` in ``0 .. k-1``."""

    assign: np.ndarray
    proven_optimal: bool
    method: str
    notes: tuple[str, ...] = ()


def exact_count_columns(w: np.ndarray, unit: tuple[bool, ...], exact_counts: bool) -> np.ndarray:
    """Columns of ``w`` balanced by the search (exact-count columns are kept by construction)."""
    mean = w.sum(axis=0)
    return np.array(
        [j for j in range(w.shape[1]) if mean[j] > 0 and not (exact_counts and unit[j])],
        dtype=np.int64,
    )


def solve_greenfield(
    w: np.ndarray,
    k: int,
    *,
    unit: tuple[bool, ...],
    exact_counts: bool,
    fixed: np.ndarray,
    value_col: int,
    tolerance: float,
    cap: float | None,
    rng: np.random.Generator,
    deadline: float,
) -> SegmentRun:
    """Balance one segment from scratch.

    Args:
        w: ``(n, d)`` measures of the segment's atoms.
        k: seats of the segment.
        unit: per measure, is it 1 for every atom.
        exact_counts: keep every territory at ``floor(n/k)`` or ``ceil(n/k)`` atoms.
        fixed: ``(n,)`` local territory of locked atoms, ``-1`` for free atoms.
        value_col: column of the value measure (for the concentration cap).
        tolerance: the band, used only to bound the cap's value targets.
        cap: largest-atom share cap (fraction) or ``None``.
        deadline: ``time.monotonic()`` limit.
    """
    n, _ = w.shape
    cols = exact_count_columns(w, unit, exact_counts)
    q = n // k if exact_counts and any(unit) else None
    if cols.size == 0:
        return _counts_only(n, k, fixed, q)
    mean = w[:, cols].sum(axis=0) / k
    u = w[:, cols] / mean
    movable = fixed < 0
    notes: list[str] = []
    if n * k <= EXACT_CELLS and n <= EXACT_MAX_ATOMS:
        value = w[:, value_col] if cap is not None else None
        left = max(deadline - time.monotonic(), 0.5)
        assign, _, proven = exact_milp(
            u, k, fixed=fixed, exact_q=q, cap=cap, value=value, time_limit=min(left, 10.0)
        )
        if assign is not None:
            return SegmentRun(assign, proven, "exact MILP" if proven else "MILP (time limit)")
        notes.append("the exact solver found no solution; the heuristic ran instead")
    if cols.size == 1:
        assign, active, target = _start_1d(u[:, 0], k, fixed, q)
        assign = improve_1d(
            u[:, 0],
            assign,
            target,
            movable=movable,
            active=active,
            exact_q=q,
            stop=STOP,
            deadline=deadline,
            rng=rng,
        )
        method = "whales + deal + exchanges"
    else:
        assign = _start_multi(u, k, fixed, q)
        active = np.ones(k, dtype=bool)
        target = np.ones((k, cols.size))
        # Nothing can beat the per-measure bounds: stop there.
        lbs = np.array([measure_bound(w[:, j], k, min_atoms=q or 0).max_dev_lb for j in cols])
        assign = improve_multi(
            u,
            assign,
            target,
            movable=movable,
            active=active,
            exact_q=q,
            stop=np.maximum(lbs * (1 + 1e-9), MULTI_PRECISION),
            deadline=deadline,
            rng=rng,
        )
        method = "deal + multi-measure exchanges"
    # Column of ``u`` the cap is on (``None``: no cap, or the value is not a balanced measure).
    vi = (
        int(np.flatnonzero(cols == value_col)[0]) if cap is not None and value_col in cols else None
    )
    if vi is not None:
        assign, note = _apply_cap(
            u, assign, k, vi, cap, tolerance, movable=movable, q=q, rng=rng, deadline=deadline
        )
        if note:
            notes.append(note)
        method += " + concentration cap"
    if n <= POLISH_MAX_ATOMS and k > 1 and not _at_bounds(w, u, cols, assign, k, q, cap, vi):
        assign = polish_small(
            u,
            assign,
            k,
            movable=movable,
            exact_q=q,
            cap=None if vi is None else cap,
            cap_col=vi,
            ceiling=1.0 + tolerance,
            rng=rng,
            deadline=deadline,
        )
        method += " + small-segment polish"
    return SegmentRun(assign, False, method, tuple(notes))


def _at_bounds(w, u, cols, assign, k, q, cap, vi) -> bool:
    """Is every balanced measure at its lower bound and the cap, if any, met? Then nothing can
    be better and the polish is skipped. ``vi``: column of ``u`` the cap is on, or ``None``."""
    load = np.zeros((k, cols.size))
    np.add.at(load, assign, u)
    dev = np.abs(load - 1.0).max(axis=0)
    lbs = np.array([measure_bound(w[:, j], k, min_atoms=q or 0).max_dev_lb for j in cols])
    if np.any(dev > lbs + 1e-12):
        return False
    if vi is None:
        return True
    top = np.zeros(k)
    np.maximum.at(top, assign, u[:, vi])
    return bool(np.all(top <= cap * load[:, vi] + 1e-12))


def _counts_only(n: int, k: int, fixed: np.ndarray, q: int | None) -> SegmentRun:
    """Only a count to balance: deal atoms round-robin into the territories with room."""
    assign = fixed.copy()
    count = np.bincount(assign[assign >= 0], minlength=k).astype(np.int64)
    free = np.flatnonzero(assign < 0)
    load = count.astype(np.float64)
    cap = np.full(k, -(-n // k))
    assign[free] = deal(np.ones(free.size), load, count, cap if q is not None else None)
    return SegmentRun(assign, False, "deal")


def _deal_exact(key, order, assign, load, count, q, target=None):
    """Deal ``order`` (descending ``key``): exact counts ``q`` (from both ends when a ``target``
    load is given, see ``deal_two_ends``) then ``q+1``; without ``q`` largest to lightest."""
    if q is None:
        if order.size:
            assign[order] = deal(key[order], load, count, None)
        return
    if target is not None:
        order = deal_two_ends(key, order, load, count, q, target, assign)
    pos = 0
    for c in (q, q + 1, None):
        if pos >= order.size:
            break
        if c is None:
            cap = None
            take = order.size - pos
        else:
            cap = np.full(load.size, c)
            take = min(int(np.maximum(c - count, 0).sum()), order.size - pos)
        if take == 0:
            continue
        part = order[pos : pos + take]
        assign[part] = deal(key[part], load, count, cap)
        pos += take


def _start_1d(u: np.ndarray, k: int, fixed: np.ndarray, q: int | None):
    """Whales first, then the deal. Returns ``(assign, active, target)``.

    A whale's territory is *closed* (set aside from the exchanges) when the whale plus the
    smallest atoms needed to reach the count is still heavier than the mean of the others.
    """
    n = u.size
    assign = fixed.copy()
    locked = fixed >= 0
    load = np.bincount(assign[locked], weights=u[locked], minlength=k).astype(np.float64)
    count = np.bincount(assign[locked], minlength=k).astype(np.int64)
    free = np.flatnonzero(~locked)
    order = free[np.argsort(-u[free], kind="stable")]
    total = float(u.sum())
    fill = (q - 1) if q else 0
    closed = np.zeros(k, dtype=bool)
    candidates = [t for t in range(k) if count[t] == 0]
    top, small, closed_load, n_closed = 0, 0, 0.0, 0
    while n_closed < min(k - 1, len(candidates)) and top + 1 + small + fill <= order.size:
        whale = order[top]
        tail = order[order.size - small - fill : order.size - small] if fill else order[:0]
        whale_load = u[whale] + u[tail].sum()
        rest_mean = (total - closed_load - whale_load) / (k - n_closed - 1)
        if whale_load <= rest_mean * (1 + 1e-12):
            break
        t = candidates[n_closed]
        assign[whale] = t
        assign[tail] = t
        closed[t] = True
        load[t] = whale_load
        count[t] = 1 + fill
        closed_load += whale_load
        n_closed += 1
        top += 1
        small += fill
    rest = order[top : order.size - small]
    sub = np.flatnonzero(~closed)
    if q is not None and n_closed:
        # Closed territories hold q atoms. When the open ones cannot take the rest at q + 1
        # each, the lightest closed territories take one more of the smallest atoms each.
        over = rest.size - int(np.maximum(q + 1 - count[sub], 0).sum())
        shut = np.flatnonzero(closed)
        for t in shut[np.argsort(load[shut], kind="stable")][: max(over, 0)]:
            atom = rest[-1]
            rest = rest[:-1]
            assign[atom] = t
            load[t] += u[atom]
            count[t] += 1
            closed_load += u[atom]
    sl, sc = load[sub].copy(), count[sub].copy()
    part = np.full(n, -1, dtype=np.int64)
    open_target = (total - closed_load) / max(sub.size, 1)
    _deal_exact(u, rest, part, sl, sc, q, target=open_target)
    assign[rest] = sub[part[rest]]
    active = ~closed
    target = np.zeros(k)
    target[active] = (total - closed_load) / active.sum()
    target[closed] = load[closed]
    return assign, active, target


def _start_multi(u: np.ndarray, k: int, fixed: np.ndarray, q: int | None) -> np.ndarray:
    """Deal on the sum of the normalised measures, largest first."""
    assign = fixed.copy()
    locked = fixed >= 0
    key = u.sum(axis=1)
    load = np.bincount(assign[locked], weights=key[locked], minlength=k).astype(np.float64)
    count = np.bincount(assign[locked], minlength=k).astype(np.int64)
    free = np.flatnonzero(~locked)
    order = free[np.argsort(-key[free], kind="stable")]
    _deal_exact(key, order, assign, load, count, q, target=float(key.sum()) / k)
    return assign


def _apply_cap(u, assign, k, vi, cap, tolerance, *, movable, q, rng, deadline):
    """Raise the value target of territories whose largest atom exceeds ``cap`` of their value.

    The target is ``largest / cap`` but at most ``1 + tolerance`` (the band); the others share
    the rest equally. Returns ``(assign, note)``.
    """
    v = u[:, vi]
    top = np.zeros(k)
    np.maximum.at(top, assign, v)
    need = top / cap * (1 + 1e-6)  # a hair above, so the share lands under the cap
    hi = 1.0 + tolerance
    note = ""
    if need.max() > hi * (1 + 1e-12):
        note = (
            f"max share {100 * cap:.1f} % is not feasible within ±{100 * tolerance:.0f} %; "
            f"the smallest feasible is {100 * top.max() / hi:.1f} %"
        )
    raised = need > 1.0
    if not np.any(raised):
        return assign, note
    total = float(v.sum())
    tgt = np.ones(k)
    tgt[raised] = np.minimum(need[raised], hi)
    rest = ~raised
    if rest.sum() == 0:
        return assign, note
    tgt[rest] = (total - tgt[raised].sum()) / rest.sum()
    d = u.shape[1]
    if d == 1:
        return (
            improve_1d(
                v,
                assign,
                tgt,
                movable=movable,
                active=np.ones(k, dtype=bool),
                exact_q=q,
                stop=STOP,
                deadline=deadline,
                rng=rng,
            ),
            note,
        )
    target = np.ones((k, d))
    target[:, vi] = tgt
    return (
        improve_multi(
            u,
            assign,
            target,
            movable=movable,
            active=np.ones(k, dtype=bool),
            exact_q=q,
            stop=STOP,
            deadline=deadline,
            rng=rng,
        ),
        note,
    )
