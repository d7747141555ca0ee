"""From the account universe to the balancing engine's problems, and from its answers to the
figures a balancing run reports. Pure: numpy and pandas, no Django.

One **pod** of the hierarchy is one engine problem (pods are balanced independently, so a
manual move in one pod never changes another's figures). Its atoms, in this order:

1. the pod's geographic units (``atom="unit"``: every account of the pod in the unit) or its
   accounts (``atom="account"``), then
2. the **named accounts** whose owner holds a seat in the pod, one atom each, locked to the
   owner's territory (seed 000: "assigned to a specific rep regardless of other hierarchy
   criteria").

Measures are ``count`` (accounts) and ``value`` (dollars of potential), the seeds' two
dimensions of balance. ``owner`` is the territory of the atom's current CRM owner (for a unit:
the owner holding most of its value among the pod's reps), used for continuity and for the
"moved" figures.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from territories import geo
from territories.balancing import (
    Bounds,
    MeasureBound,
    Metrics,
    Problem,
    balance,
    metrics_for,
    problem_bounds,
)
from territories.hierarchy import HierarchySpec, PodSpec, assign_pods

MEASURES: tuple[str, str] = ("count", "value")
TIER_COLUMNS: tuple[str, ...] = ("T1", "T2", "T3", "unqualified", "")
# Seed 003: ">20 % variance signals rebalancing is needed"; seed 000's refinement trigger: "one
# territory has 2x value of another in same segment".
WARN_PCT = 20.0
RATIO_TRIGGER = 2.0


class RunInputError(ValueError):
    """The run cannot start with these inputs; the message names the pod."""


@dataclass(frozen=True)
class PodAtoms:
    """Everything the engine and the results need about one pod's atoms (arrays of length n)."""

    pod: PodSpec
    kind: np.ndarray  # object: "unit" | "account" | "named"
    atom: np.ndarray  # object: unit id or account external id
    label: np.ndarray  # object: unit label or account name
    account_id: np.ndarray  # int64: the account's database id, -1 for units
    count: np.ndarray  # int64 accounts
    value: np.ndarray  # float64
    owner: np.ndarray  # int64 territory index within the pod, -1 none
    locked: np.ndarray  # bool
    top: np.ndarray  # float64 largest account value in the atom
    extras: np.ndarray  # (n, E) float64, columns named by extra_names
    extra_names: tuple[str, ...]
    coords: np.ndarray | None  # (n, 2) map pixels, units only
    edges: np.ndarray | None  # (m, 2) adjacency among units

    @property
    def n(self) -> int:
        return int(self.count.size)

    @property
    def measures(self) -> np.ndarray:
        return np.column_stack([self.count.astype(np.float64), self.value])

    def problem(
        self, *, locked: np.ndarray | None = None, owner: np.ndarray | None = None
    ) -> Problem:
        """The engine's problem for this pod (one segment, ``pod.seats`` territories)."""
        owner = self.owner if owner is None else owner
        locked = self.locked if locked is None else locked
        return Problem(
            self.measures,
            MEASURES,
            territories=self.pod.seats,
            owner=owner,
            locked=locked if locked.any() else None,
            segment_names=(self.pod.label,),
            coords=self.coords,
            edges=self.edges,
            territory_labels=tuple(territory_labels(self.pod)),
        )


@dataclass(frozen=True)
class RunInputs:
    pods: tuple[PodAtoms, ...]
    accounts: int
    value: float
    unvalued: int
    unassigned: dict[str, Any]  # accounts matching no pod: count, value, examples
    named: tuple[tuple[str, str, str], ...]  # (external id, domain, owner) of every named account
    named_unplaced: tuple[tuple[str, str], ...]  # (external id, owner) whose owner holds no seat


def territory_labels(pod: PodSpec) -> list[str]:
    return [f"{pod.label} {i + 1}" for i in range(pod.seats)]


def territory_keys(pod: PodSpec) -> list[str]:
    return [f"{pod.key}-{i + 1:02d}" for i in range(pod.seats)]


def territory_rep(pod: PodSpec, index: int) -> str:
    return pod.reps[index] if index < len(pod.reps) else ""


# --- Named accounts ------------------------------------------------------------------------------


def named_owners(frame: pd.DataFrame, rules: Sequence[Mapping[str, str]]) -> np.ndarray:
    """The named-account owner of every row ("" = not named): the account's
    ``named_account_owner`` field, overridden by an explicit rule matching its external id or
    (case-insensitively) its domain. A rule with an empty owner un-names the account."""
    owner = (
        frame["named_account_owner"]
        .fillna("")
        .astype(str)
        .str.strip()
        .to_numpy(dtype=object, copy=True)
    )
    if rules:
        by_id = {str(r["match"]).strip(): str(r.get("owner", "")).strip() for r in rules}
        by_domain = {k.lower(): v for k, v in by_id.items() if "." in k}
        ids = frame["external_id"].astype(str).to_numpy(dtype=object)
        domains = (
            frame["domain"].fillna("").astype(str).str.strip().str.lower().to_numpy(dtype=object)
        )
        for i in np.flatnonzero(pd.Series(domains).isin(by_domain.keys()).to_numpy()):
            owner[i] = by_domain[domains[i]]
        for i in np.flatnonzero(pd.Series(ids).isin(by_id.keys()).to_numpy()):
            owner[i] = by_id[ids[i]]
    return owner


