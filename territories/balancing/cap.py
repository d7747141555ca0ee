"""The concentration cap outside plain greenfield: continuity and geography runs.

A territory ``t`` breaks the cap when its largest value ``top_t`` exceeds ``cap * value_t``. The
repair raises ``value_t`` to ``top_t / cap`` — never above the band's ceiling — by bringing atoms
in from territories that can spare them: every territory stays inside the band (or no further
outside than it was, on a measure already outside), no donor breaks the cap, locked atoms stay.
With an adjacency only atoms on ``t``'s border come in, and with contiguity the donor must stay
one piece. Without geography, when no single atom fits (``t`` is full on count, say), an exchange
brings a bigger value in for a smaller one out.

Greenfield runs without geography handle the cap themselves (``greenfield._apply_cap``).
"""

from __future__ import annotations

import time

import numpy as np

from territories.balancing.geo import _adjacency_lists, _stays_connected

# Slack on comparisons with the band and the cap (normalised units).
EPS = 1e-12
# An exchange looks at this many of the smallest atoms of the territory breaking the cap.
EXCHANGE_OUT = 16


def enforce_cap(
    u: np.ndarray,
    assign: np.ndarray,
    k: int,
    *,
    cap: float,
    value: int,
    tolerance: float,
    movable: np.ndarray,
    edges: np.ndarray | None,
    contiguous: bool,
    deadline: float,
) -> tuple[np.ndarray, str]:
    """Bring every territory under the cap where the band allows it.

    Args:
        u: ``(n, d)`` normalised measures of one segment (target 1 per territory and measure).
        assign: ``(n,)`` local territory per atom, ``0 .. k-1``.
        cap: largest-atom share cap (fraction).
        value: column of ``u`` holding the value.
        tolerance: the band is ``[1 - tolerance, 1 + tolerance]``.
        movable: ``(n,)`` atoms that may change territory.
        edges: local adjacency ``(m, 2)`` (atoms move along it only), or ``None``.
        contiguous: keep every donor one piece of ``edges``.
        deadline: ``time.monotonic()`` limit.

    Returns:
        ``(assign, note)``: the repaired copy and, when some territory still breaks the cap, a
        one-line note saying how many and why (empty otherwise).
    """
    repair = _CapRepair(u, assign, k, cap, value, tolerance, movable, edges, contiguous)
    beyond, stuck = 0, 0
    for t in repair.worst_first():
        if not repair.breaks(t):
            continue
        if repair.need(t) > repair.hi + EPS:
            beyond += 1
            continue
        while repair.breaks(t):
            if time.monotonic() >= deadline or not (repair.bring(t) or repair.exchange(t)):
                stuck += 1
                break
    if not beyond and not stuck:
        return repair.assign, ""
    parts = []
    if beyond:
        parts.append(
            f"{beyond} territor{'y' if beyond == 1 else 'ies'} would need more value than the "
            f"band allows (+{100 * tolerance:.0f} %)"
        )
    if stuck:
        parts.append(
            f"{stuck} territor{'y' if stuck == 1 else 'ies'} found no account to take in "
            "without leaving the band"
        )
    return repair.assign, f"max share {100 * cap:.1f} % not met: " + "; ".join(parts)


