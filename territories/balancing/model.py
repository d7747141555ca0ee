"""Data types of the balancing engine: the problem, the bounds, the metrics and the result.

Vocabulary (see ``docs/balancing.md``):

* **atom** — one account, or one geographic unit with all its accounts. Atoms are indexed
  ``0 .. n-1``; every array of length ``n`` below is indexed by atom.
* **measure** — a non-negative quantity of an atom that territories must share fairly: ``count``
  (1 per account, or the number of accounts of a unit), ``value`` (dollars of potential),
  ``workload`` (hours). ``Problem.measures`` is an ``(n, d)`` float64 matrix, one column a measure.
* **territory** — indexed ``0 .. K-1``. With segments (pods), each segment owns a contiguous
  block of territory indices (``Problem.territory_segment``) and is balanced on its own.
* **deviation** of a territory on a measure: ``(load - mean) / mean`` where ``mean`` is the
  segment's total of that measure divided by the segment's seats. Reported in percent.

All types are frozen dataclasses; arrays inside them must be treated as read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

COUNT = "count"


class BalancingError(ValueError):
    """Bad input to the engine: the message is one line, fit to show a user."""


@dataclass(frozen=True, eq=False)
class Problem:
    """Atoms to assign and the territories to assign them to.

    Attributes:
        measures: ``(n, d)`` float64, finite, ``>= 0``. Column ``j`` is measure ``measure_names[j]``.
        measure_names: ``d`` distinct names. A column that is 1 for every atom is a *unit count*:
            the greenfield run then gives every territory of a segment exactly
            ``floor(n_s/K_s)`` or ``ceil(n_s/K_s)`` atoms.
        territories: total number of territories ``K`` (the sum of ``seats``).
        ids: ``(n,)`` object array of atom ids (strings) or ``None`` (ids are then ``0..n-1``).
        coords: ``(n, 2)`` float64 planar coordinates (x, y) or ``None``.
        edges: ``(m, 2)`` int64 undirected adjacency pairs of atom indices, or ``None``.
        owner: ``(n,)`` int64 current territory of each atom, ``-1`` for none, or ``None``.
        locked: ``(n,)`` bool; a locked atom keeps ``owner`` (which must be set), or ``None``.
        segment: ``(n,)`` int64 segment code ``0 .. S-1`` of each atom, or ``None`` (one segment).
        seats: ``S`` territory counts per segment; ``sum(seats) == territories``.
        segment_names: ``S`` labels of the segments.
        value_measure: index of the measure used for concentration (largest-atom share);
            defaults to the measure named ``value``, else the last measure.
        territory_labels: ``K`` labels for output (e.g. the current owners' names).
    """

    measures: np.ndarray
    measure_names: tuple[str, ...]
    territories: int
    ids: np.ndarray | None = None
    coords: np.ndarray | None = None
    edges: np.ndarray | None = None
    owner: np.ndarray | None = None
    locked: np.ndarray | None = None
    segment: np.ndarray | None = None
    seats: tuple[int, ...] | None = None
    segment_names: tuple[str, ...] | None = None
    value_measure: int | None = None
    territory_labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        w = np.asarray(self.measures, dtype=np.float64)
        if w.ndim == 1:
            w = w[:, None]
        if w.ndim != 2 or w.shape[1] < 1:
            raise BalancingError("measures must be an (n, d) matrix with at least one measure")
        n, d = w.shape
        if len(self.measure_names) != d:
            raise BalancingError(f"{d} measure columns but {len(self.measure_names)} names")
        if len(set(self.measure_names)) != d:
            raise BalancingError("measure names must be distinct")
        if not np.all(np.isfinite(w)):
            raise BalancingError("measures must be finite numbers")
        if np.any(w < 0):
            raise BalancingError("measures must be non-negative")
        object.__setattr__(self, "measures", w)
        object.__setattr__(self, "measure_names", tuple(self.measure_names))
        k = int(self.territories)
        if k < 1:
            raise BalancingError(f"territories must be at least 1 (got {k})")
        if n < 1:
            raise BalancingError("no atoms to balance")
        if k > n:
            raise BalancingError(f"{k} territories but only {n} atoms")
        object.__setattr__(self, "territories", k)
        if self.ids is not None:
            ids = np.asarray(self.ids, dtype=object)
            if ids.shape != (n,):
                raise BalancingError("ids must have one entry per atom")
            object.__setattr__(self, "ids", ids)
        if self.coords is not None:
            c = np.asarray(self.coords, dtype=np.float64)
            if c.shape != (n, 2) or not np.all(np.isfinite(c)):
                raise BalancingError("coords must be an (n, 2) matrix of finite numbers")
            object.__setattr__(self, "coords", c)
        if self.edges is not None:
            e = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
            if e.size and (e.min() < 0 or e.max() >= n):
                raise BalancingError("adjacency refers to an atom index out of range")
            object.__setattr__(self, "edges", e)
        # Segments and seats.
        if self.segment is None:
            seg = None
            seats = (k,) if self.seats is None else tuple(int(s) for s in self.seats)
            if len(seats) != 1:
                raise BalancingError("seats per segment given but no segment per atom")
        else:
            seg = np.asarray(self.segment, dtype=np.int64)
            if seg.shape != (n,):
                raise BalancingError("segment must have one entry per atom")
            if self.seats is None:
                raise BalancingError("segments need seats per segment")
            seats = tuple(int(s) for s in self.seats)
            if seg.min() < 0 or seg.max() >= len(seats):
                raise BalancingError("segment code out of range of seats")
        if sum(seats) != k:
            raise BalancingError(f"seats add up to {sum(seats)} but territories is {k}")
        sizes = np.bincount(seg, minlength=len(seats)) if seg is not None else np.array([n])
        for s, (size, seat) in enumerate(zip(sizes, seats, strict=True)):
            name = self.segment_names[s] if self.segment_names else str(s)
            if seat < 1:
                raise BalancingError(f"segment {name!r} has {seat} seats; needs at least 1")
            if seat > size:
                raise BalancingError(f"segment {name!r}: {seat} territories but {size} atoms")
        object.__setattr__(self, "segment", seg)
        object.__setattr__(self, "seats", seats)
        if self.segment_names is None:
            object.__setattr__(self, "segment_names", tuple(str(s) for s in range(len(seats))))
        elif len(self.segment_names) != len(seats):
            raise BalancingError("one segment name per segment")
        if self.owner is not None:
            o = np.asarray(self.owner, dtype=np.int64)
            if o.shape != (n,) or o.min() < -1 or o.max() >= k:
                raise BalancingError("owner must be a territory index (or -1) per atom")
            ts = self.territory_segment
            bad = (o >= 0) & (ts[np.maximum(o, 0)] != self.atom_segment)
            if np.any(bad):
                raise BalancingError("an owner territory belongs to another segment than its atom")
            object.__setattr__(self, "owner", o)
        if self.locked is not None:
            lk = np.asarray(self.locked, dtype=bool)
            if lk.shape != (n,):
                raise BalancingError("locked must have one entry per atom")
            if np.any(lk & ((self.owner if self.owner is not None else np.full(n, -1)) < 0)):
                raise BalancingError("a locked atom needs a current owner (territory)")
            object.__setattr__(self, "locked", lk)
        if self.value_measure is None:
            names = [m.lower() for m in self.measure_names]
            vm = names.index("value") if "value" in names else d - 1
            object.__setattr__(self, "value_measure", vm)
        elif not 0 <= self.value_measure < d:
            raise BalancingError("value_measure out of range")
        if self.territory_labels is not None and len(self.territory_labels) != k:
            raise BalancingError("one territory label per territory")

    # Derived, cheap views -------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of atoms."""
        return int(self.measures.shape[0])

    @property
    def d(self) -> int:
        """Number of measures."""
        return int(self.measures.shape[1])

    @property
    def atom_segment(self) -> np.ndarray:
        """``(n,)`` int64 segment of each atom (zeros without segments)."""
        if self.segment is None:
            return np.zeros(self.n, dtype=np.int64)
        return self.segment

    @property
    def territory_segment(self) -> np.ndarray:
        """``(K,)`` int64 segment of each territory: segment ``s`` owns a contiguous block."""
        return np.repeat(np.arange(len(self.seats), dtype=np.int64), self.seats)

    @property
    def segment_offsets(self) -> np.ndarray:
        """``(S+1,)`` first territory index of each segment, then ``K``."""
        return np.concatenate([[0], np.cumsum(self.seats)]).astype(np.int64)

    @property
    def unit_count(self) -> tuple[bool, ...]:
        """Per measure: is it 1 for every atom (an exact-count measure)."""
        return tuple(bool(np.all(self.measures[:, j] == 1.0)) for j in range(self.d))

    def label(self, territory: int) -> str:
        """Display label of a territory (``T001`` style unless labels were given)."""
        if self.territory_labels is not None:
            return self.territory_labels[territory]
        return f"T{territory + 1:03d}"


@dataclass(frozen=True)
class MeasureBound:
    """Lower bounds for one measure in one segment (see ``docs/balancing.md`` §2).

    ``max_load_lb`` and ``min_load_ub`` are in the measure's own units; ``max_dev_lb`` is a fraction
    of the mean (0.05 = 5 %). ``source`` names the bound that is tight.
    """

    mean: float
    max_load_lb: float
    min_load_ub: float
    max_dev_lb: float
    source: str


@dataclass(frozen=True)
class Bounds:
    """Lower bounds of a problem: ``per_segment[s][j]`` for segment ``s``, measure ``j``.

    ``exact_counts`` says whether the bounds assume exact counts (greenfield with a unit-count
    measure), which makes them valid over that run's feasible set only. ``min_feasible_share`` is
    the smallest largest-atom share any territory can have within the tolerance band (fraction).
    ``moves_lb`` is the continuity lower bound on moves (atoms), ``None`` without owners.
    """

    per_segment: tuple[tuple[MeasureBound, ...], ...]
    exact_counts: bool
    tolerance: float
    min_feasible_share: float
    moves_lb: int | None = None
    moves_lb_feasible: bool = True


@dataclass(frozen=True)
class MeasureMetrics:
    """Balance of one measure (all figures in percent of the segment mean; worst segment).

    ``spread_pct`` = (max − min) / mean; ``max_dev_pct`` = max |load − mean| / mean;
    ``cv_pct`` = population standard deviation / mean; ``lower_bound_max_dev_pct`` = the bound of
    ``docs/balancing.md``; ``gap_pp`` = ``max_dev_pct − lower_bound_max_dev_pct`` (points).
    ``max_min_ratio`` = max load / min load (``inf`` if a territory is empty on the measure).
    """

    name: str
    spread_pct: float
    max_dev_pct: float
    cv_pct: float
    lower_bound_max_dev_pct: float
    gap_pp: float
    max_min_ratio: float
    within_tolerance: bool


@dataclass(frozen=True)
class TerritoryMetrics:
    """Per-territory arrays, index = territory. ``loads`` is ``(K, d)`` in measure units,
    ``dev_pct`` ``(K, d)`` in percent of the segment mean, ``max_share`` ``(K,)`` fraction of the
    territory's value held by its largest atom, ``moved_in``/``moved_out`` atoms relative to
    the original owners (zeros without owners), ``segment`` ``(K,)``."""

    atoms: np.ndarray
    loads: np.ndarray
    dev_pct: np.ndarray
    max_share: np.ndarray
    moved_in: np.ndarray
    moved_out: np.ndarray
    segment: np.ndarray


@dataclass(frozen=True)
class Metrics:
    """Everything the portal and the command report about one assignment."""

    atoms: int
    territories: int
    tolerance: float
    measures: tuple[MeasureMetrics, ...]
    per_segment: tuple[tuple[MeasureMetrics, ...], ...]
    max_share_pct: float
    min_feasible_share_pct: float
    moved_atoms: int
    moved_value_pct: float
    moves_lower_bound: int | None
    moves_ratio: float | None
    contiguous_territories: int | None
    optimal: bool
    within_tolerance: bool
    territory: TerritoryMetrics

    def measure(self, name: str) -> MeasureMetrics:
        """The metrics of the measure called ``name``."""
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(name)

    def as_dict(self) -> dict:
        """JSON-ready summary (no per-territory arrays)."""
        out: dict = {
            "atoms": self.atoms,
            "territories": self.territories,
            "tolerance": self.tolerance,
            "optimal": self.optimal,
            "within_tolerance": self.within_tolerance,
            "max_share_pct": _r(self.max_share_pct),
            "min_feasible_share_pct": _r(self.min_feasible_share_pct),
            "moved_atoms": self.moved_atoms,
            "moved_value_pct": _r(self.moved_value_pct),
            "moves_lower_bound": self.moves_lower_bound,
            "moves_ratio": None if self.moves_ratio is None else _r(self.moves_ratio),
            "contiguous_territories": self.contiguous_territories,
        }
        for m in self.measures:
            out[m.name] = {
                "spread_pct": _r(m.spread_pct),
                "max_dev_pct": _r(m.max_dev_pct),
                "cv_pct": _r(m.cv_pct),
                "lower_bound_max_dev_pct": _r(m.lower_bound_max_dev_pct),
                "gap_pp": _r(m.gap_pp),
                "max_min_ratio": _r(m.max_min_ratio),
                "within_tolerance": m.within_tolerance,
            }
        return out


def _r(x: float) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), 6)


