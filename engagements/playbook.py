"""The playbook template as data: parse and validate it into frozen dataclasses (pure).

The template (``engagements/playbooks/*.json``, stored versioned in ``PlaybookTemplate``) holds
everything seed 000 prescribes: four phases with their sixteen sub-phases and checklist items,
gate criteria, meeting types with agendas, the Definition Alignment terms and glossary, the
maintenance cadences and refinement triggers, the document list, phase-weight profiles and the
hours-to-calendar rule. Staff edit it in the admin; ``parse_playbook`` is the one validator, and
its messages name the path of every problem (``phases[0].subphases[2].groups[0].items[3].key``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
SUBJECT_RE = re.compile(r"^[a-z][a-z0-9_]*(:[a-z0-9][a-z0-9_-]*)?$")
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
GATE_DECISIONS = ("proceed", "extend_hypercare", "hold")
OWNERS = ("consultancy", "customer")
TERM_KINDS = ("alignment", "glossary")
DOCUMENT_KINDS = ("working", "deliverable", "technical", "package")
PLACEHOLDER_FORMATS = ("usd", "number", "text")
# Events the portal sends (``engagements.services.checklist_mark_event``) that an item may name;
# besides these, "meeting_held:<meeting type>[:n]", "training_delivered:<training type>" and
# "package_document:<document slug>" (a documentation package delivered that playbook document).
FIXED_EVENTS = (
    "intake_submitted",
    "intake_customer_list",
    "accuracy_checked",  # a routing accuracy check of 50+ accounts (hypercare page or audit)
    "maintenance_scheduled",  # the dated maintenance schedule generated
)


class PlaybookError(ValueError):
    """The template is invalid; ``problems`` lists every finding with its path."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    owner: str = "consultancy"
    required: bool = True
    when: str = ""  # a condition name; empty: always applies
    signoff: str = ""  # done exactly when this sign-off subject is approved
    event: str = ""  # marked done by the portal when this happens (FIXED_EVENTS, a meeting held…)


@dataclass(frozen=True)
class Group:
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class SubPhase:
    code: str
    name: str
    purpose: str
    groups: tuple[Group, ...]

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for group in self.groups for item in group.items)


@dataclass(frozen=True)
class Gate:
    produces: str
    criteria: str
    signoffs: tuple[str, ...]
    no_blocking_assumptions: bool
    decisions: tuple[str, ...]
    proceed_label: str


@dataclass(frozen=True)
class Phase:
    number: int
    slug: str
    name: str
    weight: str
    goal: str
    output: str
    gate: Gate
    subphases: tuple[SubPhase, ...]


@dataclass(frozen=True)
class AgendaRow:
    time: str
    topic: str
    what: str


@dataclass(frozen=True)
class MeetingType:
    slug: str
    name: str
    subphase: str
    focus: str
    stakeholders: str
    output: str
    duration: str = ""
    agenda: tuple[AgendaRow, ...] = ()
    bring: tuple[str, ...] = ()
    leave_with: tuple[str, ...] = ()
    loop: bool = False
    numbered: bool = False


@dataclass(frozen=True)
class Placeholder:
    name: str
    assumption: str
    category: str
    default: Any
    format: str
    statement: str


@dataclass(frozen=True)
class DefinitionTerm:
    slug: str
    term: str
    definition: str
    kind: str
    gates_design: bool = False


@dataclass(frozen=True)
class MaintenanceTask:
    cadence: str
    slug: str
    task: str
    check: str
    red_flag: str
    action: str = ""


@dataclass(frozen=True)
class Cadence:
    slug: str
    name: str
    tasks: tuple[MaintenanceTask, ...]
    every_months: int | None = None
    once_after_days: int | None = None
    key_question: str = ""


@dataclass(frozen=True)
class RefinementTrigger:
    slug: str
    trigger: str
    threshold: str
    response: str


@dataclass(frozen=True)
class TrainingType:
    slug: str
    audience: str
    who: str
    focus: str
    minutes: int | None


@dataclass(frozen=True)
class EscalationGuideline:
    issue: str
    who: str
    examples: str


