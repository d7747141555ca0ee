"""Planning on top of a balancing run: the growth-ready plan's plain statements, the runway,
quota suggestions and the equity report (seed 003), and drift. Pure: no Django.

Sources: seed 000 ("Pre-Planned Cuts: future territory boundaries designed in advance for when
the team grows"; "Do territories still provide 18+ months of runway?"; refinement trigger "one
territory has 2x value of another in same segment") and seed 003 (quota at 70–80 % of the
realistic potential, i.e. value × the segment's conversion rate; "if one territory has >20 %
more quota potential than another, rebalance"; the territory plan's output format).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from territories.geo import format_usd

REBALANCE_PCT = 20.0
RUNWAY_GOAL_MONTHS = 18
HORIZON_MONTHS = 60


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _places(labels: Sequence[str], *, kind: str, limit: int = 3) -> str:
    head = ", ".join(labels[:limit])
    more = len(labels) - limit
    if kind == "unit":
        tail = f" and {_plural(more, 'more area')}" if more > 0 else ""
        return f"in {head}{tail}"
    tail = f" and {more:,} more" if more > 0 else ""
    return f"including {head}{tail}"


# --- Growth-ready plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CutStep:
    """One pre-planned cut as the engine returned it (indices within the pod)."""

    new_territory: int
    atoms: np.ndarray  # atom indices moving into the new territory
    max_dev_pct: Mapping[str, float]
    spread_pct: Mapping[str, float]
    within_tolerance: bool


def describe_cuts(
    *,
    measures: np.ndarray,
    start: np.ndarray,
    steps: Sequence[CutStep],
    holders: Sequence[str],
    new_names: Sequence[str],
    atom_labels: Mapping[int, str],
    atom_ids: Mapping[int, str],
    kind: str,
) -> list[dict[str, Any]]:
    """Per step: what the new territory takes from whom, the balance after it, and for each
    giving territory a plain sentence about what its rep loses.

    ``measures`` is ``(n, 2)`` (accounts, value) per atom; ``start`` the assignment before the
    first step; ``holders[t]`` names who holds territory ``t`` now (rep, or "<label> (vacant)");
    ``new_names[j]`` the planned hire taking step ``j``'s territory; ``atom_labels`` the
    display names of the moving atoms (largest first are named), ``atom_ids`` their ids.
    """
    current = np.asarray(start, dtype=np.int64).copy()
    k = int(max(current.max(initial=-1) + 1, max((s.new_territory for s in steps), default=-1) + 1))
    out = []
    for number, step in enumerate(steps):
        atoms = np.asarray(step.atoms, dtype=np.int64)
        loads = np.stack(
            [np.bincount(current, weights=measures[:, j], minlength=k) for j in range(2)], axis=1
        )
        donors = []
        for t in sorted(set(current[atoms].tolist())):
            mine = atoms[current[atoms] == t]
            accounts = int(round(measures[mine, 0].sum()))
            value = float(measures[mine, 1].sum())
            share = 100 * value / loads[t, 1] if loads[t, 1] > 0 else 0.0
            order = mine[np.argsort(-measures[mine, 1], kind="stable")]
            labels = [atom_labels.get(int(i), str(i)) for i in order]
            holder = holders[t] if t < len(holders) else f"Territory {t + 1}"
            donors.append(
                {
                    "territory": int(t),
                    "holder": holder,
                    "accounts": accounts,
                    "value": value,
                    "share_pct": round(share, 1),
                    "atoms": [atom_ids.get(int(i), str(i)) for i in order],
                    "places": labels,
                    "statement": (
                        f"{holder} gives up {_plural(accounts, 'account')} ({format_usd(value)}, "
                        f"{share:.0f} % of their value) {_places(labels, kind=kind)} to "
                        f"{new_names[number]}."
                    ),
                }
            )
        current[atoms] = step.new_territory
        out.append(
            {
                "step": number + 1,
                "hire": new_names[number],
                "accounts": int(round(measures[atoms, 0].sum())),
                "value": float(measures[atoms, 1].sum()),
                "atoms": int(atoms.size),
                "donors": sorted(donors, key=lambda d: -d["value"]),
                "max_dev_pct": {k_: round(float(v), 2) for k_, v in step.max_dev_pct.items()},
                "spread_pct": {k_: round(float(v), 2) for k_, v in step.spread_pct.items()},
                "within_tolerance": bool(step.within_tolerance),
            }
        )
    return out


def losses_by_holder(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Over the whole plan: what each existing territory's rep gives up, largest first."""
    totals: dict[str, dict[str, Any]] = {}
    for step in steps:
        for donor in step["donors"]:
            row = totals.setdefault(
                donor["holder"], {"holder": donor["holder"], "accounts": 0, "value": 0.0, "to": []}
            )
            row["accounts"] += donor["accounts"]
            row["value"] += donor["value"]
            row["to"].append(step["hire"])
    return sorted(totals.values(), key=lambda r: -r["value"])


