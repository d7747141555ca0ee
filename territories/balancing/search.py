"""Search engines shared by the greenfield, continuity and growth runs.

Units: every engine works on *normalised* measures ``u = w / mean`` (one column per balanced
measure), so a territory's target load is about 1.0 and a deviation of 0.01 is 1 % of the mean.
``assign`` arrays hold local territory indices ``0 .. k-1``.

* :func:`deal` — largest first to the lightest territory with room, in rounds (exact counts).
* :func:`improve_1d` — one balanced measure (plus exact counts): pairs the heaviest with the
  lightest territories and exchanges atoms whose difference is the half-gap (``searchsorted``).
* :func:`improve_multi` — several measures: exchanges and moves between the worst territory and
  its most complementary partners, accepted when they lower the pair's worst deviation (then its
  sum of squares), so the global worst deviation never rises and the search terminates.
* :func:`polish_small` — small segments (few atoms per territory): every split of two
  territories' atoms, cyclic exchanges among three, and seeded perturbations, towards the exact
  solver's objective.
* :func:`exact_milp` — the exact optimum of small instances with ``scipy.optimize.milp``.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import Bounds as LPBounds
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_matrix

# Branch-and-bound nodes allowed to the exact solver (deterministic work limit).
MILP_NODES = 5000
# Most Python steps of the deal (each step one or more rounds; see ``deal``).
DEAL_STEPS = 20_000
# ``polish_small``: the largest pooled pair of territories whose every split is tried (2**14
# subsets), the atoms per territory a cyclic exchange looks at, how many perturbations follow
# the first local optimum, how many territories head the pair search, and the work budget
# (candidate assignments evaluated, at least ``POLISH_CALL`` per evaluation for the Python
# overhead of a call; a deterministic end, under a second).
POLISH_POOL = 14
CYCLE_SAMPLE = 12
POLISH_KICKS = 100
PAIR_HEADS = 4
POLISH_WORK = 2_000_000
POLISH_CALL = 1_000


def deal(
    key: np.ndarray,
    load: np.ndarray,
    count: np.ndarray,
    capacity: np.ndarray | None,
) -> np.ndarray:
    """Deal atoms, given in descending ``key`` order, to territories.

    Args:
        key: ``(m,)`` the atoms' weights in dealing order (largest first).
        load: ``(k,)`` current loads (updated in place).
        count: ``(k,)`` current atom counts (updated in place).
        capacity: ``(k,)`` maximum atoms per territory, or ``None`` for no limit.

    Returns:
        ``(m,)`` territory per atom. Each round gives one atom to every territory with room, the
        largest atom of the round to the lightest territory. When there are more than
        ``DEAL_STEPS`` rounds, each step deals several rounds in a serpentine over the territories
        sorted by load, so the Python loop never runs more than ``DEAL_STEPS`` times.
    """
    m = key.size
    k = load.size
    out = np.empty(m, dtype=np.int64)
    if capacity is None:
        capacity = np.full(k, np.iinfo(np.int64).max // 4)
    rounds = -(-m // k)
    per_step = max(1, -(-rounds // DEAL_STEPS))
    pos = 0
    while pos < m:
        room = np.flatnonzero(count < capacity)
        if room.size == 0:
            raise ValueError("no territory has room left")
        order = room[np.argsort(load[room], kind="stable")]
        c = min(per_step, int((capacity[room] - count[room]).min()), (m - pos) // room.size)
        if c >= 2:
            block = np.tile(np.concatenate([order, order[::-1]]), c // 2 + 1)[: c * room.size]
            out[pos : pos + block.size] = block
            np.add.at(load, block, key[pos : pos + block.size])
            count[room] += c
            pos += block.size
            continue
        take = min(room.size, m - pos)
        order = order[:take]
        out[pos : pos + take] = order
        load[order] += key[pos : pos + take]
        count[order] += 1
        pos += take
    return out


def deal_two_ends(
    key: np.ndarray,
    order: np.ndarray,
    load: np.ndarray,
    count: np.ndarray,
    q: int,
    target: float,
    out: np.ndarray,
) -> np.ndarray:
    """Exact-count deal from both ends of the sorted atoms; returns the atoms left over.

    Every territory with fewer than ``q`` atoms gets one atom per round. A territory that needs
    more per remaining slot than the remaining atoms' average takes from the top (largest atom to
    the neediest); one that needs less takes from the bottom (smallest atom to the least needy).
    So a territory holding a big atom is topped up with the smallest atoms, not with the smallest
    of each round. ``order`` is descending in ``key``; ``out[atom]`` receives the territory.
    Returns the atoms not dealt (the middle of ``order``), at most one per territory short of
    ``q + 1``.
    """
    top, bot = 0, order.size
    csum = np.concatenate([[0.0], np.cumsum(key[order])])
    rounds = int(max(q - count.min(), 0))
    per_step = max(1, -(-rounds // DEAL_STEPS))
    while bot > top:
        room = np.flatnonzero(count < q)
        if room.size == 0 or room.size > bot - top:
            break
        slots = q - count[room]
        c = min(per_step, int(slots.min()), (bot - top) // room.size)
        per_slot = (target - load[room]) / slots
        avg = (csum[bot] - csum[top]) / (bot - top)
        high = per_slot >= avg
        a = room[high][np.argsort(-per_slot[high], kind="stable")]
        b = room[~high][np.argsort(per_slot[~high], kind="stable")]
        if c >= 2:
            blk_a = np.tile(np.concatenate([a, a[::-1]]), c // 2 + 1)[: c * a.size]
            blk_b = np.tile(np.concatenate([b, b[::-1]]), c // 2 + 1)[: c * b.size]
        else:
            blk_a, blk_b = a, b
        ta = order[top : top + blk_a.size]
        tb = order[bot - blk_b.size : bot][::-1]
        out[ta] = blk_a
        out[tb] = blk_b
        np.add.at(load, blk_a, key[ta])
        np.add.at(load, blk_b, key[tb])
        count[room] += c if c >= 2 else 1
        top += blk_a.size
        bot -= blk_b.size
    return order[top:bot]


def improve_1d(
    u: np.ndarray,
    assign: np.ndarray,
    target: np.ndarray,
    *,
    movable: np.ndarray,
    active: np.ndarray,
    exact_q: int | None,
    stop: float,
    deadline: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Balance one measure by pairwise exchanges; returns the improved ``assign`` (a copy).

    Args:
        u: ``(n,)`` normalised measure.
        assign: ``(n,)`` local territory per atom.
        target: ``(k,)`` target load per territory.
        movable: ``(n,)`` atoms that may change territory.
        active: ``(k,)`` territories taking part (closed whale territories do not).
        exact_q: with exact counts every territory keeps ``q`` or ``q+1`` atoms (exchanges keep
            counts; a single move goes from a ``q+1`` to a ``q`` territory); ``None``: free moves.
        stop: finish when every active territory is within ``stop`` of its target.
        deadline: ``time.monotonic()`` limit.

    Invariant: each accepted exchange moves both territories strictly between their old loads,
    so the worst deviation never rises and the sum of squared deviations strictly falls.
    """
    assign = assign.copy()
    k = target.size
    load = np.bincount(assign, weights=u, minlength=k)
    cnt = np.bincount(assign, minlength=k)
    mv = np.flatnonzero(movable & active[assign])
    order = mv[np.lexsort((u[mv], assign[mv]))]
    bounds_ = np.searchsorted(assign[order], np.arange(k + 1))
    vals = [u[order[bounds_[t] : bounds_[t + 1]]] for t in range(k)]
    ids = [order[bounds_[t] : bounds_[t + 1]] for t in range(k)]
    act = np.flatnonzero(active)
    if act.size < 2:
        return assign
    random_tries = 0
    while time.monotonic() < deadline:
        r = load - target
        ra = r[act]
        if np.abs(ra).max() <= stop:
            break
        srt = act[np.argsort(-ra, kind="stable")]
        half = srt.size // 2
        if random_tries == 0:
            pairs = zip(srt[:half], srt[::-1][:half], strict=True)
        else:
            p = rng.permutation(act)
            pairs = (
                (x, y) if r[x] >= r[y] else (y, x) for x, y in zip(p[0::2], p[1::2], strict=False)
            )
        improved = 0
        for a, b in pairs:
            delta = 0.5 * (r[a] - r[b])
            if delta <= 0.5 * stop:
                if random_tries == 0:
                    break
                continue
            best = _best_exchange(vals[a], vals[b], delta, exact_q, cnt[a], cnt[b])
            if best is None:
                continue
            ix, iy, e = best
            x = ids[a][ix]
            ux = vals[a][ix]
            vals[a] = np.delete(vals[a], ix)
            ids[a] = np.delete(ids[a], ix)
            if iy >= 0:
                y = ids[b][iy]
                uy = vals[b][iy]
                vals[b] = np.delete(vals[b], iy)
                ids[b] = np.delete(ids[b], iy)
                p_a = np.searchsorted(vals[a], uy)
                vals[a] = np.insert(vals[a], p_a, uy)
                ids[a] = np.insert(ids[a], p_a, y)
                assign[y] = a
            else:
                cnt[a] -= 1
                cnt[b] += 1
            p_b = np.searchsorted(vals[b], ux)
            vals[b] = np.insert(vals[b], p_b, ux)
            ids[b] = np.insert(ids[b], p_b, x)
            assign[x] = b
            load[a] -= e
            load[b] += e
            r[a] -= e
            r[b] += e
            improved += 1
        if improved == 0:
            random_tries += 1
            if random_tries > 4:
                break
        else:
            random_tries = 0
    return assign