@dataclass(frozen=True)
class Document:
    slug: str
    name: str
    kind: str
    purpose: str = ""
    complete_when: str = ""
    created_from: str = ""
    customer_uses_for: str = ""


@dataclass(frozen=True)
class WeightProfile:
    slug: str
    name: str
    weights: dict[str, int]
    seed_ranges: str = ""


@dataclass(frozen=True)
class CalendarRule:
    """Hours of work to months of calendar time (seed 000: 100–200 h is 2–3 months)."""

    hours_low: float
    months_low: float
    hours_high: float
    months_high: float
    note: str = ""


@dataclass(frozen=True)
class Milestone:
    milestone: str
    timing: str


@dataclass(frozen=True)
class Playbook:
    name: str
    source: str
    conditions: dict[str, str]
    phases: tuple[Phase, ...]
    meeting_routine: dict[str, tuple[str, ...]]
    meeting_types: tuple[MeetingType, ...]
    definition_placeholders: dict[str, Placeholder]
    definition_terms: tuple[DefinitionTerm, ...]
    design_gate_description: str
    design_gate_signoffs: tuple[str, ...]
    maintenance_owner: dict[str, str]
    cadences: tuple[Cadence, ...]
    refinement_triggers: tuple[RefinementTrigger, ...]
    training_types: tuple[TrainingType, ...]
    escalation_guidelines: tuple[EscalationGuideline, ...]
    retention_paths: dict[str, tuple[str, ...]]
    documents: tuple[Document, ...]
    weight_profiles: tuple[WeightProfile, ...]
    calendar: CalendarRule
    timeline: tuple[Milestone, ...] = field(default=())

    @property
    def subphases(self) -> tuple[SubPhase, ...]:
        return tuple(s for p in self.phases for s in p.subphases)

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for s in self.subphases for i in s.items)

    @property
    def maintenance_tasks(self) -> tuple[MaintenanceTask, ...]:
        """Every maintenance task of every cadence, in template order (used by handoff/)."""
        return tuple(t for c in self.cadences for t in c.tasks)

    def meeting_type(self, slug: str) -> MeetingType | None:
        return next((m for m in self.meeting_types if m.slug == slug), None)

    def phase(self, number: int) -> Phase | None:
        return next((p for p in self.phases if p.number == number), None)

    def weight_profile(self, slug: str) -> WeightProfile | None:
        return next((w for w in self.weight_profiles if w.slug == slug), None)

    def maintenance_owner_for(self, engagement_type: str) -> str:
        return self.maintenance_owner.get(engagement_type, "")


