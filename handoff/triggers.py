"""Refinement triggers (seed 000, "Refinement triggers") as pure rules over plain inputs.

Four of the playbook's triggers can be measured from data the portal holds:

* ``value-drift``: one territory has 2× (or more) the value of another in the same segment;
* ``balance-variance``: a territory's account count or value deviates more than 20 % from its
  segment's mean (the quarterly balance review: "Account count + total value per territory …
  If >20% variance");
* ``team-change``: 3 or more reps hired or gone in one calendar quarter (the current quarter or
  the one before it, so a quarter that just ended still counts);
* ``routing-accuracy``: the latest accuracy check is below 90 %.

The fifth, "market shift" (new product line, acquisition, new geography), is a business event no
data in the portal shows; the architect judges it.

Every rule returns a :class:`TriggerResult`: whether it fired, the measured value, the threshold
and a sentence naming the territories or the quarter. Boundaries follow the playbook's words:
"2x" fires at exactly 2.0, "above 20 %" does not fire at 20.0, "3+" fires at 3, "below 90 %" does
not fire at 90.0. No Django import (checked by tests/test_pure_modules.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

VALUE_RATIO = 2.0
VARIANCE_PCT = 20.0
TEAM_CHANGES = 3
ACCURACY_PCT = 90.0


@dataclass(frozen=True)
class TriggerResult:
    slug: str
    name: str
    fired: bool
    value: float | None  # the measured value in ``unit``; None when there was nothing to measure
    threshold: float
    unit: str  # "×", "%", "changes"
    detail: str


@dataclass(frozen=True)
class TerritoryValue:
    """One territory of the approved map with its current value (USD) and account count in its
    segment (pod). ``count`` None: not measured (the count rule then skips the segment)."""

    key: str
    label: str
    segment: str
    segment_label: str
    value: float
    count: int | None = None


@dataclass(frozen=True)
class RosterChange:
    """A rep hired (``kind="hired"``) or gone (``kind="departed"``) on ``day``."""

    day: date
    name: str
    kind: str


@dataclass(frozen=True)
class AccuracyCheck:
    """A routing-accuracy check: ``sampled`` accounts compared, ``correct`` routed right."""

    day: date
    sampled: int
    correct: int
    source: str = ""  # "audit" or "manual": where the check came from, for the detail sentence

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.sampled if self.sampled else 0.0


def _by_segment(territories: Iterable[TerritoryValue]) -> dict[str, list[TerritoryValue]]:
    groups: dict[str, list[TerritoryValue]] = defaultdict(list)
    for t in territories:
        groups[t.segment].append(t)
    return dict(groups)


def _money(value: float) -> str:
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.1f}M"
    if abs(value) >= 1e3:
        return f"${value / 1e3:,.0f}k"
    return f"${value:,.0f}"


def value_drift(
    territories: Iterable[TerritoryValue], *, ratio: float = VALUE_RATIO
) -> TriggerResult:
    """The largest max/min value ratio within any segment of two or more territories.

    A segment where one territory has no value while another has some has an infinite ratio
    (reported as value None, fired). Fires when the worst ratio is ``>= ratio``.
    """
    worst: tuple[float, TerritoryValue, TerritoryValue] | None = None
    for members in _by_segment(territories).values():
        if len(members) < 2:
            continue
        high = max(members, key=lambda t: t.value)
        low = min(members, key=lambda t: t.value)
        if high.value <= 0:
            continue
        measured = high.value / low.value if low.value > 0 else float("inf")
        if worst is None or measured > worst[0]:
            worst = (measured, high, low)
    name = "Territory value drift"
    if worst is None:
        return TriggerResult(
            "value-drift",
            name,
            False,
            None,
            ratio,
            "×",
            "No segment has two territories to compare.",
        )
    measured, high, low = worst
    fired = measured >= ratio
    shown = "no value" if low.value <= 0 else f"{measured:.2f}×"
    detail = (
        f"In {high.segment_label}, {high.label} ({_money(high.value)}) against {low.label} "
        f"({_money(low.value)}): {shown}"
        + (f", at or above {ratio:g}×." if fired else f", under {ratio:g}×.")
    )
    return TriggerResult(
        "value-drift",
        name,
        fired,
        None if measured == float("inf") else round(measured, 3),
        ratio,
        "×",
        detail,
    )


def balance_variance(
    territories: Iterable[TerritoryValue], *, limit_pct: float = VARIANCE_PCT
) -> TriggerResult:
    """The largest deviation (per cent) of a territory's value or account count from its
    segment's mean, the worse of the two measures (value wins a tie).

    Fires when it is ``> limit_pct``. Segments with a single territory are skipped, and a
    measure whose segment mean is zero (or, for the count, not measured) is skipped there.
    """
    worst: tuple[float, TerritoryValue, float, str] | None = None
    for members in _by_segment(territories).values():
        if len(members) < 2:
            continue
        measures = [("value", [t.value for t in members])]
        if all(t.count is not None for t in members):
            measures.append(("count", [float(t.count) for t in members]))
        for measure, figures in measures:
            mean = sum(figures) / len(figures)
            if mean <= 0:
                continue
            for t, figure in zip(members, figures, strict=True):
                deviation = abs(figure - mean) / mean * 100.0
                if worst is None or deviation > worst[0]:
                    worst = (deviation, t, mean, measure)
    name = "Balance variance"
    if worst is None:
        return TriggerResult(
            "balance-variance",
            name,
            False,
            None,
            limit_pct,
            "%",
            "No segment has two territories with accounts or value to compare.",
        )
    deviation, t, mean, measure = worst
    fired = deviation > limit_pct
    if measure == "value":
        direction = "above" if t.value >= mean else "below"
        what = (
            f"{t.label} in {t.segment_label} is {deviation:.1f} % {direction} the segment mean "
            f"value ({_money(t.value)} against {_money(mean)})"
        )
    else:
        direction = "above" if t.count >= mean else "below"
        what = (
            f"{t.label} in {t.segment_label} has {t.count:,} account{'s' if t.count != 1 else ''}, "
            f"{deviation:.1f} % {direction} the segment mean ({mean:,.1f})"
        )
    detail = what + (f", more than {limit_pct:g} %." if fired else f", within {limit_pct:g} %.")
    return TriggerResult(
        "balance-variance", name, fired, round(deviation, 1), limit_pct, "%", detail
    )


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def _previous(quarter: tuple[int, int]) -> tuple[int, int]:
    year, q = quarter
    return (year - 1, 4) if q == 1 else (year, q - 1)


def team_change(
    changes: Iterable[RosterChange], *, today: date, limit: int = TEAM_CHANGES
) -> TriggerResult:
    """Reps hired or gone per calendar quarter, for the current quarter and the one before.

    A person counts once per kind per quarter (a rep entered twice is one change). Changes dated
    after ``today`` (planned hires) do not count. Fires when a quarter has ``>= limit``.
    """
    current = quarter_of(today)
    window = (current, _previous(current))
    found: dict[tuple[int, int], dict[tuple[str, str], RosterChange]] = {q: {} for q in window}
    for change in sorted(changes, key=lambda c: (c.day, c.name)):
        quarter = quarter_of(change.day)
        if change.day <= today and quarter in found:
            found[quarter].setdefault((change.kind, change.name.strip().casefold()), change)
    seen = {q: list(found[q].values()) for q in window}
    worst = max(window, key=lambda q: (len(seen[q]), q))
    count = len(seen[worst])
    fired = count >= limit
    label = f"Q{worst[1]} {worst[0]}"
    if count:
        hired = [c.name for c in seen[worst] if c.kind == "hired"]
        gone = [c.name for c in seen[worst] if c.kind != "hired"]
        parts = []
        if hired:
            parts.append(f"hired {', '.join(hired)}")
        if gone:
            parts.append(f"gone {', '.join(gone)}")
        detail = f"{label}: {count} change{'s' if count != 1 else ''} ({'; '.join(parts)})"
    else:
        detail = f"{label}: no rep hired or gone"
    detail += f"; {limit} or more in a quarter fires." if not fired else f", {limit} or more."
    return TriggerResult(
        "team-change", "Major team change", fired, float(count), limit, "changes", detail
    )


def routing_accuracy(
    checks: Sequence[AccuracyCheck], *, limit_pct: float = ACCURACY_PCT
) -> TriggerResult:
    """The latest check's accuracy (by day; a later entry wins a tie). Fires when ``< limit``."""
    name = "Routing accuracy degradation"
    usable = [(c.day, i, c) for i, c in enumerate(checks) if c.sampled > 0]
    if not usable:
        return TriggerResult(
            "routing-accuracy", name, False, None, limit_pct, "%", "No accuracy check yet."
        )
    _, _, latest = max(usable, key=lambda row: (row[0], row[1]))
    accuracy = latest.accuracy
    fired = accuracy < limit_pct
    source = f" ({latest.source})" if latest.source else ""
    detail = (
        f"Check of {latest.day:%d %b %Y}{source}: {latest.correct} of {latest.sampled} accounts "
        f"routed correctly, {accuracy:.1f} %"
        + (f", below {limit_pct:g} %." if fired else f", at or above {limit_pct:g} %.")
    )
    return TriggerResult(
        "routing-accuracy", name, fired, round(accuracy, 1), limit_pct, "%", detail
    )


def evaluate(
    *,
    territories: Sequence[TerritoryValue],
    changes: Sequence[RosterChange],
    checks: Sequence[AccuracyCheck],
    today: date,
) -> list[TriggerResult]:
    """All four rules, in the playbook's order."""
    return [
        value_drift(territories),
        balance_variance(territories),
        team_change(changes, today=today),
        routing_accuracy(checks),
    ]
