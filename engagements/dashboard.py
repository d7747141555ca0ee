"""Dashboard data: one overview row per engagement in a fixed number of queries, plus the
provider hooks other apps fill.

Provider hooks
--------------
Some dashboard columns come from later apps (SPEC §3: latest balance variance, hypercare state,
fired refinement triggers) and the customer portal lists deliverables to download. Those apps
register a provider in their ``AppConfig.ready()``::

    from engagements import dashboard

    def balance_variance(engagement_ids: list[int]) -> dict[int, dashboard.Cell]:
        # ONE query for all ids; return a Cell per engagement that has data.
        ...

    dashboard.provide("balance_variance", balance_variance)
    dashboard.provide_downloads(my_downloads)  # (engagement, user) -> list[Download]
    dashboard.provide_due(my_due)  # (engagements, roles) -> [(engagement id, kind, text)]

A column without a provider, or an engagement the provider returns nothing for, shows "—":
the dashboard never invents a value. Providers must answer in one query so the dashboard's
query count stays fixed (pinned in tests/engagements/test_dashboards.py).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, OuterRef, Subquery, Sum
from django.utils import timezone
from redis.exceptions import RedisError

from engagements import lifecycle
from engagements.lifecycle import Blocker, Projection
from engagements.models import (
    ActivityEvent,
    Assumption,
    ChecklistItem,
    Engagement,
    HoursEntry,
    IntakeForm,
    Phase,
    PlaybookTemplate,
    SignoffRecord,
    SignoffVersion,
    SubPhase,
    User,
)
from engagements.services import gate_conditions, signoff_aggregate_state


@dataclass(frozen=True)
class Cell:
    """One provided dashboard value: what to show, how to sort it, how alarming it is."""

    text: str
    sort: float | str | None = None
    level: str = ""  # "" | "ok" | "warn" | "bad"
    title: str = ""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    help: str


# The columns other apps fill; declared here so the dashboard shows them (as "—") before any
# provider exists, and so a typo in a provider's key fails loudly.
PROVIDED_COLUMNS = (
    Column(
        "balance_variance",
        "Balance variance",
        "Value spread of the approved (or latest) balancing run — filled by the territories app.",
    ),
    Column("hypercare", "Hypercare", "Hypercare state and day — filled by the handoff app."),
    Column(
        "refinement_triggers",
        "Refinement triggers",
        "Triggers that fired on live data — filled by the handoff app.",
    ),
)
ColumnProvider = Callable[[list[int]], dict[int, Cell]]
_providers: dict[str, ColumnProvider] = {}


@dataclass(frozen=True)
class Download:
    title: str
    url: str
    description: str = ""


DownloadProvider = Callable[[Engagement, User], list[Download]]
_download_providers: list[DownloadProvider] = []


# Lines of the architect's "What is due" list from later apps: (engagements, the user's role by
# engagement id) -> [(engagement id, kind, text)], in a fixed number of queries.
DueProvider = Callable[[list[Engagement], dict[int, str]], list[tuple[int, str, str]]]
_due_providers: list[DueProvider] = []


def provide(key: str, provider: ColumnProvider) -> None:
    """Register the provider of a dashboard column (one per column; a later call replaces it)."""
    if key not in {c.key for c in PROVIDED_COLUMNS}:
        raise KeyError(f"No dashboard column {key!r}; declare it in PROVIDED_COLUMNS first.")
    _providers[key] = provider


def provide_downloads(provider: DownloadProvider) -> None:
    if provider not in _download_providers:
        _download_providers.append(provider)


def provide_due(provider: DueProvider) -> None:
    if provider not in _due_providers:
        _due_providers.append(provider)


def due_for(engagements: list[Engagement], roles: dict[int, str]) -> list[tuple[int, str, str]]:
    items: list[tuple[int, str, str]] = []
    for provider in _due_providers:
        items.extend(provider(engagements, roles))
    return items


def provided_cells(engagement_ids: list[int]) -> dict[str, dict[int, Cell]]:
    return {
        column.key: (_providers[column.key](engagement_ids) if column.key in _providers else {})
        for column in PROVIDED_COLUMNS
    }


def downloads_for(engagement: Engagement, user: User) -> list[Download]:
    downloads: list[Download] = []
    for provider in _download_providers:
        downloads.extend(provider(engagement, user))
    return downloads


# --- Overview rows ---------------------------------------------------------------------------


@dataclass
class PhaseProgress:
    number: int
    slug: str
    name: str
    status: str
    fraction: float
    opened_at: object = None
    closed_at: object = None


@dataclass
class Overview:
    engagement: Engagement
    phases: list[PhaseProgress]
    current_phase: PhaseProgress | None
    current_subphase: str
    current_subphase_name: str
    days_in_phase: int | None
    gate_name: str
    blockers: list[Blocker]
    assumed: int
    blocking_assumed: int
    pending_signoffs: list[str]
    declined_signoffs: list[str]
    hours_used: float
    projection: Projection
    progress: float
    intake_submitted: bool
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def gate_open(self) -> bool:
        return self.current_phase is not None and not self.blockers

    @property
    def blockers_summary(self) -> str:
        if self.current_phase is None:
            return "all phases closed"
        return lifecycle.blockers_summary(self.blockers)

    def cell(self, key: str) -> Cell | None:
        return self.cells.get(key)


def _closed_on(phases: list[PhaseProgress]) -> date | None:
    """The day the engagement closed: its last phase closing (all phases are closed)."""
    closed = [p.closed_at for p in phases if p.closed_at]
    return timezone.localtime(max(closed)).date() if closed else None


def _signoff_states(engagement_ids: list[int]) -> dict[int, dict[str, str]]:
    """engagement id -> subject -> state of its latest version (one query)."""
    latest = SignoffRecord.objects.filter(version=OuterRef("pk")).order_by("-sequence")
    rows = (
        SignoffVersion.objects.filter(engagement_id__in=engagement_ids)
        .annotate(decision=Subquery(latest.values("decision")[:1]))
        .order_by("engagement_id", "subject", "-version")
        .values_list("engagement_id", "subject", "decision")
    )
    states: dict[int, dict[str, str]] = defaultdict(dict)
    for engagement_id, subject, decision in rows:
        states[engagement_id].setdefault(subject, decision or "pending")
    return states


def _state(states: dict[str, str], subject: str) -> str:
    """A subject's state; a group subject ("definitions") aggregates its items."""
    if subject in states:
        return states[subject]
    if ":" in subject:
        return "none"
    return signoff_aggregate_state(s for k, s in states.items() if k.startswith(f"{subject}:"))