class _Reader:
    """Walks the raw JSON, collecting problems with their paths instead of stopping at one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def obj(self, data: Any, path: str) -> dict:
        if not isinstance(data, dict):
            self.fail(path, "must be an object")
            return {}
        return data

    def list(self, data: dict, key: str, path: str, *, required: bool = True) -> list:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}.{key}", "is missing")
            return []
        if not isinstance(value, list):
            self.fail(f"{path}.{key}", "must be a list")
            return []
        return value

    def text(self, data: dict, key: str, path: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(f"{path}.{key}", "is missing")
            return ""
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", "must be text")
            return ""
        return value.strip()

    def flag(self, data: dict, key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{path}.{key}", "must be true or false")
            return default
        return value

    def number(self, data: dict, key: str, path: str, *, required: bool = True) -> float | None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}.{key}", "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{path}.{key}", "must be a number")
            return None
        return value

    def slug(self, data: dict, key: str, path: str) -> str:
        value = self.text(data, key, path)
        if value and not SLUG_RE.match(value):
            self.fail(f"{path}.{key}", f"{value!r} must be lower-case letters, digits, _ . -")
        return value

    def texts(self, data: dict, key: str, path: str) -> tuple[str, ...]:
        values = self.list(data, key, path, required=False)
        out = []
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                self.fail(f"{path}.{key}[{index}]", "must be non-empty text")
            else:
                out.append(value.strip())
        return tuple(out)

    def unique(self, seen: set, value: str, path: str, what: str) -> None:
        if value in seen:
            self.fail(path, f"duplicate {what} {value!r}")
        seen.add(value)


def parse_playbook(data: Any) -> Playbook:
    """Validate the raw template and return it as a ``Playbook``; raise ``PlaybookError``."""
    r = _Reader()
    root = r.obj(data, "template")
    conditions_raw = r.obj(root.get("conditions", {}), "conditions")
    conditions = {str(k): str(v) for k, v in conditions_raw.items()}

    meeting_types = _meeting_types(r, root)
    meeting_slugs = {m.slug for m in meeting_types}
    training = []
    for index, raw in enumerate(r.list(root, "training_types", "template", required=False)):
        path = f"training_types[{index}]"
        raw = r.obj(raw, path)
        minutes = r.number(raw, "minutes", path, required=False)
        training.append(
            TrainingType(
                slug=r.slug(raw, "slug", path),
                audience=r.text(raw, "audience", path),
                who=r.text(raw, "who", path, required=False),
                focus=r.text(raw, "focus", path),
                minutes=int(minutes) if minutes is not None else None,
            )
        )
    documents = _documents(r, root)
    phases = _phases(
        r,
        root,
        conditions,
        _EventSlugs(
            meetings=meeting_slugs,
            trainings={t.slug for t in training},
            documents={d.slug for d in documents},
        ),
    )
    phase_slugs = [p.slug for p in phases]
    subphase_codes = {s.code for p in phases for s in p.subphases}
    for index, meeting in enumerate(meeting_types):
        if meeting.subphase and meeting.subphase not in subphase_codes:
            r.fail(f"meeting_types[{index}].subphase", f"unknown sub-phase {meeting.subphase!r}")

    routine_raw = r.obj(root.get("meeting_routine", {}), "meeting_routine")
    routine = {
        moment: r.texts(routine_raw, moment, "meeting_routine")
        for moment in ("before", "during", "after")
    }

    placeholders = _placeholders(r, root)
    terms = _terms(r, root, placeholders)
    design = r.obj(root.get("design_gate", {}), "design_gate")
    design_signoffs = tuple(r.texts(design, "signoffs", "design_gate"))
    for index, subject in enumerate(design_signoffs):
        if not SUBJECT_RE.match(subject):
            r.fail(f"design_gate.signoffs[{index}]", f"{subject!r} is not a sign-off subject")

    maintenance = r.obj(root.get("maintenance", {}), "maintenance")
    owner = {
        str(k): str(v) for k, v in r.obj(maintenance.get("owner", {}), "maintenance.owner").items()
    }
    cadences = _cadences(r, maintenance)
    triggers = []
    for index, raw in enumerate(r.list(maintenance, "refinement_triggers", "maintenance")):
        path = f"maintenance.refinement_triggers[{index}]"
        raw = r.obj(raw, path)
        triggers.append(
            RefinementTrigger(
                slug=r.slug(raw, "slug", path),
                trigger=r.text(raw, "trigger", path),
                threshold=r.text(raw, "threshold", path),
                response=r.text(raw, "response", path),
            )
        )

    escalation = []
    for index, raw in enumerate(r.list(root, "escalation_guidelines", "template", required=False)):
        path = f"escalation_guidelines[{index}]"
        raw = r.obj(raw, path)
        escalation.append(
            EscalationGuideline(
                issue=r.text(raw, "issue", path),
                who=r.text(raw, "who", path),
                examples=r.text(raw, "examples", path, required=False),
            )
        )
    retention_raw = r.obj(root.get("retention_paths", {}), "retention_paths")
    retention = {key: r.texts(retention_raw, key, "retention_paths") for key in retention_raw}

    profiles = _profiles(r, root, phase_slugs)
    calendar = _calendar(r, root)
    timeline = []
    for index, raw in enumerate(r.list(root, "timeline", "template", required=False)):
        path = f"timeline[{index}]"
        raw = r.obj(raw, path)
        timeline.append(
            Milestone(milestone=r.text(raw, "milestone", path), timing=r.text(raw, "timing", path))
        )

    if r.problems:
        raise PlaybookError(r.problems)
    return Playbook(
        name=r.text(root, "name", "template"),
        source=r.text(root, "source", "template", required=False),
        conditions=conditions,
        phases=tuple(phases),
        meeting_routine=routine,
        meeting_types=tuple(meeting_types),
        definition_placeholders=placeholders,
        definition_terms=tuple(terms),
        design_gate_description=r.text(design, "description", "design_gate", required=False),
        design_gate_signoffs=design_signoffs,
        maintenance_owner=owner,
        cadences=tuple(cadences),
        refinement_triggers=tuple(triggers),
        training_types=tuple(training),
        escalation_guidelines=tuple(escalation),
        retention_paths=retention,
        documents=tuple(documents),
        weight_profiles=tuple(profiles),
        calendar=calendar,
        timeline=tuple(timeline),
    )


@dataclass(frozen=True)
class _EventSlugs:
    """What an item's event may name: meeting types, training types, playbook documents."""

    meetings: set[str]
    trainings: set[str]
    documents: set[str]