def _best_exchange(va, vb, delta, exact_q, ca, cb):
    """Best exchange (or move) from sorted ``va`` to sorted ``vb`` whose net transfer ``e`` is
    closest to ``delta``; ``None`` unless ``0 < e < 2*delta``. Returns ``(ix, iy, e)``, ``iy=-1``
    for a single move."""
    best = None
    # Must beat "no change" (err == delta) by more than float noise, or equal swaps could cycle.
    best_err = delta * (1 - 1e-7)
    if va.size and vb.size:
        want = va - delta
        pos = np.searchsorted(vb, want)
        lo = np.clip(pos - 1, 0, vb.size - 1)
        hi = np.clip(pos, 0, vb.size - 1)
        e_lo = va - vb[lo]
        e_hi = va - vb[hi]
        err_lo = np.abs(e_lo - delta)
        err_hi = np.abs(e_hi - delta)
        i_lo = int(np.argmin(err_lo))
        i_hi = int(np.argmin(err_hi))
        if err_lo[i_lo] <= err_hi[i_hi]:
            ix, iy, e, err = i_lo, int(lo[i_lo]), e_lo[i_lo], err_lo[i_lo]
        else:
            ix, iy, e, err = i_hi, int(hi[i_hi]), e_hi[i_hi], err_hi[i_hi]
        if err < best_err and e > 0:
            best, best_err = (ix, iy, float(e)), err
    move_ok = exact_q is None or (ca == exact_q + 1 and cb == exact_q)
    if move_ok and va.size > 1:
        pos = int(np.searchsorted(va, delta))
        for ix in (pos - 1, pos):
            if 0 <= ix < va.size:
                e = float(va[ix])
                err = abs(e - delta)
                if e > 0 and err < best_err:
                    best, best_err = (ix, -1, e), err
    return best


