"""Continuity: start from the current owners and reach the tolerance with as few moves as possible.

Algorithm for one segment (``docs/balancing.md`` §4), all loads normalised by the segment mean:

1. atoms without an owner are placed (not moves): largest first to the most underloaded territory;
2. **shed**: every territory above its band gives up the fewest atoms that bring every measure
   back under the band — the count is the bound's ``out_t``; which atoms is chosen by a score
   favouring large atoms on the over measures and small ones on measures near the floor;
3. **place**: shed atoms, largest first, go where they fill the largest deficit without
   overfilling (a deficit filled by an atom that had to leave anyway costs no extra move);
4. **pull**: territories still under their band take the best-fitting atoms from the territories
   with the most surplus;
5. anything still outside the band is finished by the multi-measure exchange search.
"""

from __future__ import annotations

import time

import numpy as np

from territories.balancing.greenfield import SegmentRun
from territories.balancing.search import improve_multi

# Land this fraction of the tolerance inside the band, so sums re-added in another order stay in.
INSIDE = 1e-9


def solve_continuity(
    w: np.ndarray,
    k: int,
    *,
    start: np.ndarray,
    fixed: np.ndarray,
    tolerance: float,
    rng: np.random.Generator,
    deadline: float,
    edges: np.ndarray | None = None,
    contiguous: bool = False,
) -> SegmentRun:
    """Repair ``start`` (``(n,)`` local territories, ``-1`` = no owner) into the band.

    Locked atoms (``fixed >= 0``) never move. With ``edges`` the repair moves boundary atoms only
    (and keeps territories connected when ``contiguous``). Returns local assignments.
    """
    n, _ = w.shape
    tot = w.sum(axis=0)
    cols = np.flatnonzero(tot > 0)
    u = w[:, cols] / (tot[cols] / k)
    assign = start.copy()
    assign[fixed >= 0] = fixed[fixed >= 0]
    _place_unowned(u, assign, k)
    if edges is not None:
        from territories.balancing.geo import repair_geo

        a = repair_geo(
            u,
            assign,
            k,
            edges=edges,
            movable=fixed < 0,
            tolerance=tolerance,
            contiguous=contiguous,
            rng=rng,
            deadline=deadline,
        )
        return SegmentRun(a, False, "boundary moves from current owners")
    lo = 1.0 - tolerance * (1 - INSIDE)
    hi = 1.0 + tolerance * (1 - INSIDE)
    state = _State(u, assign, k, movable=fixed < 0)
    pool = state.shed(lo, hi)
    state.place(pool, lo, hi, origin=start)
    state.pull(lo, hi, deadline)
    assign = state.assign
    if state.worst_violation(lo, hi) > 0 and time.monotonic() < deadline:
        assign = improve_multi(
            u,
            assign,
            np.ones((k, u.shape[1])),
            movable=fixed < 0,
            active=np.ones(k, dtype=bool),
            exact_q=None,
            stop=tolerance * (1 - INSIDE),
            deadline=deadline,
            rng=rng,
        )
    return SegmentRun(assign, False, "shed, place, pull")


def _place_unowned(u: np.ndarray, assign: np.ndarray, k: int) -> None:
    """Give atoms without owner (``-1``) to the lightest territories, largest first."""
    new = np.flatnonzero(assign < 0)
    if new.size == 0:
        return
    key = u.sum(axis=1)
    load = np.bincount(assign[assign >= 0], weights=key[assign >= 0], minlength=k)
    for i in new[np.argsort(-key[new], kind="stable")]:
        t = int(np.argmin(load))
        assign[i] = t
        load[t] += key[i]