def _check_event(r: _Reader, event: str, path: str, slugs: _EventSlugs) -> None:
    if event in FIXED_EVENTS:
        return
    parts = event.split(":")
    if parts[0] == "training_delivered" and len(parts) == 2:
        if parts[1] not in slugs.trainings:
            r.fail(path, f"unknown training type {parts[1]!r}")
        return
    if parts[0] == "package_document" and len(parts) == 2:
        if parts[1] not in slugs.documents:
            r.fail(path, f"unknown document {parts[1]!r} (not in the template's documents)")
        return
    if parts[0] != "meeting_held" or len(parts) not in (2, 3):
        r.fail(
            path,
            f"{event!r} must be {', '.join(FIXED_EVENTS)}, meeting_held:<type>[:n], "
            "training_delivered:<training type> or package_document:<document>",
        )
        return
    if parts[1] not in slugs.meetings:
        r.fail(path, f"unknown meeting type {parts[1]!r}")
    if len(parts) == 3 and not (parts[2].isdigit() and int(parts[2]) >= 1):
        r.fail(path, f"{parts[2]!r} must be a meeting count (1, 2, …)")


def _phases(r: _Reader, root: dict, conditions: dict, event_slugs: _EventSlugs) -> list[Phase]:
    phases = []
    keys: set[str] = set()
    codes: set[str] = set()
    slugs: set[str] = set()
    raw_phases = r.list(root, "phases", "template")
    if not raw_phases:
        r.fail("template.phases", "needs at least one phase")
    for p_index, raw in enumerate(raw_phases):
        p_path = f"phases[{p_index}]"
        raw = r.obj(raw, p_path)
        number = r.number(raw, "number", p_path)
        if number is not None and number != p_index + 1:
            r.fail(f"{p_path}.number", f"must be {p_index + 1} (phases are numbered in order)")
        slug = r.slug(raw, "slug", p_path)
        r.unique(slugs, slug, f"{p_path}.slug", "phase slug")
        gate_raw = r.obj(raw.get("gate", {}), f"{p_path}.gate")
        g_path = f"{p_path}.gate"
        decisions = r.texts(gate_raw, "decisions", g_path)
        for d_index, decision in enumerate(decisions):
            if decision not in GATE_DECISIONS:
                r.fail(
                    f"{g_path}.decisions[{d_index}]", f"{decision!r} is not one of {GATE_DECISIONS}"
                )
        if "proceed" not in decisions:
            r.fail(f"{g_path}.decisions", "must include proceed")
        signoffs = r.texts(gate_raw, "signoffs", g_path)
        for s_index, subject in enumerate(signoffs):
            if not SUBJECT_RE.match(subject):
                r.fail(f"{g_path}.signoffs[{s_index}]", f"{subject!r} is not a sign-off subject")
        gate = Gate(
            produces=r.text(gate_raw, "produces", g_path),
            criteria=r.text(gate_raw, "criteria", g_path),
            signoffs=signoffs,
            no_blocking_assumptions=r.flag(gate_raw, "no_blocking_assumptions", g_path, False),
            decisions=decisions,
            proceed_label=r.text(gate_raw, "proceed_label", g_path, required=False) or "Proceed",
        )
        subphases = []
        for s_index, s_raw in enumerate(r.list(raw, "subphases", p_path)):
            s_path = f"{p_path}.subphases[{s_index}]"
            s_raw = r.obj(s_raw, s_path)
            code = r.text(s_raw, "code", s_path)
            if code and number is not None and not re.fullmatch(rf"{int(number)}[a-z]", code):
                r.fail(
                    f"{s_path}.code",
                    f"{code!r} must be {int(number)} and a letter (e.g. {int(number)}a)",
                )
            r.unique(codes, code, f"{s_path}.code", "sub-phase code")
            groups = []
            for g_index, g_raw in enumerate(r.list(s_raw, "groups", s_path)):
                gr_path = f"{s_path}.groups[{g_index}]"
                g_raw = r.obj(g_raw, gr_path)
                group_owner = g_raw.get("owner", "consultancy")
                if group_owner not in OWNERS:
                    r.fail(f"{gr_path}.owner", f"{group_owner!r} must be one of {OWNERS}")
                items = []
                for i_index, i_raw in enumerate(r.list(g_raw, "items", gr_path)):
                    i_path = f"{gr_path}.items[{i_index}]"
                    i_raw = r.obj(i_raw, i_path)
                    key = r.slug(i_raw, "key", i_path)
                    r.unique(keys, key, f"{i_path}.key", "item key")
                    owner = i_raw.get("owner", group_owner)
                    if owner not in OWNERS:
                        r.fail(f"{i_path}.owner", f"{owner!r} must be one of {OWNERS}")
                    when = r.text(i_raw, "when", i_path, required=False)
                    if when and when not in conditions:
                        r.fail(f"{i_path}.when", f"unknown condition {when!r}")
                    signoff = r.text(i_raw, "signoff", i_path, required=False)
                    if signoff and not SUBJECT_RE.match(signoff):
                        r.fail(f"{i_path}.signoff", f"{signoff!r} is not a sign-off subject")
                    event = r.text(i_raw, "event", i_path, required=False)
                    if event:
                        _check_event(r, event, f"{i_path}.event", event_slugs)
                    if signoff and event:
                        r.fail(i_path, "an item is done by a sign-off or by an event, not both")
                    items.append(
                        Item(
                            key=key,
                            text=r.text(i_raw, "text", i_path),
                            owner=owner,
                            required=r.flag(i_raw, "required", i_path, True),
                            when=when,
                            signoff=signoff,
                            event=event,
                        )
                    )
                groups.append(Group(title=r.text(g_raw, "title", gr_path), items=tuple(items)))
            subphases.append(
                SubPhase(
                    code=code,
                    name=r.text(s_raw, "name", s_path),
                    purpose=r.text(s_raw, "purpose", s_path, required=False),
                    groups=tuple(groups),
                )
            )
        if not subphases:
            r.fail(f"{p_path}.subphases", "needs at least one sub-phase")
        phases.append(
            Phase(
                number=int(number or 0),
                slug=slug,
                name=r.text(raw, "name", p_path),
                weight=r.text(raw, "weight", p_path, required=False),
                goal=r.text(raw, "goal", p_path, required=False),
                output=r.text(raw, "output", p_path, required=False),
                gate=gate,
                subphases=tuple(subphases),
            )
        )
    return phases


