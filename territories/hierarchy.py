"""The segmentation hierarchy: ordered cuts that split the account universe into pods. Pure.

Seed 000: "The ordered sequence of cuts (size, geography, industry, etc.) that determines
assignment" — named accounts always first, then for example size segment, region, state (and
below state where a state is too dense), industry. A **pod** is one leaf of the hierarchy: the
accounts matching its criteria, split into ``seats`` territories by a balancing run. Its
territories are made of **atoms**: geographic units (``atom="unit"``, routed by rules, so new
accounts route automatically) or single accounts (``atom="account"``, routed by account lists,
for enterprise pods where a map means little).

This module is the contract between the portal's balancing runs and the routing engine
(``docs/routing.md``): both evaluate a :class:`HierarchySpec` with :meth:`HierarchySpec.pod_of`
or :func:`assign_pods` and get the same answer.

Evaluation rules (both sides rely on them):

* Named accounts are taken out before any pod (by the caller: they go to their owner).
* Pods are tried **in order**; the first pod whose every criterion matches takes the account.
* A criterion tuple that is empty or contains ``""`` matches anything (also a blank field).
* ``segments`` compare segment labels exactly; ``industries`` compare case-insensitively after
  trimming; ``states`` are two-letter codes; ``regions`` are :data:`territories.geo.STATE_REGION`
  values derived from the state (Census regions: Northeast, Midwest, South, West).
* An account's segment is computed from ``segment_basis`` with ``bands`` (boundaries as written,
  unknown size falls in the last band) — see :func:`territories.segments.assign_segments`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from territories import geo
from territories.segments import BASES, SegmentScheme, assign_segments
from territories.segments import Band as SegmentBand

__all__ = [
    "ATOMS",
    "CUTS",
    "HierarchyError",
    "HierarchySpec",
    "PodSpec",
    "SegmentBand",
    "assign_pods",
    "pod_for_seat",
    "slugify",
]

# The cuts a hierarchy may use, with their plain names. "state" covers sub-state geography too
# (granularity per state is a property of each pod).
CUTS: dict[str, str] = {
    "named_accounts": "Named accounts",
    "segment": "Size segment",
    "region": "Region",
    "state": "State (and below, where a state is split)",
    "industry": "Industry",
}
ATOMS: dict[str, str] = {
    "unit": "Geographic units (routed by rules; new accounts route automatically)",
    "account": "Accounts (routed by account lists)",
}
REGIONS: tuple[str, ...] = tuple(dict.fromkeys(geo.STATE_REGION.values()))
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


class HierarchyError(ValueError):
    """A hierarchy that cannot be used; the message names the pod and field."""


def slugify(text: str) -> str:
    """A stable pod key from a label: "Commercial · West" -> "commercial-west"."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return slug[:60] or "pod"


def _any(values: tuple[str, ...]) -> bool:
    return not values or "" in values