# --- Building the problems -----------------------------------------------------------------------


def _extras(frame: pd.DataFrame, segments: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per account: one column per tier (1 in its tier) and per valuation segment (its value)."""
    n = len(frame)
    names = [f"tier:{t}" for t in TIER_COLUMNS] + [f"seg:{s}" for s in segments] + ["named"]
    out = np.zeros((n, len(names)))
    tier = frame["tier"].fillna("").astype(str).to_numpy(dtype=object)
    for j, t in enumerate(TIER_COLUMNS):
        out[:, j] = tier == t
    seg = frame["segment"].fillna("").astype(str).to_numpy(dtype=object)
    value = frame["_value"].to_numpy()
    for j, s in enumerate(segments, start=len(TIER_COLUMNS)):
        out[:, j] = np.where(seg == s, value, 0.0)
    return out, tuple(names)


def _owner_index(pod: PodSpec, owners: np.ndarray) -> np.ndarray:
    seat = {name: i for i, name in enumerate(pod.reps)}
    return np.array([seat.get(o, -1) for o in owners], dtype=np.int64)


def hierarchy_preview(
    spec: HierarchySpec, frame: pd.DataFrame, *, named_rules: Sequence[Mapping[str, str]] = ()
) -> dict[str, Any]:
    """What a run of ``spec`` over ``frame`` puts in each pod, without balancing: the figures
    of the hierarchy editor, by the very rules :func:`build_inputs` uses — named accounts
    (:func:`named_owners`) to the pod of their owner's seat, the segment from the spec's bands
    on its segment basis, the state from the ZIP code where the state field is blank or not a
    state (:func:`territories.hierarchy.assign_pods`), units at each pod's granularity
    (:func:`territories.geo.unit_ids`), values below 0 or missing counted as 0.

    ``frame``: one row per account with ``external_id``, ``domain``, ``named_account_owner``,
    the segment basis column (``annual_revenue`` or ``employees``), ``state``,
    ``postal_code``, ``city``, ``industry`` and ``value``. Returns ``accounts`` and ``value``
    per pod key (named accounts of the pod included, as the run's pod counts them),
    ``unit_values`` {(pod key, unit id): value of the pod's accounts in the unit, named
    accounts excluded} for unit pods (what ``hierarchy.split_proposals`` reads),
    ``unassigned`` (accounts no pod takes: count and value), ``named`` (named accounts) and
    ``named_unplaced`` (named accounts whose owner holds no seat: a run leaves them out).
    """
    frame = frame.reset_index(drop=True)
    value = pd.to_numeric(frame["value"], errors="coerce").fillna(0.0).clip(lower=0.0)
    value = value.to_numpy(dtype=np.float64)
    named = named_owners(frame, named_rules)
    is_named = named != ""
    seat_pod: dict[str, str] = {}
    for pod in spec.pods:
        for rep in pod.reps:
            seat_pod.setdefault(rep, pod.key)
    named_pod = np.array([seat_pod.get(o, "") if o else "" for o in named], dtype=object)
    pod_key = assign_pods(spec, frame).to_numpy(dtype=object, copy=True)
    pod_key[is_named] = ""
    accounts: dict[str, int] = {}
    values: dict[str, float] = {}
    unit_values: dict[tuple[str, str], float] = {}
    for pod in spec.pods:
        rows = pod_key == pod.key
        mine = rows | (is_named & (named_pod == pod.key))
        accounts[pod.key] = int(mine.sum())
        values[pod.key] = float(value[mine].sum())
        if pod.atom != "unit" or not rows.any():
            continue
        sub = frame[rows]
        units = pod_unit_ids(pod, sub)
        for unit, total in pd.Series(value[rows]).groupby(units).sum().items():
            unit_values[(pod.key, str(unit))] = float(total)
    rest = (pod_key == "") & ~is_named
    return {
        "accounts": accounts,
        "value": values,
        "unit_values": unit_values,
        "unassigned": {"accounts": int(rest.sum()), "value": float(value[rest].sum())},
        "named": int(is_named.sum()),
        "named_unplaced": int((is_named & (named_pod == "")).sum()),
    }


def build_inputs(
    spec: HierarchySpec,
    frame: pd.DataFrame,
    *,
    named_rules: Sequence[Mapping[str, str]] = (),
    segments: Sequence[str] = (),
) -> RunInputs:
    """The per-pod atoms of a run over ``frame`` (one row per account).

    ``frame`` columns: ``id``, ``external_id``, ``name``, ``domain``, ``industry``,
    ``annual_revenue``, ``employees``, ``state``, ``city``, ``postal_code``, ``current_owner``,
    ``named_account_owner``, ``segment`` and ``tier`` (from the valuation), ``value`` (NaN =
    not valued, counted as 0). ``segments`` orders the value-per-segment columns.
    Raises RunInputError when a pod has fewer atoms than seats.
    """
    frame = frame.reset_index(drop=True)
    value = pd.to_numeric(frame["value"], errors="coerce")
    frame = frame.assign(_value=value.fillna(0.0).clip(lower=0.0).to_numpy(dtype=np.float64))
    extras, extra_names = _extras(frame, segments)
    named_col = extra_names.index("named")
    owners = frame["current_owner"].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    named = named_owners(frame, named_rules)
    is_named = named != ""
    seat_of: dict[str, tuple[str, int]] = {}
    for pod in spec.pods:
        for i, rep in enumerate(pod.reps):
            seat_of.setdefault(rep, (pod.key, i))
    pod_key = assign_pods(spec, frame).to_numpy(dtype=object, copy=True)
    pod_key[is_named] = ""
    named_list = tuple(
        (str(frame.at[i, "external_id"]), str(frame.at[i, "domain"] or ""), str(named[i]))
        for i in np.flatnonzero(is_named)
    )
    unplaced = tuple((e, o) for e, _, o in named_list if o not in seat_of)
    rest = (pod_key == "") & ~is_named
    examples = frame.loc[rest, "external_id"].astype(str).head(5).tolist()
    unassigned = {
        "accounts": int(rest.sum()),
        "value": float(frame.loc[rest, "_value"].sum()),
        "examples": examples,
    }
    pods = []
    for pod in spec.pods:
        rows = np.flatnonzero(pod_key == pod.key)
        sub = frame.iloc[rows]
        if pod.atom == "unit":
            part = _unit_atoms(pod, sub, extras[rows], owners[rows])
        else:
            part = _account_atoms(pod, sub, extras[rows], owners[rows])
        nrows = np.flatnonzero(is_named & np.isin(named, list(pod.reps)))
        nrows = nrows[[seat_of[named[i]][0] == pod.key for i in nrows]] if nrows.size else nrows
        if nrows.size:
            nsub = frame.iloc[nrows]
            nextra = extras[nrows].copy()
            nextra[:, named_col] = 1.0
            seat = _owner_index(pod, named[nrows])
            npart = {
                "kind": np.full(nrows.size, "named", dtype=object),
                "atom": nsub["external_id"].astype(str).to_numpy(dtype=object),
                "label": nsub["name"].astype(str).to_numpy(dtype=object),
                "account_id": nsub["id"].to_numpy(dtype=np.int64),
                "count": np.ones(nrows.size, dtype=np.int64),
                "value": nsub["_value"].to_numpy(dtype=np.float64),
                "owner": seat,
                "locked": np.ones(nrows.size, dtype=bool),
                "top": nsub["_value"].to_numpy(dtype=np.float64),
                "extras": nextra,
            }
            if pod.atom == "unit":
                states = (
                    nsub["state"].map(lambda s: geo.normalize_state(s) or "").to_numpy(dtype=object)
                )
                npart["coords"] = _coords([s or geo.UNKNOWN for s in states])
            part = {
                k: (np.concatenate([part[k], npart[k]]) if k in npart else part[k]) for k in part
            }
        size = part["count"].size
        if size < pod.seats:
            raise RunInputError(
                f"Pod “{pod.label}”: {pod.seats} seats but only {size} "
                f"{'units' if pod.atom == 'unit' else 'accounts'} to share out; "
                "reduce its seats or widen its criteria."
            )
        pods.append(
            PodAtoms(
                pod=pod,
                kind=part["kind"],
                atom=part["atom"],
                label=part["label"],
                account_id=part["account_id"],
                count=part["count"],
                value=part["value"],
                owner=part["owner"],
                locked=part["locked"],
                top=part["top"],
                extras=part["extras"],
                extra_names=extra_names,
                coords=part.get("coords"),
                edges=part.get("edges"),
            )
        )
    return RunInputs(
        pods=tuple(pods),
        accounts=len(frame),
        value=float(frame["_value"].sum()),
        unvalued=int(value.isna().sum()),
        unassigned=unassigned,
        named=named_list,
        named_unplaced=unplaced,
    )


def _account_atoms(pod: PodSpec, sub: pd.DataFrame, extras: np.ndarray, owners: np.ndarray):
    n = len(sub)
    return {
        "kind": np.full(n, "account", dtype=object),
        "atom": sub["external_id"].astype(str).to_numpy(dtype=object),
        "label": sub["name"].astype(str).to_numpy(dtype=object),
        "account_id": sub["id"].to_numpy(dtype=np.int64),
        "count": np.ones(n, dtype=np.int64),
        "value": sub["_value"].to_numpy(dtype=np.float64),
        "owner": _owner_index(pod, owners),
        "locked": np.zeros(n, dtype=bool),
        "top": sub["_value"].to_numpy(dtype=np.float64),
        "extras": extras,
    }


def _coords(units: Sequence[str]) -> np.ndarray:
    """Map centroids of units; unknown units sit at their state's centroid, or at the middle
    of the others when even the state is unknown (they have no neighbours either way)."""
    units = list(units)
    x, y = geo.unit_centroids(units)
    for i in np.flatnonzero(np.isnan(x)):
        state = geo.unit_state(units[i])
        if state:
            x[i], y[i] = (v[0] for v in geo.unit_centroids([state]))
    if np.isnan(x).any():
        known = ~np.isnan(x)
        cx, cy = (float(x[known].mean()), float(y[known].mean())) if known.any() else (487.5, 305.0)
        x[~known], y[~known] = cx, cy
    return np.column_stack([x, y])


def pod_states(pod: PodSpec) -> list[str]:
    """The states a unit pod's criteria reach (its states, within its regions; all when any)."""
    states = [s for s in geo.STATES if not pod.states or "" in pod.states or s in pod.states]
    if pod.regions and "" not in pod.regions:
        states = [s for s in states if geo.STATE_REGION[s] in pod.regions]
    return states


def pod_units(pod: PodSpec) -> list[str]:
    """Every geographic unit of a unit pod's geography at its granularity."""
    units: list[str] = []
    for state in pod_states(pod):
        units.extend(geo.state_units(state, pod.granularity(state)))
    return units


def pod_unit_ids(pod: PodSpec, sub: pd.DataFrame) -> np.ndarray:
    """The geographic unit of each account of ``sub`` at ``pod``'s granularity per state."""
    return geo.unit_ids(
        sub["state"].to_numpy(dtype=object),
        sub["postal_code"].to_numpy(dtype=object),
        sub["city"].to_numpy(dtype=object),
        granularity_by_state=pod.granularity_by_state,
    ).to_numpy(dtype=object)


def _unit_atoms(pod: PodSpec, sub: pd.DataFrame, extras: np.ndarray, owners: np.ndarray):
    units = pod_unit_ids(pod, sub)
    # The pod covers its whole geography, not only the units that hold accounts today: an
    # account created tomorrow in an empty county must route to a territory too.
    every = sorted(set(units.tolist()) | set(pod_units(pod)))
    codes = pd.Categorical(units, categories=every).codes.astype(np.int64)
    uniques = every
    m = len(uniques)
    value = sub["_value"].to_numpy(dtype=np.float64)
    count = np.bincount(codes, minlength=m).astype(np.int64)
    total = np.bincount(codes, weights=value, minlength=m)
    top = np.zeros(m)
    np.maximum.at(top, codes, value)
    ex = np.zeros((m, extras.shape[1]))
    np.add.at(ex, codes, extras)
    # Owner of a unit: the pod rep holding most of its value (a tiny count weight breaks ties
    # when values are zero).
    seat = _owner_index(pod, owners)
    owner = np.full(m, -1, dtype=np.int64)
    has = seat >= 0
    if has.any():
        weight = value[has] + 1e-6
        table = np.zeros((m, pod.seats))
        np.add.at(table, (codes[has], seat[has]), weight)
        best = table.argmax(axis=1)
        owner = np.where(table.max(axis=1) > 0, best, -1).astype(np.int64)
    ids = [str(u) for u in uniques]
    edges = np.array(geo.unit_adjacency(ids), dtype=np.int64).reshape(-1, 2)
    return {
        "kind": np.full(m, "unit", dtype=object),
        "atom": np.array(ids, dtype=object),
        "label": np.array([geo.unit_label(u) for u in ids], dtype=object),
        "account_id": np.full(m, -1, dtype=np.int64),
        "count": count,
        "value": total,
        "owner": owner,
        "locked": np.zeros(m, dtype=bool),
        "top": top,
        "extras": ex,
        "coords": _coords(ids),
        "edges": edges,
    }


# --- Balancing one pod ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PodResult:
    assignment: np.ndarray  # (n,) territory index within the pod
    metrics: Metrics
    bounds: Bounds
    edges: np.ndarray | None  # the adjacency contiguity is reported against (islands bridged)
    method: str
    notes: tuple[str, ...]
    seconds: float


def balance_pod(
    atoms: PodAtoms,
    *,
    tolerance: float,
    max_share: float | None,
    seed: int,
    continuity: bool,
    contiguous: bool,
    time_limit: float | None = None,
    progress=None,
) -> PodResult:
    """Run the engine on one pod.

    The seeds' objectives come in order: balance within the tolerance first, continuity last
    (and contiguity is a wish, not one of them). So the pod is tried as asked — continuity
    (fewest moves from the current owners) when asked and some atom has an owner in the pod,
    contiguous units when asked — then, while the result is outside the band, from scratch,
    then without contiguity; the first result inside the band is kept, else the best balanced
    (the notes say what was tried). ``time_limit`` is the pod's budget for all the tries
    together (seconds; the engine's default when None), shared so that no try starves the
    next; continuity with contiguity is not tried when a seat owns no atom (see below). Unit pods are balanced with their adjacency; the
    concentration cap goes to the engine
    for account pods only — in a unit pod the seeds' concentration risk is an account, not a
    county, and is flagged from the accounts (``territory_figures``).

    Named accounts are locked atoms; in a contiguous unit pod they would anchor their territory
    to a lone account (the engine keeps the piece holding locked atoms), so such a pod is first
    balanced on its units alone, then finished by a continuity pass with the named accounts in
    place. The figures are always measured against the current CRM owners.
    """
    report = progress or (lambda f, m: None)
    wants_continuity = continuity and bool((atoms.owner >= 0).any())
    geo_pod = atoms.pod.atom == "unit"
    contiguous = contiguous and geo_pod  # accounts have no geography to be contiguous in
    attempts = [("continuity", contiguous)] if wants_continuity else []
    attempts.append(("greenfield", contiguous))
    if contiguous and geo_pod:
        attempts += [(m, False) for m, _ in list(attempts)]
    skipped = ""
    if wants_continuity and contiguous and geo_pod:
        empty = atoms.pod.seats - len(set(atoms.owner[atoms.owner >= 0].tolist()))
        if empty:
            # Growing a territory that owns nothing into one contiguous piece is what the
            # engine's continuity search does worst (measured: ±94 % after its whole time
            # limit); drawn from scratch it takes a tenth of a second.
            attempts.remove(("continuity", True))
            skipped = (
                f"{empty} territor{'y owns' if empty == 1 else 'ies own'} no account yet, so "
                "contiguous territories were drawn from scratch"
            )
    tried: list[tuple[str, bool, PodResult]] = []
    # One budget for the pod, shared: a try that cannot reach the band must not starve the
    # next (the engine searches until its time limit when the band is out of reach).
    deadline = time.monotonic() + (120.0 if time_limit is None else float(time_limit))
    for number, (mode, contig) in enumerate(attempts):
        left = deadline - time.monotonic()
        if tried and left < 1.0:
            break
        share = 1 / len(attempts)
        result = _balance_pod_mode(
            atoms,
            mode=mode,
            tolerance=tolerance,
            max_share=max_share,
            seed=seed,
            contiguous=contig,
            time_limit=max(left / (len(attempts) - number), 1.0),
            report=lambda f, m, n=number, s=share: report((n + f) * s, m),
        )
        tried.append((mode, contig, result))
        if result.metrics.within_tolerance:
            break

    def worst(result: PodResult) -> float:
        return max(m.max_dev_pct for m in result.metrics.measures)

    chosen = next((t for t in tried if t[2].metrics.within_tolerance), None)
    chosen = chosen or min(tried, key=lambda t: worst(t[2]))
    mode, contig, result = chosen
    notes = list(result.notes) + ([skipped] if skipped else [])
    for other_mode, other_contig, other in tried:
        if other is result:
            break
        what = (
            "continuity from the current owners"
            if other_mode == "continuity"
            else "a run from scratch"
        ) + (" with contiguous territories" if other_contig else "")
        notes.append(f"{what} ended outside the band (±{worst(other):.1f} %)")
    if contiguous and geo_pod and not contig:
        notes.append(
            "territories are not all in one piece: contiguity and the band could not both be met"
        )
    if mode == "greenfield" and wants_continuity and not skipped:
        notes.append(
            "the territories were redrawn from scratch "
            + (
                "to reach the band"
                if result.metrics.within_tolerance
                else "(the best balanced try)"
            )
        )
    return replace(
        result, notes=tuple(dict.fromkeys(notes)), seconds=sum(t[2].seconds for t in tried)
    )


def _balance_pod_mode(
    atoms: PodAtoms,
    *,
    mode: str,
    tolerance: float,
    max_share: float | None,
    seed: int,
    contiguous: bool,
    time_limit: float | None,
    report,
) -> PodResult:
    geo_pod = atoms.pod.atom == "unit"
    common = {
        "tolerance": tolerance,
        "max_share": None if geo_pod else max_share,
        "seed": seed,
        "time_limit": time_limit,
    }
    named = atoms.kind == "named"
    owned = sorted(set(atoms.owner[atoms.owner >= 0].tolist()))
    if mode == "continuity" and not contiguous and 0 < len(owned) < atoms.pod.seats:
        return _continuity_with_vacancies(atoms, owned, common=common, report=report)
    if geo_pod and contiguous and named.any():
        units = np.flatnonzero(~named)
        sub = Problem(
            atoms.measures[units],
            MEASURES,
            territories=atoms.pod.seats,
            owner=atoms.owner[units],
            segment_names=(atoms.pod.label,),
            coords=atoms.coords[units],
            edges=atoms.edges,
        )
        first = balance(
            sub,
            contiguous=True,
            mode=mode,
            progress=lambda f, m: report(0.7 * f, m),
            **common,
        )
        start = atoms.owner.copy()
        start[units] = first.assignment
        second = balance(
            atoms.problem(owner=start),
            mode="continuity",
            progress=lambda f, m: report(0.7 + 0.3 * f, m),
            **common,
        )
        assignment, edges = second.assignment, second.problem.edges
        method = f"{first.method}; then continuity with the named accounts in place"
        notes = (*first.notes, *second.notes)
        seconds = first.seconds + second.seconds
        final = replace_edges(atoms.problem(), edges)
        bounds = problem_bounds(final, tolerance=tolerance, exact_counts=False, start=atoms.owner)
        metrics = metrics_for(final, assignment, tolerance=tolerance, bounds=bounds)
    else:
        result = balance(
            atoms.problem(),
            contiguous=contiguous and geo_pod,
            mode=mode,
            progress=report,
            **common,
        )
        assignment, metrics, bounds = result.assignment, result.metrics, result.bounds
        edges, method = result.problem.edges, result.method
        notes, seconds = result.notes, result.seconds
    return PodResult(
        assignment=np.asarray(assignment, dtype=np.int64),
        metrics=metrics,
        bounds=bounds,
        edges=edges,
        method=f"{mode}: {method}",
        notes=tuple(notes),
        seconds=seconds,
    )


def _continuity_with_vacancies(atoms: PodAtoms, owned: list[int], *, common, report) -> PodResult:
    """Continuity when some seats own nothing (vacant seats): the engine's continuity search
    fills an empty territory one atom at a time (measured: 30 s and still ±15 % on 75,000
    accounts with 14 of 25 seats empty). An empty seat is what a growth cut creates, so: keep
    the owned seats' accounts with continuity over those seats only, then cut the vacant
    seats out of them with ``growth_cut`` (moves only into the new territories), which is
    fast. Atoms without units' accounts (empty units) stay where continuity put them."""
    from territories.balancing import growth_cut

    seats = atoms.pod.seats
    vacant = [t for t in range(seats) if t not in set(owned)]
    local = np.full(seats, -1, dtype=np.int64)
    local[owned] = np.arange(len(owned))
    owner = np.where(atoms.owner >= 0, local[np.maximum(atoms.owner, 0)], -1)
    locked = atoms.locked if atoms.locked.any() else None
    first = balance(
        Problem(
            atoms.measures,
            MEASURES,
            territories=len(owned),
            owner=owner,
            locked=locked,
            segment_names=(atoms.pod.label,),
            edges=atoms.edges,
            coords=atoms.coords,
        ),
        mode="continuity",
        progress=lambda f, m: report(0.5 * f, m),
        **common,
    )
    live = np.flatnonzero(atoms.count > 0)
    start = first.assignment[live]
    live_locked = atoms.locked[live]
    cut = growth_cut(
        Problem(
            atoms.measures[live],
            MEASURES,
            territories=len(owned),
            owner=start,
            locked=live_locked if live_locked.any() else None,
            segment_names=(atoms.pod.label,),
        ),
        start,
        add=len(vacant),
        tolerance=common["tolerance"],
        seed=common["seed"],
        time_limit=common["time_limit"],
        progress=lambda f, m: report(0.5 + 0.5 * f, m),
    )
    # Back to the pod's seats: owned seats in order, then the vacant ones.
    seat_of = np.array([*owned, *vacant], dtype=np.int64)
    local_assignment = first.assignment.copy()
    local_assignment[live] = cut.assignment
    assignment = seat_of[local_assignment]
    final = atoms.problem()
    edges = first.problem.edges
    if edges is not None:
        final = replace_edges(final, edges)
    bounds = problem_bounds(
        final, tolerance=common["tolerance"], exact_counts=False, start=atoms.owner
    )
    metrics = metrics_for(final, assignment, tolerance=common["tolerance"], bounds=bounds)
    noun = "seat" if len(vacant) == 1 else "seats"
    return PodResult(
        assignment=assignment,
        metrics=metrics,
        bounds=bounds,
        edges=edges,
        method=f"continuity: {first.method} over the {len(owned)} owned seats; then "
        f"pre-planned cuts for {len(vacant)} vacant {noun}",
        notes=tuple(dict.fromkeys((*first.notes, *cut.notes))),
        seconds=first.seconds + cut.seconds,
    )


def replace_edges(problem: Problem, edges: np.ndarray | None) -> Problem:
    return replace(problem, edges=edges)


# --- Storing what manual edits need ---------------------------------------------------------------


def pod_arrays(atoms: PodAtoms, result: PodResult) -> PodArrays:
    """What a manual edit of the pod needs, in atom order (see :class:`PodArrays`)."""
    return PodArrays(
        measures=atoms.measures,
        owner=atoms.owner.copy(),
        assignment=result.assignment.copy(),
        locked=atoms.locked.copy(),
        named=atoms.kind == "named",
        top=atoms.top,
        extras=atoms.extras,
        edges=result.edges,
    )


@dataclass
class PodArrays:
    """The stored arrays of one pod (see :func:`pack_arrays`), mutable for a manual edit."""

    measures: np.ndarray
    owner: np.ndarray
    assignment: np.ndarray
    locked: np.ndarray
    named: np.ndarray
    top: np.ndarray
    extras: np.ndarray
    edges: np.ndarray | None

    @classmethod
    def unpack(cls, data: bytes) -> PodArrays:
        """Read arrays written by :meth:`pack` (``.npz``, no pickle)."""
        with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as z:
            return cls(
                measures=z["measures"],
                owner=z["owner"].astype(np.int64),
                assignment=z["assignment"].astype(np.int64),
                locked=z["locked"].copy(),
                named=z["named"],
                top=z["top"],
                extras=z["extras"].astype(np.float64),
                edges=z["edges"].astype(np.int64) if "edges" in z.files else None,
            )

    def pack(self) -> bytes:
        buffer = io.BytesIO()
        arrays = {
            "measures": self.measures,
            "owner": self.owner.astype(np.int32),
            "assignment": self.assignment.astype(np.int32),
            "locked": self.locked,
            "named": self.named,
            "top": self.top,
            # Tier counts and value per segment are for display: single precision halves the
            # stored size (and so the cost of rewriting it on every manual move).
            "extras": self.extras.astype(np.float32),
        }
        if self.edges is not None:
            arrays["edges"] = self.edges.astype(np.int32)
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def problem(self, seats: int) -> Problem:
        return Problem(
            self.measures, MEASURES, territories=seats, owner=self.owner, edges=self.edges
        )


def bounds_to_json(bounds: Bounds) -> dict[str, Any]:
    return {
        "per_segment": [
            [
                {
                    "mean": b.mean,
                    "max_load_lb": b.max_load_lb,
                    "min_load_ub": b.min_load_ub,
                    "max_dev_lb": b.max_dev_lb,
                    "source": b.source,
                }
                for b in row
            ]
            for row in bounds.per_segment
        ],
        "exact_counts": bounds.exact_counts,
        "tolerance": bounds.tolerance,
        "min_feasible_share": bounds.min_feasible_share,
        "moves_lb": bounds.moves_lb,
        "moves_lb_feasible": bounds.moves_lb_feasible,
    }


def bounds_from_json(data: Mapping[str, Any]) -> Bounds:
    return Bounds(
        per_segment=tuple(tuple(MeasureBound(**b) for b in row) for row in data["per_segment"]),
        exact_counts=bool(data["exact_counts"]),
        tolerance=float(data["tolerance"]),
        min_feasible_share=float(data["min_feasible_share"]),
        moves_lb=data.get("moves_lb"),
        moves_lb_feasible=bool(data.get("moves_lb_feasible", True)),
    )


# --- Figures --------------------------------------------------------------------------------------


def _num(x: float) -> float | None:
    x = float(x)
    return round(x, 6) if np.isfinite(x) else None


def pod_metrics(metrics: Metrics, *, method: str = "", notes: Sequence[str] = ()) -> dict[str, Any]:
    """The pod's balance as JSON: the engine's summary plus the lower-bound source per measure."""
    out = metrics.as_dict()
    out["method"] = method
    out["notes"] = list(notes)
    return out


def territory_figures(
    arrays: PodArrays, metrics: Metrics, extra_names: Sequence[str], seats: int
) -> list[dict[str, Any]]:
    """Per territory of a pod: atoms, accounts, value, deviations, concentration, moves, tier
    mix and value per segment (what the results table shows and the quota uses)."""
    a = arrays.assignment
    t = metrics.territory
    top = np.zeros(seats)
    np.maximum.at(top, a, arrays.top)
    extras = np.zeros((seats, arrays.extras.shape[1]))
    np.add.at(extras, a, arrays.extras)
    locked = np.bincount(a[arrays.locked], minlength=seats)
    rows = []
    for i in range(seats):
        value = float(t.loads[i, 1])
        named = extras[i, extra_names.index("named")] if "named" in extra_names else 0.0
        rows.append(
            {
                "atoms": int(t.atoms[i]),
                "count": int(round(t.loads[i, 0])),
                "value": value,
                "count_dev_pct": _num(t.dev_pct[i, 0]),
                "value_dev_pct": _num(t.dev_pct[i, 1]),
                "atom_share_pct": _num(100 * t.max_share[i]),
                "largest_account": float(top[i]),
                "largest_account_pct": _num(100 * top[i] / value) if value > 0 else 0.0,
                "moved_in": int(t.moved_in[i]),
                "moved_out": int(t.moved_out[i]),
                "locked": int(locked[i]),
                "named": int(round(named)),
                "tiers": {
                    name.split(":", 1)[1] or "none": int(round(extras[i, j]))
                    for j, name in enumerate(extra_names)
                    if name.startswith("tier:")
                },
                "value_by_segment": {
                    name.split(":", 1)[1]: float(extras[i, j])
                    for j, name in enumerate(extra_names)
                    if name.startswith("seg:") and extras[i, j] > 0
                },
            }
        )
    return rows


def overall_metrics(pods: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's figures from its pods' (JSON from :func:`pod_metrics`): per measure the worst
    pod (as the engine reports segments), moves summed."""
    out: dict[str, Any] = {
        "pods": len(pods),
        "atoms": sum(p.get("atoms", 0) for p in pods),
        "territories": sum(p.get("territories", 0) for p in pods),
        "within_tolerance": all(p.get("within_tolerance") for p in pods),
        "optimal": all(p.get("optimal") for p in pods),
        "moved_atoms": sum(p.get("moved_atoms", 0) for p in pods),
        "max_share_pct": max((p.get("max_share_pct") or 0 for p in pods), default=0),
    }
    for name in MEASURES:
        rows = [p[name] for p in pods if name in p]
        if not rows:
            continue

        def worst(field: str, rows=rows) -> float | None:
            values = [r.get(field) for r in rows]
            if any(v is None for v in values):
                return None
            return max(values)

        out[name] = {
            "spread_pct": worst("spread_pct"),
            "max_dev_pct": worst("max_dev_pct"),
            "cv_pct": worst("cv_pct"),
            "lower_bound_max_dev_pct": worst("lower_bound_max_dev_pct"),
            "gap_pp": worst("gap_pp"),
            "max_min_ratio": worst("max_min_ratio"),
            "within_tolerance": all(r.get("within_tolerance") for r in rows),
        }
    return out


@dataclass(frozen=True)
class Flag:
    """One finding of the seeds' rules: ``level`` "warn" or "bad"; ``code`` for tests/CSS."""

    code: str
    level: str
    text: str


def territory_flags(row: Mapping[str, Any], *, tolerance: float, max_share: float) -> list[Flag]:
    """Seed 003: ±10 % target (the run's tolerance), > 20 % means rebalance; seed 000:
    concentration risk when one account holds a large share of the territory's value."""
    flags = []
    tol = 100 * tolerance
    for measure, noun in (("value", "value"), ("count", "account count")):
        dev = row.get(f"{measure}_dev_pct")
        if dev is None:
            continue
        if abs(dev) > WARN_PCT:
            flags.append(
                Flag(
                    f"{measure}_rebalance",
                    "bad",
                    f"{noun} {dev:+.1f} % from the pod mean: rebalance (> {WARN_PCT:.0f} %)",
                )
            )
        elif abs(dev) > tol + 1e-9:
            flags.append(
                Flag(
                    f"{measure}_band",
                    "warn",
                    f"{noun} {dev:+.1f} % from the pod mean (target ±{tol:g} %)",
                )
            )
    share = row.get("largest_account_pct") or 0.0
    if share > 100 * max_share + 1e-9:
        flags.append(
            Flag(
                "concentration",
                "bad" if share >= 50 else "warn",
                f"concentration: one account is {share:.0f} % of the value (limit {100 * max_share:g} %)",
            )
        )
    return flags


def pod_flags(rows: Sequence[Mapping[str, Any]]) -> list[Flag]:
    """Seed 000's refinement trigger: one territory with 2x the value of another in the pod."""
    values = [r["value"] for r in rows]
    if len(values) < 2:
        return []
    high, low = max(values), min(values)
    if low <= 0 and high > 0:
        return [Flag("ratio", "bad", "a territory has no value at all")]
    if low > 0 and high / low >= RATIO_TRIGGER:
        return [
            Flag(
                "ratio",
                "bad",
                f"the largest territory has {high / low:.1f}× the value of the smallest (trigger: 2×)",
            )
        ]
    return []


# --- Maps ------------------------------------------------------------------------------------------


def map_layers(pods: Sequence[tuple[str, str, Sequence[str]]]) -> list[list[str]]:
    """Group unit-level pods into maps: pods are ``(key, label, states they hold units in)``;
    a pod joins the first map none of whose pods shares a state with it (one colour per
    place). Returns lists of pod keys, in pod order."""
    layers: list[tuple[list[str], set[str]]] = []
    for key, _, states in pods:
        states = set(states)
        for keys, used in layers:
            if not used & states:
                keys.append(key)
                used |= states
                break
        else:
            layers.append(([key], states))
    return [keys for keys, _ in layers]


# --- The approved map's text -------------------------------------------------------------------------


def assignment_sha256(lines: Sequence[tuple[str, str, str]]) -> str:
    """SHA-256 of the full assignment: ``pod<TAB>atom<TAB>territory key`` lines, sorted."""
    digest = hashlib.sha256()
    for pod, atom, territory in sorted(lines):
        digest.update(f"{pod}\t{atom}\t{territory}\n".encode())
    return digest.hexdigest()


def digest_list(items: Sequence[str], limit: int = 12) -> str:
    """ "a, b, c and 14 more" (the sign-off text names what it can without a page of ids)."""
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit:,} more"