class _CapRepair:
    """State of one segment's repair: loads, and the largest two values of each territory."""

    def __init__(self, u, assign, k, cap, value, tolerance, movable, edges, contiguous):
        self.u, self.k, self.cap, self.col = u, k, cap, value
        self.v = u[:, value]
        self.assign = assign.copy()
        self.lo, self.hi = 1.0 - tolerance, 1.0 + tolerance
        self.movable = movable
        self.load = np.zeros((k, u.shape[1]))
        np.add.at(self.load, self.assign, u)
        self.size = np.bincount(self.assign, minlength=k)
        self.geo = edges is not None and len(edges) > 0
        self.nbrs = _adjacency_lists(edges, u.shape[0]) if self.geo else None
        self.both = np.concatenate([edges, edges[:, ::-1]]) if self.geo else None
        self.contiguous = contiguous and self.geo
        self.lab = self.assign.tolist() if self.geo else None

    def top(self, t: int) -> float:
        return float(self.v[self.assign == t].max(initial=0.0))

    def breaks(self, t: int) -> bool:
        return self.top(t) > self.cap * self.load[t, self.col] + EPS

    def need(self, t: int) -> float:
        return self.top(t) / self.cap

    def worst_first(self) -> list[int]:
        tops = np.zeros(self.k)
        np.maximum.at(tops, self.assign, self.v)
        return [int(t) for t in np.argsort(-(tops / self.cap - self.load[:, self.col]))]

    def _tops_without(self, x: np.ndarray) -> np.ndarray:
        """``(len(x),)`` the largest value left in each ``x``'s territory without ``x``."""
        a = self.assign
        top1 = np.zeros(self.k)
        np.maximum.at(top1, a, self.v)
        is_top = self.v >= top1[a]
        n_top = np.bincount(a[is_top], minlength=self.k)
        second = np.where(is_top, -np.inf, self.v)
        top2 = np.full(self.k, 0.0)
        np.maximum.at(top2, a, np.maximum(second, 0.0))
        alone = is_top[x] & (n_top[a[x]] == 1)
        return np.where(alone, top2[a[x]], top1[a[x]])

    def _ok(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Per row: every measure inside the band after, or no further out than before."""
        up = (after <= self.hi + EPS) | (after <= before + EPS)
        down = (after >= self.lo - EPS) | (after >= before - EPS)
        return np.all(up & down, axis=-1)

    def _apply(self, x: int, t: int) -> None:
        s = int(self.assign[x])
        self.assign[x] = t
        self.load[s] -= self.u[x]
        self.load[t] += self.u[x]
        self.size[s] -= 1
        self.size[t] += 1
        if self.lab is not None:
            self.lab[x] = t

    def _pick(self, gain: np.ndarray, gap: float) -> np.ndarray:
        """Order of preference: the smallest gain that closes the gap, then the largest."""
        closes = gain >= gap - EPS
        return np.lexsort((np.where(closes, gain, -gain), ~closes))

    def bring(self, t: int) -> bool:
        """Move one atom into ``t``: the one closing the value gap with the least value, else
        the largest that fits. Returns whether an atom moved."""
        top_t = self.top(t)
        gap = top_t / self.cap - self.load[t, self.col]
        x = np.flatnonzero(self.movable & (self.assign != t) & (self.v <= top_t) & (self.v > 0))
        if self.geo:  # only atoms on t's border
            border = np.unique(self.both[self.assign[self.both[:, 1]] == t, 0])
            x = np.intersect1d(x, border, assume_unique=True)
        if x.size == 0:
            return False
        s = self.assign[x]
        ux = self.u[x]
        ok = (self.size[s] > 1) & self._ok(self.load[t], self.load[t] + ux)
        ok &= self._ok(self.load[s], self.load[s] - ux)
        ok &= self._tops_without(x) <= self.cap * (self.load[s, self.col] - self.v[x]) + EPS
        x = x[ok]
        if x.size == 0:
            return False
        for c in self._pick(self.v[x], gap).tolist():
            i = int(x[c])
            s = int(self.assign[i])
            if self.contiguous and not _stays_connected(i, s, self.nbrs[i], self.nbrs, self.lab):
                continue
            self._apply(i, t)
            return True
        return False

    def exchange(self, t: int) -> bool:
        """Without geography: one of ``t``'s smallest atoms out, a bigger value in, from the same
        donor. Returns whether an exchange happened."""
        if self.geo:
            return False
        top_t = self.top(t)
        gap = top_t / self.cap - self.load[t, self.col]
        mine = np.flatnonzero((self.assign == t) & self.movable & (self.v < top_t))
        mine = mine[np.argsort(self.v[mine], kind="stable")][:EXCHANGE_OUT]
        x = np.flatnonzero(self.movable & (self.assign != t) & (self.v <= top_t))
        if mine.size == 0 or x.size == 0:
            return False
        s = self.assign[x]
        top_s = self._tops_without(x)
        best = None
        for y in mine.tolist():
            net = self.u[x] - self.u[y]
            gain = net[:, self.col]
            ok = (gain > EPS) & self._ok(self.load[t], self.load[t] + net)
            ok &= self._ok(self.load[s], self.load[s] - net)
            s_value = self.load[s, self.col] - gain
            ok &= np.maximum(top_s, self.v[y]) <= self.cap * s_value + EPS
            cand = np.flatnonzero(ok)
            if cand.size == 0:
                continue
            c = int(cand[self._pick(gain[cand], gap)[0]])
            key = (gain[c] < gap - EPS, gain[c] if gain[c] >= gap - EPS else -gain[c])
            if best is None or key < best[0]:
                best = (key, int(x[c]), y)
        if best is None:
            return False
        _, i, y = best
        s = int(self.assign[i])
        self._apply(i, t)
        self._apply(y, s)
        return True