@dataclass(frozen=True)
class PodSpec:
    """One pod: its criteria (empty tuple or ``""`` = any), seats and atom kind.

    ``reps`` (an extension of the contract) names the roster members who hold the pod's seats,
    in seat order: territory ``i`` of the pod belongs to ``reps[i]``; seats beyond ``len(reps)``
    are vacant (to be hired). ``granularity_by_state`` only matters for ``atom="unit"``.
    """

    key: str
    label: str
    segments: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    seats: int = 1
    atom: str = "unit"
    granularity_by_state: dict[str, str] = field(default_factory=dict)
    reps: tuple[str, ...] = ()

    def matches(self, *, segment: str, region: str, state: str, industry: str) -> bool:
        """Whether an account with these fields belongs to this pod (blank fields match only
        a criterion that says "any")."""
        if not _any(self.segments) and segment not in self.segments:
            return False
        if not _any(self.regions) and region not in self.regions:
            return False
        if not _any(self.states) and state not in self.states:
            return False
        if not _any(self.industries):
            wanted = {i.strip().lower() for i in self.industries}
            if (industry or "").strip().lower() not in wanted:
                return False
        return True

    def granularity(self, state: str) -> str:
        return self.granularity_by_state.get(state, "state")

    @property
    def split_states(self) -> dict[str, str]:
        """States cut below state level in this pod, with their granularity."""
        return {s: g for s, g in sorted(self.granularity_by_state.items()) if g != "state"}

    def criteria_text(self) -> str:
        """The pod's criteria in words: "Mid-Market, West region, CA or NV"."""
        parts = []
        if not _any(self.segments):
            parts.append(" or ".join(self.segments))
        if not _any(self.regions):
            parts.append(
                " or ".join(self.regions) + (" region" if len(self.regions) == 1 else " regions")
            )
        if not _any(self.states):
            parts.append(", ".join(self.states))
        if not _any(self.industries):
            parts.append(" or ".join(self.industries))
        return "; ".join(parts) if parts else "every remaining account"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "segments": list(self.segments),
            "regions": list(self.regions),
            "states": list(self.states),
            "industries": list(self.industries),
            "seats": self.seats,
            "atom": self.atom,
            "granularity_by_state": dict(sorted(self.granularity_by_state.items())),
            "reps": list(self.reps),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PodSpec:
        def texts(name: str) -> tuple[str, ...]:
            value = data.get(name) or ()
            if isinstance(value, str):
                value = [value]
            return tuple(str(v).strip() for v in value)

        try:
            seats = int(data.get("seats", 1))
        except (TypeError, ValueError) as exc:
            raise HierarchyError(f"pod {data.get('key')!r}: seats must be a whole number") from exc
        granularity = data.get("granularity_by_state") or {}
        if not isinstance(granularity, Mapping):
            raise HierarchyError(f"pod {data.get('key')!r}: granularity_by_state must be a mapping")
        return cls(
            key=str(data.get("key", "")).strip(),
            label=str(data.get("label", "")).strip(),
            segments=texts("segments"),
            regions=texts("regions"),
            states=tuple(s.upper() for s in texts("states")),
            industries=texts("industries"),
            seats=seats,
            atom=str(data.get("atom", "unit")),
            granularity_by_state={str(k).upper(): str(v) for k, v in granularity.items()},
            reps=texts("reps"),
        )


