"""Coverage model and capacity: the headcount the market needs against the team there is. Pure.

Seed 003, principle 2 ("coverage models beat territory maps"): decide per segment and tier how
often an account is touched, through which channel, and how many accounts one rep carries; the
headcount follows. Principle 4 ("capacity before territory"): a rep's capacity depends on ramp
state — new hire about 6 accounts, ramping 10–15, ramped 20–30, senior 5 strategic accounts.

Capacity is compared in *ramped-rep equivalents*: a rep counts as their capacity divided by a
ramped rep's, so a team of three new hires is not mistaken for three full territories.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RAMP_STATES: dict[str, str] = {
    "new_hire": "New hire",
    "ramping": "Ramping",
    "ramped": "Ramped",
    "senior": "Senior / manager",
}
# Seed 003 principle 4; the ranges' middles where the seed gives a range (10–15, 20–30).
DEFAULT_CAPACITY: dict[str, int] = {"new_hire": 6, "ramping": 12, "ramped": 25, "senior": 5}
CAPACITY_RANGES: dict[str, str] = {
    "new_hire": "about 6 accounts, heavy coaching",
    "ramping": "10–15 accounts, moderate coaching",
    "ramped": "20–30 accounts, minimal coaching",
    "senior": "5 strategic accounts plus coaching",
}
TIERS: tuple[str, ...] = ("T1", "T2", "T3", "unqualified")


@dataclass(frozen=True)
class CoverageRule:
    segment: str
    tier: str
    touches_per_year: float
    channel: str
    accounts_per_rep: float | None  # None: no rep carries these accounts (digital, self-serve)


# Seed 003, phase 3: enterprise 6–8 visits a year, field + SE, 3–5 accounts per rep; mid-market
# 4–6 visits, field + inside, 15–20 per rep; SMB 2–3 visits, inside + digital, 50–100+ per rep.
# A segment's T1 and T2 get its own profile, its T3 the next smaller one, unqualified none.
_PROFILES: dict[str, dict[str, tuple[float, str, float | None]]] = {
    "enterprise": {
        "T1": (8, "Field + SE", 4),
        "T2": (6, "Field + SE", 5),
        "T3": (4, "Field + inside", 18),
    },
    "mid_market": {
        "T1": (6, "Field + inside", 15),
        "T2": (4, "Field + inside", 18),
        "T3": (2, "Inside sales", 75),
    },
    "smb": {
        "T1": (3, "Inside sales", 50),
        "T2": (2, "Inside sales", 75),
        "T3": (1, "Inside + digital", 100),
    },
}


def _profile(rank: int, count: int) -> str:
    if count == 1:
        return "mid_market"
    if rank == 0:
        return "enterprise"
    if rank == count - 1 and count >= 3:
        return "smb"
    return "mid_market"


def default_rule(segment: str, tier: str, segments: Sequence[str]) -> CoverageRule:
    """The seed's coverage for ``segment`` × ``tier`` given the segments largest first."""
    rank = list(segments).index(segment) if segment in segments else len(segments) - 1
    profile = _PROFILES[_profile(rank, max(1, len(segments)))]
    if tier not in profile:
        return CoverageRule(segment, tier, 0, "Digital / marketing", None)
    touches, channel, ratio = profile[tier]
    return CoverageRule(segment, tier, touches, channel, ratio)


def rules_for(segments: Sequence[str], stored: Iterable[CoverageRule]) -> list[CoverageRule]:
    """One rule per segment × tier: the stored one, else the seed's default."""
    by_key = {(r.segment, r.tier): r for r in stored}
    return [
        by_key.get((segment, tier)) or default_rule(segment, tier, segments)
        for segment in segments
        for tier in TIERS
    ]


def coverage_table(
    counts: Mapping[tuple[str, str], int], rules: Sequence[CoverageRule]
) -> list[dict[str, Any]]:
    """Per rule: accounts, touches a year in total, and reps needed (fractional FTE)."""
    rows = []
    for rule in rules:
        accounts = int(counts.get((rule.segment, rule.tier), 0))
        reps = accounts / rule.accounts_per_rep if rule.accounts_per_rep else 0.0
        rows.append(
            {
                "segment": rule.segment,
                "tier": rule.tier,
                "accounts": accounts,
                "touches_per_year": rule.touches_per_year,
                "touches_total": accounts * rule.touches_per_year,
                "channel": rule.channel,
                "accounts_per_rep": rule.accounts_per_rep,
                "reps_needed": reps,
            }
        )
    return rows


@dataclass(frozen=True)
class Seat:
    """One account-carrying person of the team (a rep today or a planned hire)."""

    segment: str
    ramp_state: str
    capacity: int  # accounts


def ramped_equivalent(capacity: int, capacity_by_state: Mapping[str, int]) -> float:
    ramped = capacity_by_state.get("ramped") or DEFAULT_CAPACITY["ramped"]
    return capacity / ramped if ramped else 0.0


def headcount(
    coverage: Sequence[dict[str, Any]],
    reps: Sequence[Seat],
    hires: Sequence[Seat],
    capacity_by_state: Mapping[str, int],
    segments: Sequence[str],
) -> list[dict[str, Any]]:
    """Per segment: reps the coverage model needs against the team, today and after hires.

    ``needed`` is whole reps (the fractional need rounded up); ``team_equivalent`` is the
    team in ramped-rep equivalents; ``gap`` is needed minus that (positive: short-handed).
    """
    labels = list(dict.fromkeys([*segments, *(s.segment for s in [*reps, *hires])]))
    rows = []
    for label in labels:
        cov = [c for c in coverage if c["segment"] == label]
        need = sum(c["reps_needed"] for c in cov)
        carried = sum(c["accounts"] for c in cov if c["accounts_per_rep"])
        team = [s for s in reps if s.segment == label]
        planned = [s for s in hires if s.segment == label]
        equivalent = sum(ramped_equivalent(s.capacity, capacity_by_state) for s in team)
        after = equivalent + sum(ramped_equivalent(s.capacity, capacity_by_state) for s in planned)
        capacity = sum(s.capacity for s in team)
        rows.append(
            {
                "segment": label or "No segment",
                "accounts_needing_reps": carried,
                "reps_needed_exact": need,
                "reps_needed": math.ceil(need - 1e-9) if need > 0 else 0,
                "reps": len(team),
                "team_equivalent": equivalent,
                "team_capacity": capacity,
                "planned_hires": len(planned),
                "equivalent_after_hires": after,
                "gap": need - equivalent,
                "gap_after_hires": need - after,
            }
        )
    return rows
