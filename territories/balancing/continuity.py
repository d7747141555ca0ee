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

from territories.balancing.bounds import measure_bound
from territories.balancing.greenfield import SegmentRun
from territories.balancing.search import improve_multi

# Land this fraction of the tolerance inside the band, so sums re-added in another order stay in.
INSIDE = 1e-9
# Up to this many atoms in a segment, continuity tries two landing margins and keeps the better.
SMALL = 200_000


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
    value_col: int | None = None,
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
    if cols.size == 0:  # nothing to balance in this segment
        u = np.ones((n, 1))
        _place_unowned(u, assign, k)
        return SegmentRun(assign, False, "nothing to balance")
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
            home=np.where(fixed >= 0, fixed, start),
        )
        return SegmentRun(a, False, "boundary moves from current owners")
    lo = 1.0 - tolerance * (1 - INSIDE)
    hi = 1.0 + tolerance * (1 - INSIDE)
    unit = np.all(w[:, cols] == 1.0, axis=0)
    key = value_col_local(cols, value_col, unit)
    # Where the value lands when a territory sheds: exactly at its ceiling, or a little inside.
    # Neither wins always; below SMALL atoms both run and the fewer moves win (deterministic).
    margins = (0.0, 0.05 * tolerance) if n <= SMALL else (0.05 * tolerance,)
    best = None
    for margin in margins:
        cand, ok = repair_band(
            u, assign, k, lo, hi, movable=fixed < 0, key=key, margin=margin, deadline=deadline
        )
        score = (not ok, int(np.sum(cand != assign)))
        if best is None or score < best[0]:
            best = (score, cand, ok)
    _, assign, ok = best
    if not ok and time.monotonic() < deadline:
        assign = improve_multi(
            u,
            assign,
            np.ones((k, u.shape[1])),
            movable=fixed < 0,
            active=np.ones(k, dtype=bool),
            exact_q=None,
            # Inside the band, or at the bound where the band is impossible (a whale).
            stop=np.maximum(
                tolerance * (1 - INSIDE),
                [measure_bound(w[:, j], k).max_dev_lb * (1 + 1e-9) for j in cols],
            ),
            deadline=deadline,
            rng=rng,
        )
    return SegmentRun(assign, False, "shed, place, pull")


def repair_band(
    u: np.ndarray,
    assign: np.ndarray,
    k: int,
    lo: float,
    hi: float,
    *,
    movable: np.ndarray,
    key: int | None,
    margin: float,
    deadline: float,
) -> tuple[np.ndarray, bool]:
    """Shed, place, pull (module docstring) on normalised ``u`` with the band ``[lo, hi]``.
    Returns ``(assign, inside)``; atoms of territories ``>= k`` are left alone."""
    home = assign.copy()
    state = _State(u, assign, k, movable=movable)
    pool = state.shed(lo, hi, key, margin=margin)
    state.place(pool, lo, hi, origin=home)
    state.pull(lo, hi, deadline)
    state.send_home(home, lo, hi)
    return state.assign, state.worst_violation(lo, hi) <= 0


def value_col_local(cols: np.ndarray, value_col: int | None, unit: np.ndarray) -> int | None:
    """Local column of the measure used to pick which atoms leave (value, else a non-count)."""
    local = [i for i, j in enumerate(cols) if not unit[i]]
    if not local:
        return None
    for i in local:
        if cols[i] == value_col:
            return i
    return local[0]


