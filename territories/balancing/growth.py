"""Growth cuts: from ``K`` territories to ``K + m``, one new territory at a time.

Each step creates one territory and moves atoms into it — only into it — so that afterwards all
``K + step`` territories are within the tolerance of the new, smaller mean (``docs/balancing.md``
§5). Moves are counted against the *original* owners: an atom that already moved in an earlier
step (it sits in an earlier new territory) moves again for free, so each step first takes the
earlier new territories' surplus, then the originals' forced excess, then shares the rest over
the territories with the most surplus.

Per step, with the count measure binding (accounts), the new territory takes the fewest atoms
that lift it into the band, ``ceil((1 - tol) * mean_count)``; which atoms is chosen per donor as a
window of its atoms sorted by value around the value the new territory needs per atom, then tuned
by exchanges with the same donor (which never changes the number of moved atoms).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from territories.balancing.bounds import problem_bounds
from territories.balancing.continuity import repair_band
from territories.balancing.metrics import check_assignment, metrics_for
from territories.balancing.model import BalancingError, GrowthStep, Problem, Result
from territories.balancing.search import _best_exchange

# Count ceilings are taken at (1 - tol) * mean * (1 + NUDGE) to stay clear of float ties.
NUDGE = 1e-9


def growth_cut(
    problem: Problem,
    assignment: np.ndarray,
    *,
    add: int | Mapping[str, int],
    tolerance: float = 0.10,
    seed: int = 0,
    time_limit: float | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Result:
    """Plan the cuts that grow ``problem``'s territories by ``add``.

    Args:
        problem: the current problem (``K`` territories).
        assignment: ``(n,)`` current territory of each atom (the "original owners").
        add: number of new territories (one segment), or segment name → number.
        tolerance: band kept after every step (fraction of the step's mean).
        seed: seed of the random choices.
        time_limit: seconds (default 120).
        progress: optional ``(fraction, message)`` callback.

    Returns:
        ``Result`` whose ``problem`` is the grown problem (``K + m`` territories; segment blocks
        renumbered so each segment's new territories follow its existing ones), ``assignment``
        in the grown indices, ``steps`` the cuts in order, and ``metrics`` with moves counted
        against ``assignment`` and ``moves_lower_bound`` for reaching the final state.
    """
    t0 = time.monotonic()
    report = progress or (lambda f, m: None)
    start = check_assignment(problem, assignment)
    names = problem.segment_names
    if isinstance(add, Mapping):
        unknown = set(add) - set(names)
        if unknown:
            raise BalancingError(f"unknown segment {sorted(unknown)[0]!r}")
        extra = [int(add.get(nm, 0)) for nm in names]
    else:
        if len(names) > 1:
            raise BalancingError("with segments, say how many territories each segment gains")
        extra = [int(add)]
    if any(x < 0 for x in extra) or sum(extra) < 1:
        raise BalancingError("add at least one territory")
    seats = problem.seats
    shift = np.concatenate([[0], np.cumsum(extra)])[:-1]
    new_of_old = np.arange(problem.territories) + shift[problem.territory_segment]
    labels = [problem.label(t) for t in range(problem.territories)]
    grown_labels: list[str] = []
    for s, k in enumerate(seats):
        off = int(problem.segment_offsets[s])
        grown_labels.extend(labels[off : off + k])
        grown_labels.extend(
            f"NEW-{names[s]}-{i + 1}" if len(seats) > 1 else f"NEW-{i + 1}" for i in range(extra[s])
        )
    grown = replace(
        problem,
        territories=problem.territories + sum(extra),
        seats=tuple(k + x for k, x in zip(seats, extra, strict=True)),
        owner=new_of_old[start],
        locked=problem.locked,
        territory_labels=tuple(grown_labels),
    )
    original = new_of_old[start]
    final = original.copy()
    deadline = t0 + (120.0 if time_limit is None else float(time_limit))
    rng = np.random.default_rng(seed)
    movable = np.ones(problem.n, dtype=bool) if problem.locked is None else ~problem.locked
    steps: list[GrowthStep] = []
    offs = grown.segment_offsets
    total_steps = sum(extra)
    for s, m in enumerate(extra):
        if m == 0:
            continue
        idx = np.flatnonzero(problem.atom_segment == s)
        off = int(offs[s])
        local_start = original[idx] - off
        local, seg_steps = _grow_segment(
            problem.measures[idx],
            seats[s],
            m,
            local_start,
            movable=movable[idx],
            unit=problem.unit_count,
            value_col=problem.value_measure,
            tolerance=tolerance,
            rng=rng,
            deadline=deadline,
            report=lambda i, _s=s: report(
                (len(steps) + i) / total_steps, f"cut {len(steps) + i + 1} of {total_steps}"
            ),
        )
        final[idx] = local + off
        for st in seg_steps:
            steps.append(
                GrowthStep(
                    step=len(steps) + 1,
                    segment=names[s],
                    new_territory=st["new"] + off,
                    atoms=idx[st["atoms"]],
                    taken_from={int(t) + off: int(c) for t, c in st["taken_from"].items()},
                    max_dev_pct=dict(zip(problem.measure_names, st["max_dev_pct"], strict=True)),
                    spread_pct=dict(zip(problem.measure_names, st["spread_pct"], strict=True)),
                    within_tolerance=st["within"],
                    moved_atoms=st["moved"],
                )
            )
    report(0.97, "computing metrics")
    bounds = problem_bounds(grown, tolerance=tolerance, exact_counts=False, start=original)
    metrics = metrics_for(grown, final, tolerance=tolerance, bounds=bounds, original=original)
    report(1.0, "done")
    return Result(
        assignment=final,
        metrics=metrics,
        bounds=bounds,
        problem=grown,
        seconds=time.monotonic() - t0,
        method="pre-planned cuts",
        steps=tuple(steps),
    )


def _grow_segment(w, k, m, start, *, movable, unit, value_col, tolerance, rng, deadline, report):
    """Local growth of one segment; returns ``(assign, steps)`` in local indices."""
    n, d = w.shape
    tot = w.sum(axis=0)
    cols = np.flatnonzero(tot > 0)
    if cols.size == 0:  # all-zero measures: count atoms instead
        w, tot, cols = np.ones((n, 1)), np.array([float(n)]), np.array([0])
        unit = (True,)
    u = w[:, cols] / (tot[cols] / k)  # mean of the original k territories = 1
    ucols = [i for i, j in enumerate(cols) if unit[j]]
    cnt_col = ucols[0] if ucols else None
    vcand = [i for i, j in enumerate(cols) if j == value_col and i != cnt_col]
    others = [i for i in range(cols.size) if i != cnt_col]
    key_col = vcand[0] if vcand else (others[0] if others else 0)
    kt = k + m
    assign = start.copy()
    load = np.zeros((kt, cols.size))
    np.add.at(load, assign, u)
    home = start.copy()
    # Per territory: movable atoms sorted by the key measure.
    key = u[:, key_col]
    mv = np.flatnonzero(movable)
    vals, ids = _by_territory(key, assign, mv, kt)
    steps = []
    if not _within(load[:k], 1 - tolerance, 1 + tolerance):
        # The current map is out of its band: rebalance it first (these moves count too).
        assign[:], _ = repair_band(
            u,
            assign,
            k,
            1 - tolerance * (1 - 1e-9),
            1 + tolerance * (1 - 1e-9),
            movable=movable,
            key=key_col if key_col != cnt_col else None,
            margin=0.05 * tolerance,
            deadline=deadline,
        )
        load[:] = 0.0
        np.add.at(load, assign, u)
        vals, ids = _by_territory(key, assign, mv, kt)
    for i in range(m):
        report(i)
        new = k + i
        live = k + i + 1
        prev = assign.copy()
        mean = k / live
        lo, hi = (1 - tolerance) * mean, (1 + tolerance) * mean
        # How many atoms the new territory takes, and the key value it aims at.
        if cnt_col is not None:
            need = int(np.ceil(lo * (tot[cols[cnt_col]] / k) * (1 + NUDGE)) + 0)
            unit_size = tot[cols[cnt_col]] / k
        else:
            avg = u[:, key_col].mean()
            need = int(np.ceil(mean / avg))
            unit_size = None
        goal = mean  # centre of the band on the key measure
        quota = _quotas(load, vals, live, new, need, lo, hi, cnt_col, key_col, unit_size, k)
        taken_ids: dict[int, np.ndarray] = {}
        taken_vals: dict[int, np.ndarray] = {}
        ideal = goal / max(need, 1)
        for t, q in quota.items():
            v = vals[t]
            # The window of q consecutive atoms (by value) whose sum is closest to q * ideal,
            # within what the donor can give and stay in its band; window sums grow with the
            # start, so one searchsorted finds it.
            margin = 0.05 * tolerance * mean
            aim = min(
                max(q * ideal, load[t, key_col] - hi + margin), load[t, key_col] - lo - margin
            )
            cs = np.concatenate([[0.0], np.cumsum(v)])
            sums = cs[q:] - cs[: cs.size - q]
            s0 = int(np.clip(np.searchsorted(sums, aim), 0, sums.size - 1))
            if s0 > 0 and abs(sums[s0 - 1] - aim) < abs(sums[s0] - aim):
                s0 -= 1
            taken_vals[t] = v[s0 : s0 + q]
            taken_ids[t] = ids[t][s0 : s0 + q]
            vals[t] = np.concatenate([v[:s0], v[s0 + q :]])
            ids[t] = np.concatenate([ids[t][:s0], ids[t][s0 + q :]])
            moved = taken_ids[t]
            load[t] -= u[moved].sum(axis=0)
            load[new] += u[moved].sum(axis=0)
            assign[moved] = new
        _tune(
            u,
            key_col,
            load,
            new,
            goal,
            taken_vals,
            taken_ids,
            vals,
            ids,
            assign,
            tolerance * mean,
            lo,
            hi,
        )
        vals[new] = np.sort(np.concatenate(list(taken_vals.values()))) if taken_vals else vals[new]
        if taken_ids:
            allv = np.concatenate(list(taken_vals.values()))
            alli = np.concatenate(list(taken_ids.values()))
            o = np.argsort(allv, kind="stable")
            vals[new], ids[new] = allv[o], alli[o]
        band_ok = _within(load[:live], lo, hi)
        if not band_ok and time.monotonic() < deadline:
            # Rare: finish this step with the band repair of continuity runs (any territories).
            assign[:], band_ok = repair_band(
                u,
                assign,
                live,
                lo,
                hi,
                movable=movable,
                key=key_col if key_col != cnt_col else None,
                margin=0.05 * tolerance * mean,
                deadline=deadline,
            )
            load[:] = 0.0
            np.add.at(load, assign, u)
            vals, ids = _by_territory(key, assign, mv, kt)
        atoms_in = np.flatnonzero(assign == new)
        dev = (load[:live] - mean) / mean
        spread = (load[:live].max(axis=0) - load[:live].min(axis=0)) / mean
        full_dev = np.zeros(d)
        full_spread = np.zeros(d)
        full_dev[cols] = 100 * np.abs(dev).max(axis=0)
        full_spread[cols] = 100 * spread
        steps.append(
            {
                "new": new,
                "atoms": atoms_in,
                "taken_from": dict(
                    zip(
                        *(x.tolist() for x in np.unique(prev[atoms_in], return_counts=True)),
                        strict=True,
                    )
                ),
                "max_dev_pct": full_dev.tolist(),
                "spread_pct": full_spread.tolist(),
                "within": bool(band_ok),
                "moved": int(np.sum(assign != home)),
            }
        )
    return assign, steps


def _by_territory(key, assign, mv, kt):
    """Per territory, its movable atoms ``mv`` sorted by ``key``: ``(values, atom ids)``."""
    order = mv[np.lexsort((key[mv], assign[mv]))]
    cuts = np.searchsorted(assign[order], np.arange(kt + 1))
    vals = [key[order[cuts[t] : cuts[t + 1]]] for t in range(kt)]
    ids = [order[cuts[t] : cuts[t + 1]] for t in range(kt)]
    return vals, ids


def _within(load, lo, hi):
    return bool(np.all(load >= lo - 1e-12) and np.all(load <= hi + 1e-12))


def _quotas(load, vals, live, new, need, lo, hi, cnt_col, key_col, unit_size, k):
    """Atoms each donor gives to the new territory: earlier new territories' surplus first
    (their atoms have moved already), then forced excess, then by surplus."""
    quota: dict[int, int] = {}
    left = need
    col = cnt_col if cnt_col is not None else key_col

    def atoms_of(t, amount, up=False):
        # Normalised load -> atoms: exact for a unit count, else by the donor's average atom.
        per = unit_size if unit_size is not None else vals[t].size / max(load[t, col], 1e-12)
        return int(np.ceil(amount * per - 1e-9)) if up else int(np.floor(amount * per + 1e-9))

    donors = [t for t in range(live) if t != new]
    # 1. Earlier new territories (free moves): down to the floor of the band.
    for t in donors:
        if t >= k and left > 0:
            q = min(atoms_of(t, load[t, col] - lo * (1 + 1e-9)), vals[t].size - 1, left)
            if q > 0:
                quota[t] = q
                left -= q
    # 2. Forced: originals above the ceiling on the count.
    for t in donors:
        if t < k and left > 0:
            over = load[t, col] - hi
            if over > 0:
                q = min(max(atoms_of(t, over, up=True), 1), vals[t].size - 1, left)
                quota[t] = quota.get(t, 0) + q
                left -= q
    if left <= 0:
        return quota
    # 3. The rest in proportion to surplus above the floor (largest remainders).
    orig = np.array([t for t in donors if t < k], dtype=np.int64)
    taken = np.array([quota.get(int(t), 0) for t in orig])
    surplus = np.array([atoms_of(t, load[t, col] - lo * (1 + 1e-9)) for t in orig]) - taken
    surplus = np.minimum(surplus, np.array([vals[t].size for t in orig]) - taken - 1)
    surplus = np.maximum(surplus, 0)
    if surplus.sum() <= 0:
        return quota
    share = left * surplus / surplus.sum()
    base = np.minimum(np.floor(share).astype(np.int64), surplus.astype(np.int64))
    rest = left - int(base.sum())
    if rest > 0:
        frac = np.where(base < surplus, share - base, -1.0)
        for j in np.argsort(-frac, kind="stable")[:rest]:
            if frac[j] >= 0:
                base[j] += 1
    for t, q in zip(orig.tolist(), base.tolist(), strict=True):
        if q > 0:
            quota[t] = quota.get(t, 0) + q
    return quota


def _tune(u, key_col, load, new, goal, taken_vals, taken_ids, vals, ids, assign, slack, lo, hi):
    """Exchange taken atoms with other atoms of the same donor until the new territory's key
    load is near ``goal`` (each exchange keeps the number of moved atoms), never pushing a donor
    out of ``[lo, hi]`` on the key measure; donors with the most room go first."""
    if not taken_vals:
        return
    margin = 0.05 * slack
    for _ in range(8 * len(taken_vals)):
        gap = goal - load[new, key_col]
        if abs(gap) <= 0.25 * slack:
            return
        room = {
            t: (load[t, key_col] - lo if gap > 0 else hi - load[t, key_col]) for t in taken_vals
        }
        donors = sorted(taken_vals, key=lambda t: -room[t])
        progress = False
        for t in donors:
            if room[t] <= margin:
                break
            o = np.argsort(taken_vals[t], kind="stable")
            taken_vals[t], taken_ids[t] = taken_vals[t][o], taken_ids[t][o]
            tv = taken_vals[t]
            if gap > 0:
                best = _best_exchange(vals[t], tv, gap, -10, 0, 0)
                if best is None:
                    continue
                iy, ix, e = best  # vals[t][iy] comes in, taken[ix] goes back
            else:
                best = _best_exchange(tv, vals[t], -gap, -10, 0, 0)
                if best is None:
                    continue
                ix, iy, e = best
                e = -e
            if (gap > 0 and load[t, key_col] - (vals[t][iy] - taken_vals[t][ix]) < lo + margin) or (
                gap < 0 and load[t, key_col] + (taken_vals[t][ix] - vals[t][iy]) > hi - margin
            ):
                continue
            a_in = ids[t][iy]
            a_out = taken_ids[t][ix]
            v_in, v_out = vals[t][iy], taken_vals[t][ix]
            vt, it = np.delete(vals[t], iy), np.delete(ids[t], iy)
            p = int(np.searchsorted(vt, v_out))
            vals[t], ids[t] = np.insert(vt, p, v_out), np.insert(it, p, a_out)
            taken_vals[t][ix] = v_in
            taken_ids[t][ix] = a_in
            assign[a_in] = new
            assign[a_out] = t
            delta = u[a_in] - u[a_out]
            load[new] += delta
            load[t] -= delta
            gap = goal - load[new, key_col]
            progress = True
            break
        if not progress:
            return
