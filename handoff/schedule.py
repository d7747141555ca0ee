"""The maintenance schedule as dated occurrences (pure; no Django).

Seed 000's template has cadences that repeat (monthly, quarterly, annual: ``every_months``) and
one that happens once (after the first sales cycle: ``once_after_days``). Given the cadences of an
engagement's playbook (any objects with ``slug``, ``name``, ``every_months``, ``once_after_days``
and ``tasks``; each task with ``slug``, ``task``, ``check``, ``red_flag`` and ``action``), the
rollout date and the owner, :func:`occurrences` lists every task due in the horizon, in date order.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

HORIZON_MONTHS = 12


@dataclass(frozen=True)
class Occurrence:
    cadence: str
    cadence_name: str
    task_slug: str
    task: str
    check: str
    red_flag: str
    action: str
    owner: str
    due: date

    @property
    def key(self) -> tuple[str, date]:
        """What identifies an occurrence across regenerations (task and due date)."""
        return (self.task_slug, self.due)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the end of a shorter month (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _dates(cadence: Any, start: date, end: date) -> list[date]:
    once = getattr(cadence, "once_after_days", None)
    every = getattr(cadence, "every_months", None)
    if once:
        due = start + timedelta(days=int(once))
        return [due] if due <= end else []
    if not every or every < 1:
        return []
    out, step = [], 1
    while (due := add_months(start, every * step)) <= end:
        out.append(due)
        step += 1
    return out


def occurrences(
    cadences: Iterable[Any], *, start: date, owner: str, months: int = HORIZON_MONTHS
) -> list[Occurrence]:
    """Every task of every cadence due after ``start`` (the rollout) up to ``months`` later.

    The first monthly check falls a month after rollout, the first quarterly one three months
    after, the first-cycle audit ``once_after_days`` after, the annual review a year after.
    """
    if months < 1:
        raise ValueError("months: the horizon must be at least one month.")
    end = add_months(start, months)
    out: list[Occurrence] = []
    for cadence in cadences:
        for due in _dates(cadence, start, end):
            for task in cadence.tasks:
                out.append(
                    Occurrence(
                        cadence=cadence.slug,
                        cadence_name=cadence.name,
                        task_slug=task.slug,
                        task=task.task,
                        check=task.check,
                        red_flag=task.red_flag,
                        action=getattr(task, "action", "") or "",
                        owner=owner,
                        due=due,
                    )
                )
    out.sort(key=lambda o: (o.due, o.cadence, o.task_slug))
    return out