def engagement_overviews(
    engagements: list[Engagement], *, today: date | None = None, with_cells: bool = True
) -> list[Overview]:
    """Overview rows for ``engagements`` in a fixed number of queries (eight, plus one per
    registered column provider, plus one per gate-condition provider of a phase some
    engagement is in): phases, sub-phases, item counts, sign-off states, assumption counts,
    hours, intake status, calendar rules."""
    today = today or timezone.localdate()
    ids = [e.pk for e in engagements]
    if not ids:
        return []
    phases: dict[int, list[Phase]] = defaultdict(list)
    for phase in Phase.objects.filter(engagement_id__in=ids).order_by("engagement_id", "number"):
        phases[phase.engagement_id].append(phase)
    # (pk, code, name) per phase: plain tuples, sixteen per engagement.
    subphases: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for pk, phase_id, code, name in (
        SubPhase.objects.filter(engagement_id__in=ids)
        .order_by("engagement_id", "position")
        .values_list("pk", "phase_id", "code", "name")
    ):
        subphases[phase_id].append((pk, code, name))
    # Required items grouped by what decides whether they count and are done: (condition,
    # signoff subject, done, count) tuples per sub-phase, thirty-odd per engagement.
    item_rows = (
        ChecklistItem.objects.filter(engagement_id__in=ids, required=True)
        .values("subphase_id", "condition", "signoff_subject", "done")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("subphase_id", "condition", "signoff_subject", "done", "n")
    )
    items: dict[int, list[tuple[str, str, bool, int]]] = defaultdict(list)
    for subphase_id, condition, subject, done, n in item_rows:
        items[subphase_id].append((condition, subject, done, n))
    signoffs = _signoff_states(ids)
    assumed_rows = (
        Assumption.objects.filter(engagement_id__in=ids, state=Assumption.State.ASSUMED)
        .values("engagement_id", "blocking")
        .annotate(n=Count("id"))
        .order_by()
    )
    assumed: dict[int, int] = defaultdict(int)
    blocking: dict[int, int] = defaultdict(int)
    for row in assumed_rows:
        assumed[row["engagement_id"]] += row["n"]
        if row["blocking"]:
            blocking[row["engagement_id"]] += row["n"]
    hours = dict(
        HoursEntry.objects.filter(engagement_id__in=ids)
        .values("engagement_id")
        .annotate(total=Sum("hours"))
        .order_by()
        .values_list("engagement_id", "total")
    )
    submitted = dict(
        IntakeForm.objects.filter(engagement_id__in=ids).values_list(
            "engagement_id", "submitted_at"
        )
    )
    # Each engagement's hours-to-calendar rule, from the template version it started from
    # (frozen while in use, so this equals its own copy). Read once per template, not once per
    # engagement: the template's JSON is large and most engagements share a version.
    template_calendars = dict(
        PlaybookTemplate.objects.filter(
            pk__in={e.playbook_template_id for e in engagements}
        ).values_list("pk", "data__calendar")
    )
    calendars = {e.pk: template_calendars.get(e.playbook_template_id) for e in engagements}
    cells = provided_cells(ids) if with_cells else {}
    # Live gate conditions (hypercare window, critical issues …): asked once per phase that is
    # the current one of some engagement, for those engagements together.
    current_slug = {
        engagement_id: next((p.slug for p in own if p.status != Phase.Status.CLOSED), "")
        for engagement_id, own in phases.items()
    }
    conditions: dict[int, list[str]] = {}
    for slug in sorted({s for s in current_slug.values() if s}):
        conditions.update(
            gate_conditions(
                phase=slug, engagement_ids=[e for e, s in current_slug.items() if s == slug]
            )
        )
    rows = []
    for engagement in engagements:
        states = signoffs.get(engagement.pk, {})
        options = engagement.options
        # A subject's state is asked once per checklist row group; a group subject aggregates
        # its items, so remember each answer for this engagement.
        known: dict[str, str] = {}

        def state_of(subject: str, states=states, known=known) -> str:
            if subject not in known:
                known[subject] = _state(states, subject)
            return known[subject]

        progress_list = []
        current: PhaseProgress | None = None
        current_code = current_name = ""
        gate_blockers: list[Blocker] = []
        gate_name = ""
        previous_open: str | None = None
        for phase in phases.get(engagement.pk, []):
            open_counts: dict[str, int] = {}
            total = done_total = 0
            for sub_pk, sub_code, _ in subphases.get(phase.pk, []):
                open_n = 0
                for condition, subject, done, n in items.get(sub_pk, []):
                    if not lifecycle.item_applies(condition, options):
                        continue
                    if subject:
                        done = state_of(subject) == "approved"
                    total += n
                    if done:
                        done_total += n
                    else:
                        open_n += n
                open_counts[sub_code] = open_n
            closed = phase.status == Phase.Status.CLOSED
            progress = PhaseProgress(
                number=phase.number,
                slug=phase.slug,
                name=phase.name,
                status=phase.status,
                fraction=1.0 if closed else (done_total / total if total else 0.0),
                opened_at=phase.opened_at,
                closed_at=phase.closed_at,
            )
            progress_list.append(progress)
            if not closed and current is None:
                current = progress
                codes = [code for _, code, _ in subphases.get(phase.pk, [])]
                current_code = lifecycle.current_subphase(codes, open_counts)
                current_name = next(
                    (name for _, code, name in subphases.get(phase.pk, []) if code == current_code),
                    "",
                )
                gate_name = f"{phase.name} gate"
                gate_blockers = lifecycle.gate_blockers(
                    previous_open=previous_open,
                    open_items=open_counts,
                    signoffs={s: state_of(s) for s in phase.gate_signoffs},
                    blocking_assumptions=["…"] * blocking.get(engagement.pk, 0),
                    check_assumptions=phase.gate_checks_assumptions,
                    conditions=conditions.get(engagement.pk, []),
                )
                # Dashboards show a count of blocking assumptions, not their statements.
                gate_blockers = _merge_assumption_blockers(gate_blockers)
            if not closed and previous_open is None:
                previous_open = phase.name
        latest_states = states
        used = float(hours.get(engagement.pk) or 0)
        progress_pct = lifecycle.weighted_progress(
            engagement.phase_weights or {p.slug: 25 for p in progress_list},
            {p.slug: p.fraction for p in progress_list},
        )
        projection = lifecycle.calendar_projection(
            hour_budget=engagement.hour_budget,
            hours_used=used,
            start=engagement.start_date,
            today=today,
            fiscal_year_start=engagement.fiscal_year_start,
            progress=progress_pct,
            closed_on=_closed_on(progress_list) if current is None else None,
            **_calendar_rule(calendars.get(engagement.pk)),
        )
        opened = current.opened_at if current else None
        rows.append(
            Overview(
                engagement=engagement,
                phases=progress_list,
                current_phase=current,
                current_subphase=current_code,
                current_subphase_name=current_name,
                days_in_phase=(today - timezone.localtime(opened).date()).days if opened else None,
                gate_name=gate_name,
                blockers=gate_blockers,
                assumed=assumed.get(engagement.pk, 0),
                blocking_assumed=blocking.get(engagement.pk, 0),
                pending_signoffs=sorted(s for s, v in latest_states.items() if v == "pending"),
                declined_signoffs=sorted(s for s, v in latest_states.items() if v == "declined"),
                hours_used=used,
                projection=projection,
                progress=progress_pct,
                intake_submitted=submitted.get(engagement.pk) is not None,
                cells={
                    key: values[engagement.pk]
                    for key, values in cells.items()
                    if engagement.pk in values
                },
            )
        )
    return rows