def improve_multi(
    u: np.ndarray,
    assign: np.ndarray,
    target: np.ndarray,
    *,
    movable: np.ndarray,
    active: np.ndarray,
    exact_q: int | None,
    stop: float | np.ndarray,
    deadline: float,
    rng: np.random.Generator,
    sample: int = 96,
    partners: int = 8,
    patience: int | None = None,
) -> np.ndarray:
    """Balance several measures at once; returns the improved ``assign`` (a copy).

    Args are as for :func:`improve_1d` with ``u`` ``(n, d)`` and ``target`` ``(k, d)``;
    ``stop`` may be ``(d,)``: a territory is done when ``|dev_j| <= stop_j`` for every ``j``
    (the per-measure lower bounds: nothing better exists).
    ``sample`` caps the atoms of each territory looked at per pair (random, seeded);
    ``partners`` is how many complementary territories are tried before all of them.

    Repeatedly takes the worst territory ``a`` (largest ``max_j |load - target| - stop_j``) and
    looks for the exchange ``x <-> y`` or single move with another territory ``b`` that minimises
    the pair's worst excess over ``stop``, then its sum of squares (``_score``). A territory with no improving operation is
    set aside until something changes. Stops at ``stop``, when stuck, after ``patience``
    operations (default ``10 k + 200``) in a row that lower the worst excess by less than 0.1 %
    of itself (a deterministic end: long tails of tiny gains are not worth the time), or at the
    deadline.
    """
    assign = assign.copy()
    k, d = target.shape
    load = np.zeros((k, d))
    np.add.at(load, assign, u)
    dev = load - target
    cnt = np.bincount(assign, minlength=k)
    mv = np.flatnonzero(movable & active[assign])
    order = mv[np.argsort(assign[mv], kind="stable")]
    cuts = np.searchsorted(assign[order], np.arange(k + 1))
    members = [order[cuts[t] : cuts[t + 1]] for t in range(k)]
    stuck = np.zeros(k, dtype=bool)
    act = active.copy()
    changed_since_reset = True
    stop = np.broadcast_to(np.asarray(stop, dtype=np.float64), (d,))
    patience = 10 * k + 200 if patience is None else patience
    best_worst = float((np.abs(dev[act]) - stop).max()) if act.any() else 0.0
    idle = 0
    while time.monotonic() < deadline and idle < patience:
        norm = (np.abs(dev) - stop).max(axis=1)
        norm[~act] = -1.0
        if norm.max() <= 0:
            break
        norm[stuck] = -1.0
        a = int(np.argmax(norm))
        if norm[a] <= 0:
            # Everything above ``stop`` is set aside: look again once after any change.
            if not changed_since_reset:
                break
            stuck[:] = False
            changed_since_reset = False
            continue
        others = np.flatnonzero(act)
        others = others[others != a]
        score = dev[others] @ dev[a]
        ranked = others[np.argsort(score, kind="stable")]
        op = None
        for group in (ranked[:partners], ranked[partners:]):
            best = None
            for b in group:
                cand = _pair_op(u, members, dev, cnt, a, int(b), exact_q, sample, rng, stop)
                if cand is not None and (best is None or cand[0] < best[0]):
                    best = cand
            if best is not None:
                op = best
                break
        if op is None:
            stuck[a] = True
            continue
        _, b, xs, ys = op
        for x in xs:
            members[a] = members[a][members[a] != x]
            members[b] = np.append(members[b], x)
            assign[x] = b
            dev[a] -= u[x]
            dev[b] += u[x]
        for y in ys:
            members[b] = members[b][members[b] != y]
            members[a] = np.append(members[a], y)
            assign[y] = a
            dev[b] -= u[y]
            dev[a] += u[y]
        cnt[a] += len(ys) - len(xs)
        cnt[b] += len(xs) - len(ys)
        stuck[a] = stuck[b] = False
        changed_since_reset = True
        worst_now = float((np.abs(dev[act]) - stop).max())
        if worst_now < best_worst - max(1e-7, 1e-3 * best_worst):
            best_worst, idle = worst_now, 0
        else:
            idle += 1
    return assign