@dataclass(frozen=True)
class GrowthStep:
    """One pre-planned cut: territory ``new_territory`` (index in the grown problem) is created
    and receives ``atoms`` (atom indices) taken from ``taken_from`` (territory → atoms given).

    Balance right after the step, over the ``K + step`` territories then existing:
    ``max_dev_pct`` and ``spread_pct`` per measure name, ``within_tolerance``, and
    ``moved_atoms`` — atoms away from their original owner so far (cumulative).
    """

    step: int
    segment: str
    new_territory: int
    atoms: np.ndarray
    taken_from: dict[int, int]
    max_dev_pct: dict[str, float]
    spread_pct: dict[str, float]
    within_tolerance: bool
    moved_atoms: int


@dataclass(frozen=True)
class Result:
    """Outcome of a run.

    ``assignment``: ``(n,)`` int64 territory index per atom, every atom exactly once.
    ``problem``: the problem the assignment refers to (a growth cut returns the grown problem).
    ``proven_optimal``: an exact solver (MILP) proved no assignment has a smaller worst deviation.
    ``steps``: the growth cuts, in order (empty for a plain run).
    """

    assignment: np.ndarray
    metrics: Metrics
    bounds: Bounds
    problem: Problem
    seconds: float
    method: str
    proven_optimal: bool = False
    steps: tuple[GrowthStep, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def optimal(self) -> bool:
        """True when every measure is at its lower bound or an exact solver proved optimality."""
        return self.metrics.optimal or self.proven_optimal


def as_index_array(values: Sequence[int] | np.ndarray, n: int, what: str) -> np.ndarray:
    """``values`` as an ``(n,)`` int64 array, or ``BalancingError`` naming ``what``."""
    a = np.asarray(values, dtype=np.int64)
    if a.shape != (n,):
        raise BalancingError(f"{what} must have one entry per atom")
    return a