def _meeting_types(r: _Reader, root: dict) -> list[MeetingType]:
    out = []
    seen: set[str] = set()
    for index, raw in enumerate(r.list(root, "meeting_types", "template")):
        path = f"meeting_types[{index}]"
        raw = r.obj(raw, path)
        slug = r.slug(raw, "slug", path)
        r.unique(seen, slug, f"{path}.slug", "meeting type")
        agenda = []
        for a_index, a_raw in enumerate(r.list(raw, "agenda", path, required=False)):
            a_path = f"{path}.agenda[{a_index}]"
            a_raw = r.obj(a_raw, a_path)
            agenda.append(
                AgendaRow(
                    time=r.text(a_raw, "time", a_path, required=False),
                    topic=r.text(a_raw, "topic", a_path),
                    what=r.text(a_raw, "what", a_path, required=False),
                )
            )
        out.append(
            MeetingType(
                slug=slug,
                name=r.text(raw, "name", path),
                subphase=r.text(raw, "subphase", path, required=False),
                focus=r.text(raw, "focus", path),
                stakeholders=r.text(raw, "stakeholders", path),
                output=r.text(raw, "output", path, required=False),
                duration=r.text(raw, "duration", path, required=False),
                agenda=tuple(agenda),
                bring=r.texts(raw, "bring", path),
                leave_with=r.texts(raw, "leave_with", path),
                loop=r.flag(raw, "loop", path, False),
                numbered=r.flag(raw, "numbered", path, False),
            )
        )
    return out