def _score(na, nb, stop):
    """Pair objective: the worst excess over ``stop`` (per measure), then the sum of squared
    excesses plus a small share of the squared deviations (keeps every measure near its mean
    when another one cannot be: a whale must not let the count drift)."""
    ea = np.maximum(np.abs(na) - stop, 0.0)
    eb = np.maximum(np.abs(nb) - stop, 0.0)
    obj = np.maximum(ea.max(-1), eb.max(-1))
    ss = (ea * ea).sum(-1) + (eb * eb).sum(-1) + 1e-3 * ((na * na).sum(-1) + (nb * nb).sum(-1))
    return obj, ss


def _pair_op(u, members, dev, cnt, a, b, exact_q, sample, rng, stop):
    """Best improving operation between territories ``a`` and ``b``:
    ``((obj, ss), b, [atoms a->b], [atoms b->a])`` or ``None``."""
    ma, mb = members[a], members[b]
    if ma.size > sample:
        ma = rng.choice(ma, sample, replace=False)
    if mb.size > sample:
        mb = rng.choice(mb, sample, replace=False)
    da, db = dev[a], dev[b]
    old_obj, old_ss = (float(v) for v in _score(da, db, stop))
    x, y = u[ma], u[mb]
    best = None
    if ma.size and mb.size:
        e = x[:, None, :] - y[None, :, :]
        obj, ss = _score(da - e, db + e, stop)
        best = _pick(obj.ravel(), ss.ravel())
        if best is not None:
            i, o, s = best
            best = ((o, s), b, [int(ma[i // mb.size])], [int(mb[i % mb.size])])
    for src, dst, pool, sign in ((a, b, ma, 1.0), (b, a, mb, -1.0)):
        if exact_q is not None and not (cnt[src] == exact_q + 1 and cnt[dst] == exact_q):
            continue
        if pool.size <= 1:
            continue
        e = sign * u[pool]
        obj, ss = _score(da - e, db + e, stop)
        cand = _pick(obj, ss)
        if cand is not None:
            i, o, s = cand
            if best is None or (o, s) < best[0]:
                atom = [int(pool[i])]
                best = ((o, s), b, atom, []) if sign > 0 else ((o, s), b, [], atom)
    if best is None:
        return None
    (o, s) = best[0]
    if o < old_obj - 1e-12 or (o <= old_obj and s < old_ss * (1 - 1e-9) - 1e-15):
        return best
    return None


def _pick(obj: np.ndarray, ss: np.ndarray):
    """Index of the lexicographic minimum of ``(obj, ss)``."""
    if obj.size == 0:
        return None
    m = obj.min()
    cand = np.flatnonzero(obj <= m + 1e-15)
    i = int(cand[np.argmin(ss[cand])])
    return i, float(obj[i]), float(ss[i])


def polish_small(
    u: np.ndarray,
    assign: np.ndarray,
    k: int,
    *,
    movable: np.ndarray,
    exact_q: int | None,
    cap: float | None,
    cap_col: int | None,
    ceiling: float,
    rng: np.random.Generator,
    deadline: float,
    kicks: int = POLISH_KICKS,
) -> np.ndarray:
    """Polish a small segment towards the exact solver's objective; returns a better ``assign``.

    The exchange searches trade one atom for one between two territories; with a handful of
    atoms per territory their local optima can sit well above the optimum. This search minimises,
    lexicographically:

    1. the worst **cap excess** ``max(0, top_t - cap * min(value_t, ceiling))`` (``0`` without a
       cap; ``top_t`` is the territory's largest value, ``ceiling`` the band's top ``1 + tol``,
       so the cap never pushes a territory out of the band — as ``_apply_cap`` in greenfield);
    2. the worst deviation ``max_t max_j |load_tj - 1|`` (what ``exact_milp`` minimises);
    3. the sum of squared deviations.

    Neighbourhoods: every split of the pooled movable atoms of two territories (when they hold at
    most ``POLISH_POOL``; counts stay in ``[q, q + 1]`` with exact counts, at least 1 without) and
    cyclic exchanges ``x: a -> b, y: b -> c, z: c -> a`` from the worst territory. After the first
    local optimum, ``kicks`` times: swap two random pairs of atoms (or, without exact counts, move
    an atom instead, even odds) and search again from the best
    so far, keeping the better. Deterministic for the ``rng``; stops after ``POLISH_WORK``
    candidate assignments have been evaluated (or at the ``deadline``).

    Args:
        u: ``(n, d)`` normalised measures (target 1 per territory and measure).
        assign: ``(n,)`` local territory per atom, ``0 .. k-1``.
        k: number of territories.
        movable: ``(n,)`` atoms that may change territory.
        cap_col: column of ``u`` holding the value the cap is on.
    """
    polish = _Polish(u, k, movable, exact_q, cap, cap_col, ceiling)
    if polish.k < 2:
        return assign.copy()
    best = polish.local(assign, deadline)
    best_key = polish.key(best)
    for _ in range(kicks):
        if polish.spent(deadline):
            break
        trial = best.copy()
        for _ in range(2):
            a, b = rng.choice(polish.k, 2, replace=False)
            xa = np.flatnonzero(movable & (trial == a))
            xb = np.flatnonzero(movable & (trial == b))
            if exact_q is None and xa.size > 1 and rng.random() < 0.5:
                trial[rng.choice(xa)] = b  # free counts: a move, so counts change too
            elif xa.size and xb.size:
                x, y = rng.choice(xa), rng.choice(xb)
                trial[x], trial[y] = b, a
        trial = polish.local(trial, deadline)
        key = polish.key(trial)
        if _lex_better(key, best_key):
            best, best_key = trial, key
    return best


def _lex_better(new, old) -> bool:
    """``new`` = ``(cap excess, worst deviation, sum of squares)`` beats ``old`` by more than
    float noise (never by a rise of an earlier term)."""
    for i in (0, 1):
        if new[i] < old[i] - 1e-12:
            return True
        if new[i] > old[i] + 1e-12:
            return False
    return bool(new[2] < old[2] * (1 - 1e-9) - 1e-15)


class _Polish:
    """State shared by the moves of :func:`polish_small` (one segment)."""

    def __init__(self, u, k, movable, exact_q, cap, cap_col, ceiling):
        self.u = u
        self.k = k
        self.movable = movable
        self.q = exact_q
        self.cap = cap if cap is not None and cap_col is not None else None
        self.v = u[:, cap_col] if self.cap is not None else None
        self.cap_col = cap_col
        self.ceiling = ceiling
        self.bits: dict[int, np.ndarray] = {}
        self.work = 0

    def spent(self, deadline: float) -> bool:
        return self.work >= POLISH_WORK or time.monotonic() >= deadline

    def _excess(self, top, value):
        return np.maximum(top - self.cap * np.minimum(value, self.ceiling), 0.0)

    def key(self, assign):
        k, d = self.k, self.u.shape[1]
        load = np.zeros((k, d))
        np.add.at(load, assign, self.u)
        dev = load - 1.0
        excess = 0.0
        if self.cap is not None:
            top = np.zeros(k)
            np.maximum.at(top, assign, self.v)
            excess = float(self._excess(top, load[:, self.cap_col]).max())
        return excess, float(np.abs(dev).max()), float((dev * dev).sum())

    def local(self, assign, deadline):
        assign = assign.copy()
        k, d = self.k, self.u.shape[1]
        load = np.zeros((k, d))
        np.add.at(load, assign, self.u)
        cnt = np.bincount(assign, minlength=k)
        for _ in range(200 * k):
            if self.spent(deadline):
                break
            dev = np.abs(load - 1.0).max(axis=1)
            if self.cap is not None:
                top = np.zeros(k)
                np.maximum.at(top, assign, self.v)
                worst = self._excess(top, load[:, self.cap_col]) * 1e6 + dev
            else:
                worst = dev
            order = [int(t) for t in np.argsort(-worst, kind="stable")]
            if self._pairs(assign, load, cnt, order) or self._cycles(assign, load, order):
                continue
            break
        return assign

    def _pairs(self, assign, load, cnt, order) -> bool:
        for i, a in enumerate(order[:PAIR_HEADS]):
            for b in order[i + 1 :]:
                if self._split(assign, load, cnt, a, b):
                    return True
        return False

    def _split(self, assign, load, cnt, a, b) -> bool:
        """The best split of the movable atoms of ``a`` and ``b``; applied if it improves."""
        pool = np.flatnonzero(self.movable & ((assign == a) | (assign == b)))
        m = pool.size
        if m < 2 or m > POLISH_POOL:
            return False
        if m not in self.bits:
            self.bits[m] = ((np.arange(1 << m)[:, None] >> np.arange(m)) & 1).astype(np.float64)
        bits = self.bits[m]
        self.work += max(bits.shape[0], POLISH_CALL)
        up = self.u[pool]
        in_a = assign[pool] == a
        base_a = load[a] - up[in_a].sum(axis=0)
        base_b = load[b] - up[~in_a].sum(axis=0)
        to_a = bits @ up
        da = base_a + to_a - 1.0
        db = base_b + (up.sum(axis=0) - to_a) - 1.0
        worst = np.maximum(np.abs(da).max(axis=1), np.abs(db).max(axis=1))
        ss = (da * da).sum(axis=1) + (db * db).sum(axis=1)
        excess = np.zeros(worst.size)
        if self.cap is not None:
            vp = self.v[pool]
            fixed_a = self.v[(assign == a) & ~self.movable]
            fixed_b = self.v[(assign == b) & ~self.movable]
            top_a = np.maximum((bits * vp).max(axis=1), fixed_a.max(initial=0.0))
            top_b = np.maximum(((1.0 - bits) * vp).max(axis=1), fixed_b.max(initial=0.0))
            c = self.cap_col
            excess = np.maximum(
                self._excess(top_a, da[:, c] + 1.0), self._excess(top_b, db[:, c] + 1.0)
            )
        n_a = bits.sum(axis=1)
        ca = cnt[a] - in_a.sum() + n_a
        cb = cnt[b] - (~in_a).sum() + (m - n_a)
        if self.q is not None:
            ok = (ca >= self.q) & (ca <= self.q + 1) & (cb >= self.q) & (cb <= self.q + 1)
        else:
            ok = (ca >= 1) & (cb >= 1)
        cur = int((in_a.astype(np.int64) << np.arange(m)).sum())
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            return False
        i = int(cand[np.lexsort((ss[cand], worst[cand], excess[cand]))[0]])
        if not _lex_better((excess[i], worst[i], ss[i]), (excess[cur], worst[cur], ss[cur])):
            return False
        side = bits[i] > 0
        assign[pool] = np.where(side, a, b)
        load[a] = base_a + to_a[i]
        load[b] = base_b + up.sum(axis=0) - to_a[i]
        cnt[a] = int(ca[i])
        cnt[b] = int(cb[i])
        return True

    def _cycles(self, assign, load, order) -> bool:
        """Cyclic exchanges ``x: a -> b, y: b -> c, z: c -> a`` from the worst territory ``a``
        (counts unchanged); the best one is applied if it improves the three territories."""
        a = order[0]
        members = {}
        for t in order:
            mt = np.flatnonzero(self.movable & (assign == t))
            members[t] = mt[:CYCLE_SAMPLE]
        if members[a].size == 0:
            return False
        u = self.u
        x = u[members[a]][:, None, None, :]
        for b in order[1:]:
            for c in order[1:]:
                if b == c or members[b].size == 0 or members[c].size == 0:
                    continue
                y = u[members[b]][None, :, None, :]
                z = u[members[c]][None, None, :, :]
                self.work += max(x.shape[0] * y.shape[1] * z.shape[2], POLISH_CALL)
                da = load[a] - 1.0 - x + z
                db = load[b] - 1.0 + x - y
                dc = load[c] - 1.0 + y - z
                da, db, dc = np.broadcast_arrays(da, db, dc)
                worst = np.maximum(
                    np.maximum(np.abs(da).max(axis=-1), np.abs(db).max(axis=-1)),
                    np.abs(dc).max(axis=-1),
                )
                ss = (da * da).sum(-1) + (db * db).sum(-1) + (dc * dc).sum(-1)
                now = np.stack([load[a], load[b], load[c]]) - 1.0
                old = (0.0, float(np.abs(now).max()), float((now * now).sum()))
                excess = np.zeros(worst.shape)
                if self.cap is not None:
                    col = self.cap_col
                    ex = []
                    for t, out, inn, delta in (
                        (a, (slice(None), None, None), (None, None, slice(None)), da),
                        (b, (None, slice(None), None), (slice(None), None, None), db),
                        (c, (None, None, slice(None)), (None, slice(None), None), dc),
                    ):
                        in_vals = self.v[members[{a: c, b: a, c: b}[t]]][inn]
                        top = np.maximum(self._top_without(assign, t, members[t])[out], in_vals)
                        ex.append(self._excess(top, delta[..., col] + 1.0))
                    excess = np.maximum(np.maximum(ex[0], ex[1]), ex[2])
                    top_now = [self.v[assign == t].max(initial=0.0) for t in (a, b, c)]
                    old = (
                        float(self._excess(np.array(top_now), now[:, col] + 1.0).max()),
                        *old[1:],
                    )
                flat = np.lexsort((ss.ravel(), worst.ravel(), excess.ravel()))[0]
                i = np.unravel_index(int(flat), worst.shape)
                if not _lex_better((excess[i], worst[i], ss[i]), old):
                    continue
                xi, yi, zi = members[a][i[0]], members[b][i[1]], members[c][i[2]]
                assign[xi], assign[yi], assign[zi] = b, c, a
                load[a] += u[zi] - u[xi]
                load[b] += u[xi] - u[yi]
                load[c] += u[yi] - u[zi]
                return True
        return False

    def _top_without(self, assign, t, members):
        """``(len(members),)`` the largest value left in ``t`` when each member leaves."""
        vals = self.v[assign == t]
        if vals.size < 2:
            return np.zeros(members.size)
        s = np.sort(vals)
        first, second = s[-1], s[-2]
        mv = self.v[members]
        return np.where((mv == first) & (second < first), second, first)


def exact_milp(
    u: np.ndarray,
    k: int,
    *,
    fixed: np.ndarray,
    exact_q: int | None,
    cap: float | None,
    value: np.ndarray | None,
    time_limit: float,
) -> tuple[np.ndarray | None, float | None, bool]:
    """Minimise the worst normalised deviation exactly with ``scipy.optimize.milp``.

    Args:
        u: ``(n, d)`` normalised measures (target 1 per territory and measure).
        fixed: ``(n,)`` territory of locked atoms, ``-1`` for free atoms.
        exact_q: every territory holds ``q`` or ``q+1`` atoms, or ``None``.
        cap: largest-atom share cap (fraction) on ``value`` ``(n,)``, or ``None``.

    Returns:
        ``(assign, z, proven)``: the best assignment found (or ``None``), its worst deviation
        and whether HiGHS proved it optimal within ``time_limit`` seconds.

    Variables ``x[i, t]`` (binary, index ``i*k + t``) and ``z``; constraints
    ``sum_t x[i,t] = 1``, ``-z <= sum_i u[i,j] x[i,t] - 1 <= z``, counts, caps.
    """
    n, d = u.shape
    nv = n * k + 1
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0

    def add(cs, vs, lo_, hi_):
        nonlocal r
        rows.extend([r] * len(cs))
        cols.extend(cs)
        vals.extend(vs)
        lo.append(lo_)
        hi.append(hi_)
        r += 1

    for i in range(n):
        add([i * k + t for t in range(k)], [1.0] * k, 1.0, 1.0)
    zc = n * k
    for t in range(k):
        for j in range(d):
            cs = [i * k + t for i in range(n)]
            add([*cs, zc], [*u[:, j].tolist(), -1.0], -np.inf, 1.0)
            add([*cs, zc], [*u[:, j].tolist(), 1.0], 1.0, np.inf)
        if exact_q is not None:
            add([i * k + t for i in range(n)], [1.0] * n, exact_q, exact_q + 1)
        if cap is not None and value is not None:
            for i in range(n):
                cs = [i * k + t] + [ll * k + t for ll in range(n)]
                vs = [value[i]] + [-cap * value[ll] for ll in range(n)]
                add(cs, vs, -np.inf, 0.0)
    a = coo_matrix((vals, (rows, cols)), shape=(r, nv)).tocsr()
    lb = np.zeros(nv)
    ub = np.ones(nv)
    ub[zc] = np.inf
    free_seen = False
    for i in range(n):
        if fixed[i] >= 0:
            lb[i * k + fixed[i]] = 1.0
        elif not free_seen and not np.any(fixed >= 0):
            # Territories are interchangeable: pin the first atom to territory 0.
            lb[i * k] = 1.0
            free_seen = True
    c = np.zeros(nv)
    c[zc] = 1.0
    integrality = np.ones(nv)
    integrality[zc] = 0
    res = milp(
        c,
        integrality=integrality,
        bounds=LPBounds(lb, ub),
        constraints=LinearConstraint(a, lo, hi),
        # The node limit, not the clock, ends a hard search: same inputs, same answer.
        options={"time_limit": max(time_limit, 0.1), "mip_rel_gap": 0.0, "node_limit": MILP_NODES},
    )
    if res.x is None:
        return None, None, False
    x = res.x[: n * k].reshape(n, k)
    return np.argmax(x, axis=1).astype(np.int64), float(res.x[zc]), res.status == 0
