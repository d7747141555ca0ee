"""Rules of the four-phase lifecycle (pure: no Django import).

* ``gate_blockers`` — what still keeps a phase's gate closed (SPEC §3: all required items done,
  its sign-offs approved, for Strategy no blocking assumption still ASSUMED, and the phases
  before it closed). The phase board, the gate decision and the dashboards all ask this one
  function, so they cannot disagree.
* ``design_blockers`` — the seed's rule "we cannot proceed with territory design until segment
  definitions and valuation approaches are aligned".
* ``calendar_projection`` — hours budget to calendar time (seed 000: 100–200 h is 2–3 months)
  and whether the engagement lands before the fiscal year it must be live for.
* ``weighted_progress`` — overall progress through the phases by the phase-weight profile.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class Blocker:
    kind: str  # "previous_phase" | "items" | "condition" | "signoff" | "assumption" | "term"
    message: str
    subphase: str = ""
    count: int = 1  # how many things this line stands for ("3 open items in 1c")


def item_applies(when: str, options: Container[str]) -> bool:
    """An item with a condition applies only when the engagement has that option (``options``
    is a set of condition names; called once per item, so it is not copied)."""
    return not when or when in options


def gate_blockers(
    *,
    previous_open: str | None,
    open_items: Mapping[str, Sequence[str] | int],
    signoffs: Mapping[str, str],
    blocking_assumptions: list[str],
    check_assumptions: bool,
    conditions: Sequence[str] = (),
) -> list[Blocker]:
    """Everything that keeps the gate closed, most fundamental first; empty means open.

    ``previous_open``: name of an earlier phase that is still open (phases close in order).
    ``open_items``: sub-phase code -> texts of its required, applicable items not yet done
    (or just their number, when the caller did not load the texts).
    ``conditions``: what live data says still blocks the gate, one line each (e.g. "Hypercare
    window still open (ends 13 Apr 2026)"; another app supplies them, see
    ``engagements.services.gate_conditions_provide``).
    ``signoffs``: the gate's sign-off subjects -> their state ("none"/"pending"/"declined"/…).
    ``blocking_assumptions``: statements of blocking assumptions still ASSUMED.
    """
    blockers: list[Blocker] = []
    if previous_open:
        blockers.append(Blocker("previous_phase", f"{previous_open} is not closed yet"))
    for code in sorted(open_items):
        entry = open_items[code]
        if isinstance(entry, int):
            if entry:
                label = f"{code}: {entry} required item{'s' if entry != 1 else ''} open"
                blockers.append(Blocker("items", label, subphase=code, count=entry))
            continue
        for text in entry:
            blockers.append(Blocker("items", f"{code}: {text}", subphase=code))
    for message in conditions:
        blockers.append(Blocker("condition", message))
    for subject, state in signoffs.items():
        if state != "approved":
            reason = {
                "none": "not yet published for sign-off",
                "pending": "waiting for the customer's sign-off",
                "declined": "declined by the customer",
            }.get(state, state)
            blockers.append(Blocker("signoff", f"Sign-off “{subject}”: {reason}"))
    if check_assumptions:
        for statement in blocking_assumptions:
            blockers.append(
                Blocker("assumption", f"Blocking assumption still ASSUMED: {statement}")
            )
    return blockers


def blockers_summary(blockers: list[Blocker]) -> str:
    """One line for dashboards: counts by kind, e.g. "5 items (1c, 1d) · 2 sign-offs"."""
    if not blockers:
        return "ready"
    parts = []
    previous = [b for b in blockers if b.kind == "previous_phase"]
    if previous:
        parts.append(previous[0].message)
    items = [b for b in blockers if b.kind == "items"]
    if items:
        codes = sorted({b.subphase for b in items})
        n_items = sum(b.count for b in items)
        parts.append(f"{n_items} item{'s' if n_items != 1 else ''} ({', '.join(codes)})")
    # Live conditions are few and each says something different: shown as they are.
    parts += [b.message for b in blockers if b.kind == "condition"]
    for kind, label in (
        ("signoff", "sign-off"),
        ("assumption", "blocking assumption"),
        ("term", "term"),
    ):
        n = sum(b.count for b in blockers if b.kind == kind)
        if n:
            parts.append(f"{n} {label}{'s' if n != 1 else ''}")
    return " · ".join(parts)


def design_blockers(*, terms: Mapping[str, str], signoffs: Mapping[str, str]) -> list[Blocker]:
    """What keeps territory design from starting: the design-gating definition terms (term ->
    sign-off state) and the design sign-offs (subject -> state) that are not approved."""
    blockers = [
        Blocker("term", f"Definition “{term}” is {state if state != 'none' else 'not published'}")
        for term, state in terms.items()
        if state != "approved"
    ]
    blockers += [
        Blocker(
            "signoff", f"Sign-off “{subject}” is {state if state != 'none' else 'not published'}"
        )
        for subject, state in signoffs.items()
        if state != "approved"
    ]
    return blockers


def current_subphase(codes: list[str], open_counts: Mapping[str, int]) -> str:
    """The first sub-phase (in order) with required work open; the last one when all are done."""
    for code in codes:
        if open_counts.get(code, 0) > 0:
            return code
    return codes[-1] if codes else ""


@dataclass(frozen=True)
class Projection:
    months: float  # planned calendar length
    planned_finish: date
    hours_used: float
    hour_budget: float
    hours_pct: float  # share of the budget used, 0–100+
    elapsed_pct: float  # share of the planned calendar elapsed, 0–100+
    over_budget: bool
    late_for_fiscal_year: bool  # planned finish after the fiscal-year start
    # Where the work lands at the pace so far (progress over elapsed days); None before any
    # progress or once everything is done.
    forecast_finish: date | None = None
    forecast_late: bool = False  # forecast after the fiscal-year start
    # The day the last phase closed; a closed engagement has an outcome, not a forecast or a
    # risk (late_for_fiscal_year then says whether it closed after the fiscal-year start).
    closed_on: date | None = None

    @property
    def at_risk(self) -> bool:
        if self.closed_on is not None:
            return False
        return self.over_budget or self.late_for_fiscal_year or self.forecast_late


def planned_months(
    hour_budget: float,
    *,
    hours_low: float,
    months_low: float,
    hours_high: float,
    months_high: float,
) -> float:
    """Calendar months for an hour budget: linear through (hours_low, months_low) and
    (hours_high, months_high) — 100 h → 2 months, 200 h → 3 months in seed 000 — extended
    beyond the range with the same slope, never below half a month."""
    slope = (months_high - months_low) / (hours_high - hours_low)
    return max(0.5, months_low + (hour_budget - hours_low) * slope)


def calendar_projection(
    *,
    hour_budget: float,
    hours_used: float,
    start: date,
    today: date,
    fiscal_year_start: date | None,
    hours_low: float,
    months_low: float,
    hours_high: float,
    months_high: float,
    progress: float | None = None,
    closed_on: date | None = None,
) -> Projection:
    """The plan from the hour budget, and (given ``progress`` 0–100) the forecast at the pace
    so far: elapsed days ÷ progress share. Both are compared with the fiscal-year start,
    before which territories must be live. Given ``closed_on`` (the engagement is closed), time
    stops there: elapsed is counted to that day, there is no forecast, and the finish compared
    with the fiscal-year start is the real one."""
    months = planned_months(
        hour_budget,
        hours_low=hours_low,
        months_low=months_low,
        hours_high=hours_high,
        months_high=months_high,
    )
    length_days = round(months * DAYS_PER_MONTH)
    finish = start + timedelta(days=length_days)
    elapsed = max(0, ((closed_on or today) - start).days)
    forecast = None
    if closed_on is None and progress is not None and 0 < progress < 100 and elapsed > 0:
        forecast = start + timedelta(days=round(elapsed * 100 / progress))
    finished = closed_on or finish
    return Projection(
        months=round(months, 1),
        planned_finish=finish,
        hours_used=hours_used,
        hour_budget=hour_budget,
        hours_pct=round(100 * hours_used / hour_budget, 1) if hour_budget else 0.0,
        elapsed_pct=round(100 * elapsed / length_days, 1) if length_days else 0.0,
        over_budget=hours_used > hour_budget,
        late_for_fiscal_year=fiscal_year_start is not None and finished > fiscal_year_start,
        forecast_finish=forecast,
        forecast_late=(
            forecast is not None and fiscal_year_start is not None and forecast > fiscal_year_start
        ),
        closed_on=closed_on,
    )


def weighted_progress(weights: Mapping[str, int], fractions: Mapping[str, float]) -> float:
    """Overall progress 0–100: each phase's done fraction (0–1) times its weight (sum 100)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return round(
        sum(weights[k] * min(1.0, max(0.0, fractions.get(k, 0.0))) for k in weights) * 100 / total,
        1,
    )