def _placeholders(r: _Reader, root: dict) -> dict[str, Placeholder]:
    raw_all = r.obj(root.get("definition_placeholders", {}), "definition_placeholders")
    out = {}
    for name, raw in raw_all.items():
        path = f"definition_placeholders.{name}"
        raw = r.obj(raw, path)
        fmt = raw.get("format", "text")
        if fmt not in PLACEHOLDER_FORMATS:
            r.fail(f"{path}.format", f"{fmt!r} must be one of {PLACEHOLDER_FORMATS}")
        if "default" not in raw:
            r.fail(f"{path}.default", "is missing")
        out[name] = Placeholder(
            name=name,
            assumption=r.text(raw, "assumption", path),
            category=r.text(raw, "category", path),
            default=raw.get("default"),
            format=fmt,
            statement=r.text(raw, "statement", path),
        )
    return out


def _terms(r: _Reader, root: dict, placeholders: dict[str, Placeholder]) -> list[DefinitionTerm]:
    out = []
    seen: set[str] = set()
    for index, raw in enumerate(r.list(root, "definition_terms", "template")):
        path = f"definition_terms[{index}]"
        raw = r.obj(raw, path)
        slug = r.slug(raw, "slug", path)
        r.unique(seen, slug, f"{path}.slug", "term")
        definition = r.text(raw, "definition", path)
        for name in PLACEHOLDER_RE.findall(definition):
            if name not in placeholders:
                r.fail(f"{path}.definition", f"placeholder {{{name}}} is not defined")
        kind = raw.get("kind", "alignment")
        if kind not in TERM_KINDS:
            r.fail(f"{path}.kind", f"{kind!r} must be one of {TERM_KINDS}")
        out.append(
            DefinitionTerm(
                slug=slug,
                term=r.text(raw, "term", path),
                definition=definition,
                kind=kind,
                gates_design=r.flag(raw, "gates_design", path, False),
            )
        )
    return out


def _cadences(r: _Reader, maintenance: dict) -> list[Cadence]:
    out = []
    seen: set[str] = set()
    for index, raw in enumerate(r.list(maintenance, "cadences", "maintenance")):
        path = f"maintenance.cadences[{index}]"
        raw = r.obj(raw, path)
        slug = r.slug(raw, "slug", path)
        r.unique(seen, slug, f"{path}.slug", "cadence")
        every = r.number(raw, "every_months", path, required=False)
        once = r.number(raw, "once_after_days", path, required=False)
        if (every is None) == (once is None):
            r.fail(path, "give exactly one of every_months or once_after_days")
        tasks = []
        task_slugs: set[str] = set()
        for t_index, t_raw in enumerate(r.list(raw, "tasks", path)):
            t_path = f"{path}.tasks[{t_index}]"
            t_raw = r.obj(t_raw, t_path)
            t_slug = r.slug(t_raw, "slug", t_path)
            r.unique(task_slugs, t_slug, f"{t_path}.slug", "task")
            tasks.append(
                MaintenanceTask(
                    cadence=slug,
                    slug=t_slug,
                    task=r.text(t_raw, "task", t_path),
                    check=r.text(t_raw, "check", t_path),
                    red_flag=r.text(t_raw, "red_flag", t_path),
                    action=r.text(t_raw, "action", t_path, required=False),
                )
            )
        out.append(
            Cadence(
                slug=slug,
                name=r.text(raw, "name", path),
                tasks=tuple(tasks),
                every_months=int(every) if every is not None else None,
                once_after_days=int(once) if once is not None else None,
                key_question=r.text(raw, "key_question", path, required=False),
            )
        )
    return out