@dataclass(frozen=True)
class HierarchySpec:
    """Ordered cuts, the segment bands, and the pods (evaluated in order)."""

    cuts: tuple[str, ...]
    segment_basis: str
    bands: tuple[SegmentBand, ...]
    pods: tuple[PodSpec, ...]

    # --- Evaluation -------------------------------------------------------------------------

    def pod_of(self, *, segment: str, region: str, state: str, industry: str) -> PodSpec | None:
        """The first pod whose criteria match, or None."""
        for pod in self.pods:
            if pod.matches(segment=segment, region=region, state=state, industry=industry):
                return pod
        return None

    def pod(self, key: str) -> PodSpec:
        for pod in self.pods:
            if pod.key == key:
                return pod
        raise KeyError(key)

    @property
    def scheme(self) -> SegmentScheme:
        return SegmentScheme(basis=self.segment_basis, bands=self.bands)

    @property
    def segment_labels(self) -> list[str]:
        return [b.label for b in self.bands]

    @property
    def seats(self) -> int:
        return sum(p.seats for p in self.pods)

    # --- Checks and text --------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Why the hierarchy cannot be used, one sentence each (empty when it can)."""
        problems = [f"Segments: {p}" for p in self.scheme.problems()]
        if len(set(self.cuts)) != len(self.cuts):
            problems.append("A cut appears twice in the cut order.")
        unknown = [c for c in self.cuts if c not in CUTS]
        if unknown:
            problems.append(f"Unknown cut {unknown[0]!r}; cuts are {', '.join(CUTS)}.")
        if "named_accounts" not in self.cuts or self.cuts[0] != "named_accounts":
            problems.append(
                "Named accounts must be the first cut (seed 000: they bypass the rest)."
            )
        if not self.pods:
            problems.append("Define at least one pod.")
        labels = set(self.segment_labels)
        keys: set[str] = set()
        for number, pod in enumerate(self.pods, start=1):
            name = f"Pod {number} ({pod.label or pod.key or 'unnamed'})"
            if not SLUG_RE.match(pod.key):
                problems.append(f"{name}: the key must be a lower-case slug (letters, digits, -).")
            if pod.key in keys:
                problems.append(f"{name}: the key {pod.key!r} is used twice.")
            keys.add(pod.key)
            if not pod.label:
                problems.append(f"{name}: give the pod a name.")
            if pod.seats < 1:
                problems.append(f"{name}: needs at least one seat (it has {pod.seats}).")
            if pod.seats > 500:
                problems.append(f"{name}: {pod.seats} seats is more than 500.")
            if len(pod.reps) > pod.seats:
                problems.append(
                    f"{name}: {len(pod.reps)} reps for {pod.seats} seats; add seats or remove reps."
                )
            if len(set(pod.reps)) != len(pod.reps):
                problems.append(f"{name}: a rep holds two seats.")
            if pod.atom not in ATOMS:
                problems.append(
                    f"{name}: atom must be one of {', '.join(ATOMS)} (not {pod.atom!r})."
                )
            for segment in pod.segments:
                if segment and segment not in labels:
                    problems.append(
                        f"{name}: segment {segment!r} is not one of {', '.join(labels)}."
                    )
            for region in pod.regions:
                if region and region not in REGIONS:
                    problems.append(
                        f"{name}: region {region!r} is not one of {', '.join(REGIONS)}."
                    )
            for state in pod.states:
                if state and state not in geo.STATE_FIPS:
                    problems.append(f"{name}: {state!r} is not a state abbreviation.")
            for state, granularity in pod.granularity_by_state.items():
                if state not in geo.STATE_FIPS:
                    problems.append(f"{name}: granularity for {state!r}, which is not a state.")
                elif granularity not in geo.GRANULARITIES:
                    problems.append(
                        f"{name}: granularity {granularity!r} for {state} is not one of "
                        f"{', '.join(geo.GRANULARITIES)}."
                    )
            for cut, values in (
                ("segment", pod.segments),
                ("region", pod.regions),
                ("state", pod.states),
                ("industry", pod.industries),
            ):
                if not _any(values) and cut not in self.cuts:
                    problems.append(
                        f"{name}: filters on {cut}, which is not a cut of the hierarchy."
                    )
        return problems

    def check(self) -> HierarchySpec:
        """Self, or HierarchyError with every problem."""
        problems = self.problems()
        if problems:
            raise HierarchyError(" ".join(problems))
        return self

    def describe(self) -> list[str]:
        """The hierarchy in plain lines (the sign-off text and the Territory Hierarchy Document)."""
        lines = [
            "Cut order: "
            + ", ".join(
                f"{i}. {CUTS.get(c, c).split(' (')[0].lower()}" for i, c in enumerate(self.cuts, 1)
            ),
            "Segments: " + "; ".join(self.scheme.describe()),
            f"Pods ({len(self.pods)}, {self.seats} seats in all), evaluated in this order:",
        ]
        for number, pod in enumerate(self.pods, start=1):
            reps = ", ".join(pod.reps) if pod.reps else "no rep yet"
            vacant = pod.seats - len(pod.reps)
            lines.append(
                f"{number}. {pod.label}: {pod.criteria_text()}; {pod.seats} "
                f"seat{'s' if pod.seats != 1 else ''} ({reps}"
                + (f"; {vacant} vacant" if vacant and pod.reps else "")
                + f"); territories made of {'accounts' if pod.atom == 'account' else 'geographic units'}"
                + (
                    "; split below state level: "
                    + ", ".join(f"{geo.STATE_NAME[s]} by {g}" for s, g in pod.split_states.items())
                    if pod.atom == "unit" and pod.split_states
                    else ""
                )
                + "."
            )
        return lines

    # --- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "cuts": list(self.cuts),
            "segment_basis": self.segment_basis,
            "bands": [b.as_dict() for b in self.bands],
            "pods": [p.to_json() for p in self.pods],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HierarchySpec:
        """Parse (not check: call :meth:`check`); HierarchyError when the shape is wrong."""
        if not isinstance(data, Mapping):
            raise HierarchyError("a hierarchy must be a JSON object")
        try:
            scheme = SegmentScheme.from_dict(
                {
                    "basis": data.get("segment_basis", "annual_revenue"),
                    "bands": data.get("bands") or [],
                }
            )
            pods = tuple(PodSpec.from_json(p) for p in (data.get("pods") or []))
        except (KeyError, TypeError, AttributeError) as exc:
            raise HierarchyError(f"malformed hierarchy ({exc})") from exc
        cuts = data.get("cuts") or []
        if isinstance(cuts, str) or not isinstance(cuts, Sequence):
            raise HierarchyError("cuts must be a list of cut names")
        return cls(
            cuts=tuple(str(c) for c in cuts),
            segment_basis=scheme.basis,
            bands=scheme.bands,
            pods=pods,
        )

    # --- Edits (new specs; the caller saves them) ---------------------------------------------

    def with_pod(self, pod: PodSpec) -> HierarchySpec:
        """The spec with the pod of the same key replaced."""
        return replace(self, pods=tuple(pod if p.key == pod.key else p for p in self.pods))

    def with_granularity(self, key: str, state: str, granularity: str) -> HierarchySpec:
        pod = self.pod(key)
        granularity_by_state = dict(pod.granularity_by_state)
        if granularity == "state":
            granularity_by_state.pop(state, None)
        else:
            granularity_by_state[state] = granularity
        return self.with_pod(replace(pod, granularity_by_state=granularity_by_state))