def engagement_overviews_reused(
    engagements: list[Engagement], *, today: date | None = None
) -> list[Overview]:
    """:func:`engagement_overviews` for the manager and ops dashboards, which show every
    engagement: each engagement's overview (not the provided column cells, always read fresh)
    is reused while nothing happened on that engagement.

    Every service that changes what an overview reads — checklists, gates, assumptions,
    sign-offs, hours, intake, hypercare — records an activity event on the engagement, so an
    overview is kept under the engagement's newest activity event, its creation time and the
    day (days in phase, calendar projections move daily); only the engagements with something
    new are computed again, together. Writes that bypass the services (the Django admin) show
    after ``DASHBOARD_CACHE_SECONDS`` at most. Measured (docs/benchmarks.md, Load): the
    overviews of 200 engagements are about 80-120 ms of a manager dashboard request.
    """
    seconds = settings.DASHBOARD_CACHE_SECONDS
    today = today or timezone.localdate()
    if not seconds or not engagements:
        return engagement_overviews(engagements, today=today)
    ids = [e.pk for e in engagements]
    newest = dict(
        ActivityEvent.objects.filter(engagement_id__in=ids)
        .values("engagement_id")
        .annotate(last=Max("pk"))
        .order_by()
        .values_list("engagement_id", "last")
    )
    keys = {
        e.pk: f"dashboard:overview:{e.pk}:{e.created_at.timestamp()}:{newest.get(e.pk)}:{today}"
        for e in engagements
    }
    found: dict[str, Overview] = {}
    with contextlib.suppress(RedisError):
        found = cache.get_many(list(keys.values()))
    missing = [e for e in engagements if keys[e.pk] not in found]
    if missing:
        fresh = engagement_overviews(missing, today=today, with_cells=False)
        computed = {keys[row.engagement.pk]: row for row in fresh}
        found.update(computed)
        with contextlib.suppress(RedisError):
            cache.set_many(computed, seconds)
    cells = provided_cells(ids)
    return [
        replace(
            found[keys[e.pk]],
            engagement=e,
            cells={k: v[e.pk] for k, v in cells.items() if e.pk in v},
        )
        for e in engagements
    ]


def _calendar_rule(raw: dict | None) -> dict[str, float]:
    # Seed 000: 100-200 hours of work is 2-3 months of calendar time.
    rule = {"hours_low": 100, "months_low": 2, "hours_high": 200, "months_high": 3}
    if isinstance(raw, dict):
        rule.update({k: raw[k] for k in rule if isinstance(raw.get(k), int | float)})
    return rule


def _merge_assumption_blockers(blockers: list[Blocker]) -> list[Blocker]:
    rest = [b for b in blockers if b.kind != "assumption"]
    n = sum(1 for b in blockers if b.kind == "assumption")
    if n:
        rest.append(
            Blocker(
                "assumption",
                f"{n} blocking assumption{'s' if n != 1 else ''} still ASSUMED",
                count=n,
            )
        )
    return rest