def _documents(r: _Reader, root: dict) -> list[Document]:
    out = []
    seen: set[str] = set()
    for index, raw in enumerate(r.list(root, "documents", "template")):
        path = f"documents[{index}]"
        raw = r.obj(raw, path)
        slug = r.slug(raw, "slug", path)
        r.unique(seen, slug, f"{path}.slug", "document")
        kind = raw.get("kind", "")
        if kind not in DOCUMENT_KINDS:
            r.fail(f"{path}.kind", f"{kind!r} must be one of {DOCUMENT_KINDS}")
        out.append(
            Document(
                slug=slug,
                name=r.text(raw, "name", path),
                kind=kind,
                purpose=r.text(raw, "purpose", path, required=False),
                complete_when=r.text(raw, "complete_when", path, required=False),
                created_from=r.text(raw, "created_from", path, required=False),
                customer_uses_for=r.text(raw, "customer_uses_for", path, required=False),
            )
        )
    return out


def _profiles(r: _Reader, root: dict, phase_slugs: list[str]) -> list[WeightProfile]:
    out = []
    seen: set[str] = set()
    raw_profiles = r.list(root, "phase_weight_profiles", "template")
    if not raw_profiles:
        r.fail("template.phase_weight_profiles", "needs at least one profile")
    for index, raw in enumerate(raw_profiles):
        path = f"phase_weight_profiles[{index}]"
        raw = r.obj(raw, path)
        slug = r.slug(raw, "slug", path)
        r.unique(seen, slug, f"{path}.slug", "profile")
        weights_raw = r.obj(raw.get("weights", {}), f"{path}.weights")
        problem = weights_problem(weights_raw, phase_slugs)
        if problem:
            r.fail(f"{path}.weights", problem)
        out.append(
            WeightProfile(
                slug=slug,
                name=r.text(raw, "name", path),
                weights={k: int(v) for k, v in weights_raw.items() if isinstance(v, int)},
                seed_ranges=r.text(raw, "seed_ranges", path, required=False),
            )
        )
    return out


def weights_problem(weights: dict, phase_slugs: list[str]) -> str:
    """Why ``weights`` is not a valid phase-weight split (empty string when it is)."""
    if sorted(weights) != sorted(phase_slugs):
        return f"needs exactly one weight per phase ({', '.join(phase_slugs)})"
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in weights.values()):
        return "weights must be whole percentages ≥ 0"
    if sum(weights.values()) != 100:
        return f"weights must add up to 100 (they add up to {sum(weights.values())})"
    return ""


def _calendar(r: _Reader, root: dict) -> CalendarRule:
    raw = r.obj(root.get("calendar", {}), "calendar")
    values = [
        r.number(raw, key, "calendar")
        for key in ("hours_low", "months_low", "hours_high", "months_high")
    ]
    if all(v is not None for v in values):
        hours_low, months_low, hours_high, months_high = values
        if not (0 < hours_low < hours_high and 0 < months_low <= months_high):
            r.fail("calendar", "needs 0 < hours_low < hours_high and 0 < months_low ≤ months_high")
        return CalendarRule(
            hours_low,
            months_low,
            hours_high,
            months_high,
            r.text(raw, "note", "calendar", required=False),
        )
    return CalendarRule(1, 1, 2, 2)


def render_definition(text: str, values: dict[str, str]) -> str:
    """Fill ``{placeholder}`` names in a definition with formatted values (unknown names stay)."""
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def format_placeholder(value: Any, fmt: str) -> str:
    """Format a placeholder value: ``usd`` as $1B / $500M / $750K, ``number`` with separators."""
    if fmt == "usd":
        try:
            amount = float(value)
        except (TypeError, ValueError):
            return str(value)
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if abs(amount) >= size:
                scaled = amount / size
                return f"${scaled:,.2f}".rstrip("0").rstrip(".") + suffix
        return f"${amount:,.0f}"
    if fmt == "number":
        try:
            return f"{float(value):,.0f}"
        except (TypeError, ValueError):
            return str(value)
    return str(value)