# --- Vectorised evaluation ---------------------------------------------------------------------


def account_states(frame: pd.DataFrame) -> np.ndarray:
    """Two-letter state of every row: the ``state`` column when it reads as a state, else the
    ``postal_code``'s (the rule of :func:`territories.geo.unit_ids`); ``""`` when neither."""
    n = len(frame)
    if "state" in frame:
        values = frame["state"].to_numpy(dtype=object)
        codes, uniques = pd.factorize(pd.Series(values, dtype=object).fillna(""))
        lookup = np.array([geo.normalize_state(u) or "" for u in uniques] + [""], dtype=object)
        states = lookup[codes]  # fancy indexing: a new, writable array
    else:
        states = np.full(n, "", dtype=object)
    if "postal_code" in frame:
        missing = states == ""
        if missing.any():
            from_zip = geo.postal_to_state_series(
                frame["postal_code"].to_numpy(dtype=object)[missing]
            )
            states[missing] = from_zip.fillna("").to_numpy(dtype=object)
    return states


def account_segments(spec: HierarchySpec, frame: pd.DataFrame) -> np.ndarray:
    """Segment label of every row: from the ``spec.segment_basis`` column with the spec's bands
    when the frame has it, else the frame's ``segment`` column."""
    if spec.segment_basis in frame:
        size = pd.to_numeric(frame[spec.segment_basis], errors="coerce").to_numpy(dtype=float)
        return assign_segments(size, spec.scheme)
    if "segment" in frame:
        return frame["segment"].fillna("").astype(str).to_numpy(dtype=object)
    raise HierarchyError(
        f"the accounts need a {spec.segment_basis!r} column (or a segment column) to find pods"
    )


def assign_pods(spec: HierarchySpec, frame: pd.DataFrame) -> pd.Series:
    """Pod key of every account (``""`` = no pod), vectorised; same answers as ``pod_of``.

    ``frame`` columns used: ``spec.segment_basis`` (``annual_revenue`` or ``employees``; or a
    ``segment`` column), ``state`` and/or ``postal_code``, ``industry``. Named accounts are not
    handled here: the caller takes them out first. Returns a Series aligned with ``frame``.
    """
    n = len(frame)
    segment = account_segments(spec, frame)
    state = account_states(frame)
    region = np.array([geo.STATE_REGION.get(s, "") for s in state], dtype=object) if n else state
    if "industry" in frame:
        industry = (
            frame["industry"].fillna("").astype(str).str.strip().str.lower().to_numpy(dtype=object)
        )
    else:
        industry = np.full(n, "", dtype=object)
    result = np.full(n, "", dtype=object)
    open_rows = np.ones(n, dtype=bool)
    for pod in spec.pods:
        hit = open_rows.copy()
        if not _any(pod.segments):
            hit &= np.isin(segment, list(pod.segments))
        if not _any(pod.regions):
            hit &= np.isin(region, list(pod.regions))
        if not _any(pod.states):
            hit &= np.isin(state, list(pod.states))
        if not _any(pod.industries):
            hit &= np.isin(industry, [i.strip().lower() for i in pod.industries])
        result[hit] = pod.key
        open_rows &= ~hit
    return pd.Series(result, index=frame.index, name="pod", dtype=object)


def pod_for_seat(spec: HierarchySpec, *, segment: str, state: str) -> PodSpec | None:
    """The pod a rep or planned hire belongs in: the first whose segment and geography match
    their segment and home state (industry criteria are ignored: people have no industry)."""
    state = geo.normalize_state(state) or ""
    region = geo.STATE_REGION.get(state, "")
    for pod in spec.pods:
        if not _any(pod.segments) and segment not in pod.segments:
            continue
        if state and not _any(pod.regions) and region not in pod.regions:
            continue
        if state and not _any(pod.states) and state not in pod.states:
            continue
        return pod
    return None