def rep_statements(
    holdings: Sequence[Mapping[str, Any]], steps: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """A plain statement for every existing territory's holder over the whole plan, including
    those whose territory no cut touches.

    ``holdings``: one dict per existing territory — ``pod``, ``territory`` (its index in the
    pod), ``label``, ``holder`` (rep, or "<label> (vacant)"), ``accounts`` and ``value`` now.
    ``steps``: the plan's steps (``describe_cuts`` output with each step's ``pod``); a donor
    is matched to its territory by (pod, index), so two territories held by one person stay
    apart. Returns, in ``holdings`` order, what each gives up, to whom, what each keeps, and
    the sentence: "Avery Chen gives up 14 accounts ($1.20M, 8 % of their value) to AE West #4
    and keeps 150 accounts ($13.1M)." or "Riley Park keeps all 120 accounts ($9.5M): no
    pre-planned cut takes from SMB 3."
    """
    given: dict[tuple[str, int], dict[str, Any]] = {}
    for step in steps:
        for donor in step["donors"]:
            row = given.setdefault(
                (step.get("pod", ""), int(donor["territory"])),
                {"accounts": 0, "value": 0.0, "to": []},
            )
            row["accounts"] += int(donor["accounts"])
            row["value"] += float(donor["value"])
            if step["hire"] not in row["to"]:
                row["to"].append(step["hire"])
    out = []
    for h in holdings:
        accounts, value = int(h["accounts"]), float(h["value"])
        gives = given.get((h["pod"], int(h["territory"])), {"accounts": 0, "value": 0.0, "to": []})
        keeps_accounts = max(accounts - gives["accounts"], 0)
        keeps_value = max(value - gives["value"], 0.0)
        if gives["accounts"] or gives["value"] > 0:
            share = 100 * gives["value"] / value if value > 0 else 0.0
            to = gives["to"]
            names = to[0] if len(to) == 1 else ", ".join(to[:-1]) + " and " + to[-1]
            statement = (
                f"{h['holder']} gives up {_plural(gives['accounts'], 'account')} "
                f"({format_usd(gives['value'])}, {share:.0f} % of their value) to {names} and "
                f"keeps {_plural(keeps_accounts, 'account')} ({format_usd(keeps_value)})."
            )
        else:
            every = "all " if accounts > 1 else ""
            statement = (
                f"{h['holder']} keeps {every}{_plural(accounts, 'account')} "
                f"({format_usd(value)}): no pre-planned cut takes from {h['label']}."
            )
        out.append(
            {
                "pod": h["pod"],
                "label": h["label"],
                "holder": h["holder"],
                "accounts": accounts,
                "value": value,
                "gives_accounts": gives["accounts"],
                "gives_value": gives["value"],
                "to": list(gives["to"]),
                "keeps_accounts": keeps_accounts,
                "keeps_value": keeps_value,
                "statement": statement,
            }
        )
    return out


# --- Runway --------------------------------------------------------------------------------------

RAMP_ORDER = ("new_hire", "ramping", "ramped")


@dataclass(frozen=True)
class SeatPlan:
    """One account-carrying seat over time.

    ``ramp_state``: the state now (``"new_hire"``, ``"ramping"``, ``"ramped"``, ``"senior"``);
    ``tenure_months``: months since the person started (negative for a planned hire: it starts
    in ``-tenure_months`` months and counts nothing before). Ramped and senior people stay as
    they are; new hires and ramping reps progress with their tenure.
    """

    segment: str
    ramp_state: str
    tenure_months: float
    name: str = ""


def state_at(
    seat: SeatPlan, month: float, *, new_hire_months: int, ramping_months: int
) -> str | None:
    """The seat's ramp state ``month`` months from now (None before a hire starts)."""
    tenure = seat.tenure_months + month
    if tenure < 0:
        return None
    if seat.ramp_state in ("ramped", "senior"):
        return seat.ramp_state
    by_tenure = (
        "new_hire"
        if tenure < new_hire_months
        else "ramping"
        if tenure < new_hire_months + ramping_months
        else "ramped"
    )
    # Never behind the state recorded today (a fast ramper keeps their state).
    return max(by_tenure, seat.ramp_state, key=RAMP_ORDER.index)


def runway(
    *,
    need_now: Mapping[str, float],
    seats: Sequence[SeatPlan],
    capacity: Mapping[str, int],
    growth: float,
    new_hire_months: int,
    ramping_months: int,
    horizon: int = HORIZON_MONTHS,
) -> dict[str, Any]:
    """Months until the team no longer covers the market, per segment and overall.

    Formula (documented in ``docs/territory-design.md``): per segment ``s`` and month ``m``,
    ``need_s(m) = need_s(0) · (1 + growth)^(m / 12)`` reps (the coverage model's reps today,
    grown with the accounts), and ``team_s(m) = Σ capacity(state_i(m)) / capacity(ramped)`` over
    the segment's seats (reps and planned hires, each counted from its start date and ramping
    with tenure). The segment's runway is the first whole month with ``need > team``; the
    team's runway is the smallest over segments that need reps. None means beyond ``horizon``.
    """
    ramped = capacity.get("ramped") or 1

    def team(segment: str, month: int) -> float:
        total = 0.0
        for seat in seats:
            if seat.segment != segment:
                continue
            state = state_at(
                seat, month, new_hire_months=new_hire_months, ramping_months=ramping_months
            )
            if state is not None:
                total += capacity.get(state, 0) / ramped
        return total

    rows = []
    for segment, need0 in need_now.items():
        months = None
        for month in range(0, horizon + 1):
            need = need0 * (1 + growth) ** (month / 12)
            if need > team(segment, month) + 1e-9:
                months = month
                break
        rows.append(
            {
                "segment": segment,
                "need_now": round(need0, 2),
                "team_now": round(team(segment, 0), 2),
                "need_18": round(need0 * (1 + growth) ** 1.5, 2),
                "team_18": round(team(segment, RUNWAY_GOAL_MONTHS), 2),
                "months": months,
                "meets_goal": months is None or months >= RUNWAY_GOAL_MONTHS,
            }
        )
    needing = [r for r in rows if r["need_now"] > 0]
    finite = [r["months"] for r in needing if r["months"] is not None]
    overall = min(finite) if finite else None
    return {
        "segments": rows,
        "months": overall,
        "horizon": horizon,
        "goal": RUNWAY_GOAL_MONTHS,
        "meets_goal": overall is None or overall >= RUNWAY_GOAL_MONTHS,
    }


# --- Quota and equity ------------------------------------------------------------------------------


def realistic_potential(value_by_segment: Mapping[str, float], rates: Mapping[str, float]) -> float:
    """Seed 003: potential × the segment's historical conversion rate, summed over segments."""
    return float(sum(v * float(rates.get(s, 0.0)) for s, v in value_by_segment.items()))


def equity(
    territories: Sequence[Mapping[str, Any]],
    *,
    rates: Mapping[str, float],
    quota_share: float,
) -> dict[str, Any]:
    """Quota suggestion and equity per territory and per pod.

    ``territories``: dicts with ``pod``, ``pod_label``, ``label``, ``rep``, ``value`` (the
    potential), ``value_by_segment`` and ``tiers`` (counts). Per territory: realistic potential,
    quota (``quota_share`` × realistic), ``variance_pct`` = potential vs its pod's mean, and
    ``rebalance`` when that exceeds 20 %. Per pod: mean, low and high potential and their range
    ``range_pct`` = ``(high − low) / low``; mean, low and high quota and ``quota_range_pct``,
    the same range on quota (seed 003's "Quota Range (Low-High) … (variance: %)"); and whether
    to rebalance (seed 003: "if one territory has >20 % more quota potential than another,
    rebalance", judged on the potential). A range is None when its lowest value is 0 and its
    highest is not.
    """
    pods: dict[str, list[Mapping[str, Any]]] = {}
    for t in territories:
        pods.setdefault(t["pod"], []).append(t)
    rows, pod_rows = [], []
    for key, members in pods.items():
        values = [float(t["value"]) for t in members]
        mean = sum(values) / len(values) if values else 0.0
        low, high = min(values), max(values)
        range_pct = 100 * (high - low) / low if low > 0 else (math.inf if high > 0 else 0.0)
        pod_out = []
        for t in members:
            realistic = realistic_potential(t.get("value_by_segment", {}), rates)
            variance = 100 * (float(t["value"]) - mean) / mean if mean > 0 else 0.0
            row = {
                **{k: t[k] for k in ("pod", "pod_label", "label", "rep", "value") if k in t},
                "tiers": dict(t.get("tiers", {})),
                "potential": float(t["value"]),
                "realistic": realistic,
                "quota": quota_share * realistic,
                "variance_pct": round(variance, 1),
                "rebalance": abs(variance) > REBALANCE_PCT,
            }
            pod_out.append(row)
            rows.append(row)
        quotas = [r["quota"] for r in pod_out]
        quota_low, quota_high = min(quotas), max(quotas)
        # The quota range on quota itself: quota follows the realistic potential (value ×
        # each segment's conversion), so in a pod of mixed segments it spreads differently
        # from the potential.
        quota_range = (
            100 * (quota_high - quota_low) / quota_low
            if quota_low > 0
            else (math.inf if quota_high > 0 else 0.0)
        )
        best = max(pod_out, key=lambda r: r["variance_pct"])
        worst = min(pod_out, key=lambda r: r["variance_pct"])
        pod_rows.append(
            {
                "pod": key,
                "pod_label": members[0].get("pod_label", key),
                "territories": len(members),
                "mean_potential": mean,
                "low": low,
                "high": high,
                "range_pct": None if math.isinf(range_pct) else round(range_pct, 1),
                "mean_quota": sum(quotas) / len(quotas),
                "quota_low": quota_low,
                "quota_high": quota_high,
                "quota_range_pct": None if math.isinf(quota_range) else round(quota_range, 1),
                "highest": {"label": best["label"], "variance_pct": best["variance_pct"]},
                "lowest": {"label": worst["label"], "variance_pct": worst["variance_pct"]},
                "rebalance": math.isinf(range_pct)
                or range_pct > REBALANCE_PCT
                or any(r["rebalance"] for r in pod_out),
            }
        )
    quotas = [r["quota"] for r in rows]
    potentials = [r["potential"] for r in rows]
    return {
        "territories": rows,
        "pods": pod_rows,
        "average_quota": sum(quotas) / len(quotas) if quotas else 0.0,
        "quota_low": min(quotas, default=0.0),
        "quota_high": max(quotas, default=0.0),
        "average_potential": sum(potentials) / len(potentials) if potentials else 0.0,
        "potential_low": min(potentials, default=0.0),
        "potential_high": max(potentials, default=0.0),
        "rebalance": any(p["rebalance"] for p in pod_rows),
    }


# --- Drift ------------------------------------------------------------------------------------------


def drift(
    approved: Sequence[Mapping[str, Any]], current: Mapping[str, tuple[int, float]]
) -> dict[str, Any]:
    """Approved run against current data.

    ``approved``: per territory ``key``, ``label``, ``pod``, ``pod_label``, ``rep``, ``count``,
    ``value``; ``current``: territory key -> (count, value) of today's accounts routed by the
    approved map. Per territory the value variance against approval; per pod the max/min value
    ratio now (seed 000's 2× trigger) and the largest deviation of value and of account count
    from the pod's current means (the 20 % rule reads both).
    """
    rows = []
    for t in approved:
        count, value = current.get(t["key"], (0, 0.0))
        variance = 100 * (value - t["value"]) / t["value"] if t["value"] > 0 else None
        rows.append(
            {
                "key": t["key"],
                "label": t["label"],
                "pod": t["pod"],
                "pod_label": t["pod_label"],
                "rep": t["rep"],
                "approved_count": int(t["count"]),
                "approved_value": float(t["value"]),
                "current_count": int(count),
                "current_value": float(value),
                "count_change": int(count) - int(t["count"]),
                "value_variance_pct": None if variance is None else round(variance, 1),
            }
        )
    pods = []
    for key in dict.fromkeys(r["pod"] for r in rows):
        members = [r for r in rows if r["pod"] == key]
        values = [r["current_value"] for r in members]
        mean = sum(values) / len(values) if values else 0.0
        low, high = min(values), max(values)
        ratio = high / low if low > 0 else (None if high > 0 else 1.0)
        deviation = max((abs(v - mean) / mean * 100 for v in values), default=0.0) if mean else 0.0
        counts = [r["current_count"] for r in members]
        count_mean = sum(counts) / len(counts) if counts else 0.0
        count_deviation = (
            max((abs(c - count_mean) / count_mean * 100 for c in counts), default=0.0)
            if count_mean
            else 0.0
        )
        pods.append(
            {
                "pod": key,
                "pod_label": members[0]["pod_label"],
                "max_min_ratio": None if ratio is None else round(ratio, 3),
                "max_deviation_pct": round(deviation, 1),
                # Seed 000's balance review reads account count and value per territory.
                "max_count_deviation_pct": round(count_deviation, 1),
                "two_x": ratio is None or ratio >= 2.0,
                "over_20": max(deviation, count_deviation) > REBALANCE_PCT,
            }
        )
    return {"territories": rows, "pods": pods}