def _greedy_shed(x: np.ndarray, load: np.ndarray, hi: float) -> np.ndarray:
    """Indices of atoms (rows of ``x``) to remove, one at a time, each the largest on the measure
    most over ``hi``, until no measure is over (or one atom is left)."""
    left = load.copy()
    taken = np.zeros(x.shape[0], dtype=bool)
    while np.any(left > hi) and taken.sum() < x.shape[0] - 1:
        j = int(np.argmax(left - hi))
        i = int(np.argmax(np.where(taken, -np.inf, x[:, j])))
        taken[i] = True
        left -= x[i]
    return np.flatnonzero(taken)


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

    def shed(self, lo: float, hi: float, key: int | None, margin: float) -> np.ndarray:
        """Remove from each over-band territory the fewest atoms that fix it; returns them.

        ``m`` = the bound's ``out_t`` (largest first per over measure). Which ``m`` atoms: on the
        ``key`` measure (value) a window of the territory's atoms sorted by that measure whose sum
        lands the territory ``margin`` inside its ceiling (or removes as little as possible when
        that measure is not over); ``m`` grows by one until every measure is under the ceiling.
        """
        u = self.u
        out = []
        over_t = np.flatnonzero((self.load > hi).any(axis=1))
        for t in over_t:
            mem = self.members[t]
            if mem.size == 0:
                continue
            excess = self.load[t] - hi
            x = u[mem]
            over = excess > 0
            need = 0
            for j in np.flatnonzero(over):
                c = np.cumsum(np.sort(x[:, j])[::-1])
                need = max(need, int(np.searchsorted(c, excess[j])) + 1)
            need = min(need, mem.size)
            if key is None:
                srt = np.argsort(-x[:, over].sum(axis=1), kind="stable")
                want = None
            else:
                srt = np.argsort(x[:, key], kind="stable")
                want = max(excess[key] + margin, 0.0)
                csum = np.concatenate([[0.0], np.cumsum(x[srt, key])])
            m = need
            while True:
                if want is None:
                    chosen = srt[:m]
                else:
                    sums = csum[m:] - csum[: csum.size - m]
                    s0 = int(np.argmin(np.abs(sums - want)))
                    chosen = srt[s0 : s0 + m]
                if np.all(self.load[t] - x[chosen].sum(axis=0) <= hi) or m >= mem.size:
                    break
                if m >= need + 2:
                    # The window on one measure does not fix the others (their large atoms are
                    # elsewhere in its order): take atoms by what they remove from the over
                    # measures instead, one at a time.
                    chosen = _greedy_shed(x, self.load[t], hi)
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
        """Fill remaining deficits with atoms from the territories with most surplus.

        When no single arrival fits (another measure is at its ceiling — typically a territory
        full on count but short of value), exchange: a large atom arrives and the territory's
        smallest atom on the blocking measures goes to the donor instead.
        """
        u = self.u
        skip = np.zeros(self.k, dtype=bool)
        # Progress guard: making room and pulling can undo each other; stop when the total
        # violation has not fallen for a while (a deterministic end on impossible bands).
        least, idle, window = np.inf, 0, 4 * self.k + 50
        while time.monotonic() < deadline and idle < window:
            violation = float(
                np.maximum(lo - self.load, 0.0).sum() + np.maximum(self.load - hi, 0.0).sum()
            )
            if violation < least - 1e-12:
                least, idle = violation, 0
            else:
                idle += 1
            deficit = np.maximum(lo - self.load, 0.0)
            worst = deficit.max(axis=1)
            worst[skip] = 0.0
            t = int(np.argmax(worst))
            dt = deficit[t]
            if worst[t] <= 0:
                return
            need = dt > 0
            surplus = self.load - lo
            surplus[t] = -np.inf
            score = np.where(surplus.min(axis=1) > 0, (surplus[:, need]).sum(axis=1), -np.inf)
            cand = [int(d) for d in np.argsort(-score)[:donors] if np.isfinite(score[d])]
            best = None
            for d in cand:
                mem = self.members[d]
                if mem.size <= 1:
                    continue
                x = u[mem]
                ok = ((self.load[d] - x) >= lo).all(axis=1) & ((self.load[t] + x) <= hi).all(axis=1)
                if np.any(ok):
                    gain = np.where(ok, np.minimum(x, dt).sum(axis=1), -np.inf)
                    i = int(np.argmax(gain))
                    if gain[i] > 0 and (best is None or gain[i] > best[0]):
                        best = (gain[i], d, i, -1)
            if best is None:
                best = self._exchange(t, dt, cand, lo, hi)
            if best is None:
                if self._make_room(t, lo, hi):
                    skip[:] = False
                else:
                    skip[t] = True
                continue
            skip[:] = False
            _, d, i, j = best
            atom = self.members[d][i]
            self._move(atom, d, t, i)
            if j >= 0:
                back = self.members[t][j]
                self._move(back, t, d, j)

    def _exchange(self, t, dt, cand, lo, hi):
        """Best exchange for ``t``: ``(gain, donor, index in donor, index in t)`` or ``None``."""
        u = self.u
        mem_t = self.members[t]
        if mem_t.size <= 1:
            return None
        full = self.load[t] + u[mem_t].min(axis=0) > hi  # measures with no room
        yt = u[mem_t]
        j = (
            int(np.argmin(yt[:, full].sum(axis=1)))
            if np.any(full)
            else int(np.argmin(yt.sum(axis=1)))
        )
        y = yt[j]
        best = None
        for d in cand:
            mem = self.members[d]
            if mem.size <= 1:
                continue
            x = u[mem]
            net = x - y
            ok = ((self.load[d] - net) >= lo).all(axis=1) & ((self.load[d] - net) <= hi).all(axis=1)
            ok &= ((self.load[t] + net) <= hi).all(axis=1)
            if not np.any(ok):
                continue
            gain = np.where(ok, np.minimum(np.maximum(net, 0.0), dt).sum(axis=1), -np.inf)
            i = int(np.argmax(gain))
            if gain[i] > 0 and (best is None or gain[i] > best[0]):
                best = (gain[i], d, i, j)
        return best

    def _make_room(self, t: int, lo: float, hi: float) -> bool:
        """``t`` lacks one measure but is full on another: send its largest atom on the full
        measures to the territory that takes it best (a deficit there, or the most room)."""
        u = self.u
        mem = self.members[t]
        if mem.size <= 1:
            return False
        x = u[mem]
        short = self.load[t] < lo
        if not np.any(short):
            return False
        # Measures without room for what is still to come: the atoms the deficit needs (at a
        # typical size) times a small atom (10th percentile) must fit under the ceiling.
        typical = np.maximum(np.median(x, axis=0), 1e-15)
        arrivals = float(np.max((lo - self.load[t])[short] / typical[short]))
        small = np.quantile(x, 0.1, axis=0)
        full = ~short & (self.load[t] + max(arrivals, 1.0) * small > hi)
        if not np.any(full):
            return False
        allowed = ~((self.load[t] - x < lo) & (self.load[t] >= lo)).any(axis=1)
        if not np.any(allowed):
            return False
        size = np.where(allowed, x[:, full].sum(axis=1), -np.inf)
        # Largest first; the first one some other territory can take.
        for i in np.argsort(-size, kind="stable")[:64].tolist():
            if not np.isfinite(size[i]):
                break
            xi = x[i]
            after = self.load + xi
            fits = (after <= hi).all(axis=1)
            fits[t] = False
            if not np.any(fits):
                continue
            gain = np.minimum(xi, np.maximum(lo - self.load, 0.0)).sum(axis=1)
            room = (hi - after).min(axis=1)
            d = int(np.argmax(np.where(fits, gain * 1e6 + room, -np.inf)))
            self._move(int(mem[i]), t, d, i)
            return True
        return False

    def send_home(self, home: np.ndarray, lo: float, hi: float) -> int:
        """Undo moves that are no longer needed: an atom away from home goes back when both its
        territory and its home stay inside the band (largest first). Returns how many."""
        away = np.flatnonzero((self.assign != home) & (self.assign >= 0) & (home >= 0))
        back = 0
        for i in away[np.argsort(-self.u[away].sum(axis=1), kind="stable")].tolist():
            t, h = int(self.assign[i]), int(home[i])
            x = self.u[i]
            if np.all(self.load[t] - x >= lo) and np.all(self.load[h] + x <= hi):
                self._move(i, t, h, int(np.flatnonzero(self.members[t] == i)[0]))
                back += 1
        return back

    def _move(self, atom: int, src: int, dst: int, index: int) -> None:
        self.members[src] = np.delete(self.members[src], index)
        self.members[dst] = np.append(self.members[dst], atom)
        self.assign[atom] = dst
        self.load[src] -= self.u[atom]
        self.load[dst] += self.u[atom]