def default_spec(
    *,
    scheme: SegmentScheme,
    reps: Iterable[tuple[str, str, str]] = (),
) -> HierarchySpec:
    """A starting hierarchy: named accounts, then one pod per size segment, by geography.

    The largest segment is an account-level pod when there is more than one segment (seed 003:
    "a dedicated enterprise team covering key accounts"); the others are unit-level pods cut by
    state. ``reps`` are ``(name, segment, home_state)`` of the account-carrying roster; each pod
    takes the reps of its segment as its seats (at least one seat).
    """
    reps = list(reps)
    labels = [b.label for b in scheme.bands]
    pods = []
    for index, label in enumerate(labels):
        names = tuple(name for name, segment, _ in reps if segment == label)
        pods.append(
            PodSpec(
                key=slugify(label),
                label=label,
                segments=(label,),
                seats=max(1, len(names)),
                atom="account" if index == 0 and len(labels) > 1 else "unit",
                reps=names,
            )
        )
    return HierarchySpec(
        cuts=("named_accounts", "segment", "state"),
        segment_basis=scheme.basis,
        bands=scheme.bands,
        pods=tuple(pods),
    )


def basis_label(basis: str) -> str:
    return BASES.get(basis, basis)


# --- The split proposal ------------------------------------------------------------------------

FINER: dict[str, str | None] = {"state": "county", "county": "zip3", "zip3": None, "city": None}


@dataclass(frozen=True)
class SplitProposal:
    """A geographic unit holding more than ``share`` of its pod's per-territory target.

    ``proposed`` is the granularity to cut its state to (None: the unit is already as fine as
    the map goes — a concentration to watch, not to split).
    """

    pod: str
    pod_label: str
    unit: str
    unit_label: str
    state: str
    value: float
    target: float
    current: str
    proposed: str | None

    @property
    def share_of_target(self) -> float:
        return self.value / self.target if self.target else 0.0


def split_proposals(
    spec: HierarchySpec,
    unit_values: Mapping[tuple[str, str], float],
    *,
    share: float = 0.5,
    granularity: str = "county",
    pod_values: Mapping[str, float] | None = None,
) -> list[SplitProposal]:
    """Units of unit-level pods whose value exceeds ``share`` × the pod's per-territory target.

    Seed 000, "assigning all of California to one rep": a state (or county) bigger than a good
    part of a territory cannot be balanced, so it is cut finer. ``unit_values`` maps
    ``(pod key, unit id)`` to the value of the pod's accounts in that unit (named accounts
    excluded); the target is the pod's total value (``pod_values``, else the sum of its units)
    / its seats. A whole state is proposed
    ``granularity`` (county by default; zip3 or city on request), a county ``zip3``. Sorted by
    share of the target, largest first.
    """
    if not 0 < share <= 10:
        raise HierarchyError(f"the split share must be above 0 (got {share})")
    if granularity not in ("county", "zip3", "city"):
        raise HierarchyError(f"split to county, zip3 or city, not {granularity!r}")
    totals: dict[str, float] = {}
    for (pod_key, _), value in unit_values.items():
        totals[pod_key] = totals.get(pod_key, 0.0) + float(value)
    if pod_values is not None:
        totals.update({k: float(v) for k, v in pod_values.items()})
    out = []
    for pod in spec.pods:
        if pod.atom != "unit" or totals.get(pod.key, 0.0) <= 0:
            continue
        target = totals[pod.key] / pod.seats
        for (pod_key, unit), value in unit_values.items():
            if pod_key != pod.key or value <= share * target or not geo.is_known_unit(unit):
                continue
            kind, state = geo.unit_kind(unit), geo.unit_state(unit)
            proposed = granularity if kind == "state" else FINER.get(kind)
            out.append(
                SplitProposal(
                    pod=pod.key,
                    pod_label=pod.label,
                    unit=unit,
                    unit_label=geo.unit_label(unit),
                    state=state,
                    value=float(value),
                    target=target,
                    current=kind,
                    proposed=proposed,
                )
            )
    return sorted(out, key=lambda p: (-p.share_of_target, p.pod, p.unit))
