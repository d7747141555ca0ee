"""Sensitive territories for the internal handoff (seed 000, 4b: "concentration risk,
high-density geographic splits, borderline segments"), found from plain inputs.

* **Concentration risk** — seed 000: "If one account represents half a territory's value, the rep
  is dependent on closing that single deal." The seed names half as the extreme case but no
  warning level; we flag an account at **25 %** or more of its territory's value (a quarter of the
  book riding on one deal), and say so on the page.
* **Split states** — a state divided among several territories of the same segment (the
  sub-state splits of high-density areas such as California): whoever updates the territory
  object must know the boundary is a ZIP area or county line, not a state line.
* **Borderline segments** — accounts whose segment measure (revenue or employees) lies within
  ±10 % of a segment threshold: a small change in the data moves them to another segment and
  another rep.

No Django import (checked by tests/test_pure_modules.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CONCENTRATION_PCT = 25.0
THRESHOLD_BAND_PCT = 10.0


@dataclass(frozen=True)
class AccountValue:
    """An account with its value (USD) and the territory the approved map gives it."""

    external_id: str
    name: str
    territory: str
    territory_label: str
    value: float


@dataclass(frozen=True)
class Concentration:
    territory: str
    territory_label: str
    account: str
    account_name: str
    account_value: float
    territory_value: float
    share_pct: float


@dataclass(frozen=True)
class SplitState:
    segment_label: str
    state: str
    territories: tuple[str, ...]  # labels, in order of first appearance


@dataclass(frozen=True)
class Borderline:
    external_id: str
    name: str
    measure: float
    threshold_label: str  # the segment whose lower bound it is, e.g. "Enterprise"
    threshold: float
    distance_pct: float  # signed: negative below the threshold


def concentration_risks(
    accounts: Iterable[AccountValue],
    territory_values: dict[str, float],
    *,
    share_pct: float = CONCENTRATION_PCT,
) -> list[Concentration]:
    """Accounts worth ``>= share_pct`` of their territory's value (``territory_values``: USD
    per territory key), largest share first. Accounts without a territory are skipped."""
    out = []
    for a in accounts:
        total = territory_values.get(a.territory, 0.0)
        if not a.territory or total <= 0 or a.value <= 0:
            continue
        share = 100.0 * a.value / total
        if share >= share_pct:
            out.append(
                Concentration(
                    territory=a.territory,
                    territory_label=a.territory_label,
                    account=a.external_id,
                    account_name=a.name,
                    account_value=a.value,
                    territory_value=total,
                    share_pct=round(share, 1),
                )
            )
    out.sort(key=lambda c: (-c.share_pct, c.territory_label))
    return out


def split_states(rows: Iterable[tuple[str, str, str]]) -> list[SplitState]:
    """States divided among two or more territories of one segment.

    ``rows``: (segment label, two-letter state, territory label) per geographic unit of the map
    (a county, a ZIP area, a city or a whole state). Sorted by segment, then state.
    """
    found: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)
    for segment, state, territory in rows:
        if state and territory:
            found[(segment, state)][territory] = None
    return [
        SplitState(segment_label=segment, state=state, territories=tuple(territories))
        for (segment, state), territories in sorted(found.items())
        if len(territories) > 1
    ]


def borderline_accounts(
    measures: Iterable[tuple[str, str, float | None]],
    thresholds: Sequence[tuple[str, float]],
    *,
    band_pct: float = THRESHOLD_BAND_PCT,
) -> list[Borderline]:
    """Accounts within ±``band_pct`` % of a segment threshold.

    ``measures``: (external id, name, segment measure) per account (None/unknown is skipped);
    ``thresholds``: (segment label, lower bound) for every segment with a lower bound. An account
    near two thresholds is listed for the nearer one. Nearest first.
    """
    usable = [(label, float(t)) for label, t in thresholds if t and t > 0]
    out = []
    for external_id, name, measure in measures:
        if measure is None:
            continue
        best: Borderline | None = None
        for label, threshold in usable:
            distance = 100.0 * (float(measure) - threshold) / threshold
            if abs(distance) <= band_pct and (
                best is None or abs(distance) < abs(best.distance_pct)
            ):
                best = Borderline(external_id, name, float(measure), label, threshold, distance)
        if best is not None:
            out.append(best)
    out.sort(key=lambda b: (abs(b.distance_pct), b.external_id))
    return out