class _State:
    """Loads and per-territory member lists under single-atom moves."""

    def __init__(self, u: np.ndarray, assign: np.ndarray, k: int, *, movable: np.ndarray):
        self.u = u
        self.assign = assign.copy()
        self.k = k
        self.load = np.zeros((k, u.shape[1]))
        np.add.at(self.load, self.assign, u)
        mv = np.flatnonzero(movable)
        order = mv[np.argsort(self.assign[mv], kind="stable")]
        cuts = np.searchsorted(self.assign[order], np.arange(k + 1))
        self.members = [order[cuts[t] : cuts[t + 1]] for t in range(k)]

    def worst_violation(self, lo: float, hi: float) -> float:
        return float(np.maximum(self.load - hi, lo - self.load).max())

    def shed(self, lo: float, hi: float) -> np.ndarray:
        """Remove from each over-band territory the fewest atoms that fix it; returns them."""
        u = self.u
        out = []
        over_t = np.flatnonzero((self.load > hi).any(axis=1))
        for t in over_t:
            mem = self.members[t]
            if mem.size == 0:
                continue
            excess = self.load[t] - hi
            slack = self.load[t] - lo
            x = u[mem]
            over = excess > 0
            # Fewest atoms per over measure, largest first (the bound's out_t).
            need = 0
            for j in np.flatnonzero(over):
                c = np.cumsum(np.sort(x[:, j])[::-1])
                need = max(need, int(np.searchsorted(c, excess[j])) + 1)
            need = min(need, mem.size)
            score = (x[:, over] / excess[over]).sum(axis=1)
            if np.any(~over):
                score -= (x[:, ~over] / np.maximum(slack[~over], 1e-12)).sum(axis=1)
            order = np.argsort(-score, kind="stable")
            m = need
            while True:
                chosen = order[:m]
                if np.all(self.load[t] - x[chosen].sum(axis=0) <= hi) or m >= mem.size:
                    break
                m += 1
            gone = mem[chosen]
            self.load[t] -= x[chosen].sum(axis=0)
            keep = np.ones(mem.size, dtype=bool)
            keep[chosen] = False
            self.members[t] = mem[keep]
            self.assign[gone] = -1
            out.append(gone)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def place(self, pool: np.ndarray, lo: float, hi: float, origin: np.ndarray) -> None:
        """Put shed atoms where they fill deficits best, largest first."""
        u = self.u
        added: list[list[int]] = [[] for _ in range(self.k)]
        for i in pool[np.argsort(-u[pool].max(axis=1), kind="stable")]:
            xi = u[i]
            after = self.load + xi
            fits = (after <= hi).all(axis=1)
            deficit = np.maximum(lo - self.load, 0.0)
            gain = np.minimum(xi, deficit).sum(axis=1)
            if np.any(fits):
                g = np.where(fits, gain, -np.inf)
                if g.max() > 0:
                    t = int(np.argmax(g))
                else:
                    # No deficit to fill: home if it fits there, else the roomiest territory.
                    home = origin[i]
                    room = np.where(fits, (hi - after).min(axis=1), -np.inf)
                    t = home if home >= 0 and fits[home] else int(np.argmax(room))
            else:
                t = int(np.argmin(np.maximum(after - hi, 0.0).sum(axis=1)))
            self.assign[i] = t
            self.load[t] += xi
            added[t].append(int(i))
        for t in range(self.k):
            if added[t]:
                self.members[t] = np.concatenate([self.members[t], np.array(added[t])])

    def pull(self, lo: float, hi: float, deadline: float, donors: int = 6) -> None:
        """Fill remaining deficits with atoms from the territories with most surplus."""
        u = self.u
        while time.monotonic() < deadline:
            deficit = np.maximum(lo - self.load, 0.0)
            t = int(np.argmax(deficit.max(axis=1)))
            dt = deficit[t]
            if dt.max() <= 0:
                return
            need = dt > 0
            surplus = self.load - lo
            surplus[t] = -np.inf
            score = np.where(surplus.min(axis=1) > 0, (surplus[:, need]).sum(axis=1), -np.inf)
            best = None
            for d in np.argsort(-score)[:donors]:
                if not np.isfinite(score[d]):
                    break
                mem = self.members[d]
                if mem.size <= 1:
                    continue
                x = u[mem]
                ok = ((self.load[d] - x) >= lo).all(axis=1) & ((self.load[t] + x) <= hi).all(axis=1)
                if not np.any(ok):
                    continue
                gain = np.where(ok, np.minimum(x, dt).sum(axis=1), -np.inf)
                i = int(np.argmax(gain))
                if gain[i] > 0 and (best is None or gain[i] > best[0]):
                    best = (gain[i], int(d), i)
            if best is None:
                return
            _, d, i = best
            atom = self.members[d][i]
            self.members[d] = np.delete(self.members[d], i)
            self.members[t] = np.append(self.members[t], atom)
            self.assign[atom] = t
            self.load[d] -= u[atom]
            self.load[t] += u[atom]
