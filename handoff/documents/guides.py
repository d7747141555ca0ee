"""Contexts of the operating guides: territory updates, routing troubleshooting, rules of
engagement, FAQ and the maintenance schedule. The procedures are the playbook's (seed 000);
every example, name, number and date in them comes from the engagement's data."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from engagements.models import Role
from handoff.documents.sources import Sources

RECORD_FIELDS = (
    "external_id",
    "name",
    "domain",
    "annual_revenue",
    "employees",
    "industry",
    "country",
    "state",
    "city",
    "postal_code",
)


def _growth_first_step(src: Sources) -> dict[str, Any] | None:
    if not src.growth or not src.growth["steps"]:
        return None
    return src.growth["steps"][0]


def update_guide(src: Sources) -> dict[str, Any]:
    from routing import salesforce

    rows = src.territory_rows
    example = next((r for r in rows if r.get("ae")), rows[0] if rows else None)
    unit_example = next((r for r in rows if r.get("units")), None)
    split_states = sorted(src.routing_settings.hierarchy.get("granularity_by_state", {}).items())
    return {
        "sections": [
            ("object", "The territory object"),
            ("rep-change", "When a rep joins, leaves or changes role"),
            ("new-territory", "Adding a territory"),
            ("boundary", "Adjusting a boundary"),
            ("named", "Named accounts"),
            ("check", "After every change"),
            ("territories", "Current territories"),
        ],
        "object_name": salesforce.TERRITORY_OBJECT,
        "fields": [{**f.__dict__, "guarded": f.guarded} for f in salesforce.TERRITORY_FIELDS],
        "has_object": src.has_object,
        "missing_object": src.missing_object,
        "rows": rows,
        "example": example,
        "unit_example": unit_example,
        "unit_sample": ", ".join((unit_example or {}).get("units", [])[:3]),
        "split_states": split_states,
        "growth_step": _growth_first_step(src),
        "overrides": src.engagement.named_overrides.filter(active=True).count(),
        "owner": src.maintenance_owner,
        "escalation": list(src.playbook.escalation_guidelines),
    }


def _sample_accounts(src: Sources) -> list[tuple[str, dict[str, Any]]]:
    """A few real accounts that show the routing order's different paths."""
    from django.db.models import Count

    from routing.models import TerritoryAccount
    from territories.models import Account

    accounts = Account.objects.filter(engagement=src.engagement)
    picks: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()

    def take(why: str, row: dict[str, Any] | None) -> None:
        if row and row["external_id"] not in seen:
            seen.add(row["external_id"])
            picks.append((why, row))

    override = src.engagement.named_overrides.filter(active=True).exclude(external_id="").first()
    if override is not None:
        take(
            "A named account (an override matches it before any other rule)",
            accounts.filter(external_id=override.external_id).values(*RECORD_FIELDS).first(),
        )
    listed = (
        TerritoryAccount.objects.filter(territory__engagement=src.engagement)
        .exclude(external_id__in=seen)
        .values_list("external_id", flat=True)
        .first()
    )
    if listed:
        take(
            "An account on a territory's account list",
            accounts.filter(external_id=listed).values(*RECORD_FIELDS).first(),
        )
    split = sorted(src.routing_settings.hierarchy.get("granularity_by_state", {}))
    busiest = (
        accounts.filter(state__in=split)
        .values("state")
        .annotate(n=Count("pk"))
        .order_by("-n", "state")
        .values_list("state", flat=True)
        .first()
    )
    if busiest:
        take(
            f"An account in a split state ({busiest}), routed by its sub-state area",
            accounts.filter(state=busiest, named_account_owner="")
            .exclude(external_id__in=seen)
            .exclude(postal_code="")
            .order_by("external_id")
            .values(*RECORD_FIELDS)
            .first(),
        )
    listed_ids = TerritoryAccount.objects.filter(territory__engagement=src.engagement).values(
        "external_id"
    )
    candidates = (
        accounts.filter(named_account_owner="")
        .exclude(state="")
        .exclude(external_id__in=seen)
        .exclude(external_id__in=listed_ids)
    )
    ordered = candidates.order_by("-value", "external_id").values(*RECORD_FIELDS)
    plain = ordered.exclude(state__in=split).first() or ordered.exclude(state=busiest or "").first()
    if plain:
        where = "whole state" if plain["state"] not in split else "county or area"
        take(f"An account routed by the geographic rules ({where})", plain)
    base = plain or (picks[-1][1] if picks else None)
    if base:
        blank = dict(base, state="", postal_code="", city="")
        picks.append(
            (
                f"The same account ({base['external_id']}) with its state, city and postal code "
                "missing: the fallback",
                blank,
            )
        )
    return picks


def troubleshooting(src: Sources) -> dict[str, Any]:
    from routing import engine, services

    context: dict[str, Any] = {
        "sections": [
            ("order", "How an account is routed"),
            ("hierarchy", "The hierarchy routing follows"),
            ("diagnose", "Diagnosing an incorrect assignment"),
            ("traces", "Real decision traces"),
            ("fallbacks", "Fallbacks and queues"),
            ("accuracy", "Watching accuracy"),
        ],
        "has_object": src.has_object,
        "missing_object": src.missing_object,
        "accuracy": src.accuracy,
        "checks": src.accuracy_checks[-6:],
        "owner": src.maintenance_owner,
        "describe": src.hierarchy_spec.describe(),
    }
    if not src.has_object:
        return context
    spec = src.tech_spec
    config = services.routing_config(engagement=src.engagement)
    traces = []
    for why, record in _sample_accounts(src):
        decision = engine.route_record(record, config)
        traces.append(
            {
                "why": why,
                "record": record,
                "territory": decision.territory,
                "territory_name": decision.territory_name,
                "owner": decision.owner,
                "queue": decision.queue,
                "level": decision.level,
                "fallback": decision.fallback,
                "unit": decision.unit,
                "segment": decision.segment,
                "steps": [s.as_dict() for s in decision.trace],
            }
        )
    context.update(
        evaluation_order=spec["evaluation_order"],
        edge_cases=spec["edge_cases"],
        granularity=spec["granularity_by_state"],
        counts=spec["counts"],
        default_queue=src.routing_settings.default_queue,
        traces=traces,
    )
    return context


def _term(src: Sources, slug: str) -> dict[str, Any] | None:
    """A definition as agreed: the signed text once approved, else the current draft (its
    placeholders filled), without the "Term: " the signed text starts with — the documents
    print the term beside it."""
    term = src.engagement.definition_terms.filter(slug=slug).first()
    if term is None:
        return None
    evidence = src.signoff(term.subject)
    text = evidence.get("approved_text") or src.definition_drafts.get(slug, term.definition)
    return {"term": term.term, "text": text.removeprefix(f"{term.term}: "), **evidence}


def rules_of_engagement(src: Sources) -> dict[str, Any]:
    from territories.models import PlannedHire

    training = {t.slug: t for t in src.playbook.training_types}
    first_effective = min((r["effective_from"] for r in src.territory_rows), default=None)
    losses = (src.growth or {}).get("losses", [])
    hires = {
        h.title: h.start_date
        for h in PlannedHire.objects.filter(engagement=src.engagement).order_by("start_date")
    }
    handovers = [
        {
            "holder": loss["holder"],
            "accounts": loss["accounts"],
            "value": loss["value"],
            "to": [{"hire": name, "start": hires.get(name)} for name in loss["to"]],
        }
        for loss in losses
    ]
    return {
        "sections": [
            ("principles", "Who owns an account"),
            ("disputes", "Dispute resolution process"),
            ("holdover", "Holdover policy for territory transitions"),
            ("handovers", "Planned handovers"),
            ("escalation", "Escalation"),
            ("terms", "Terms as agreed"),
        ],
        "cuts": src.hierarchy_spec.describe(),
        # Named accounts: the territory object's active overrides once it exists, else the
        # hierarchy's count (CRM named-account owners plus the listed matches).
        "overrides": (
            src.engagement.named_overrides.filter(active=True).count()
            if src.has_object
            else src.hierarchy_overview["named"]
        ),
        "has_object": src.has_object,
        "territory_count": len(src.territory_rows),
        "first_effective": first_effective,
        "directors": training.get("sales_directors"),
        "managers": training.get("sales_management"),
        "reps": training.get("reps"),
        "escalation": list(src.playbook.escalation_guidelines),
        "owner": src.maintenance_owner,
        "architects": src.architects,
        "approvers": src.approvers,
        "handovers": handovers,
        "holdover_term": _term(src, "holdover-policy"),
        "roe_term": _term(src, "rules-of-engagement"),
        "named_term": _term(src, "named-account"),
        "anchor_term": _term(src, "anchoring-point"),
    }


def faq(src: Sources) -> dict[str, Any]:
    from handoff.schedule import occurrences

    start, _why = src.maintenance_start
    schedule = occurrences(src.playbook.cadences, start=start, owner=src.maintenance_owner["label"])
    annual = next((o for o in schedule if o.cadence == "annual"), None)
    first_cycle = next((o for o in schedule if o.cadence == "first_cycle"), None)
    qa = src.qa
    return {
        "sections": [
            ("rep-leaves", "What if a rep leaves?"),
            ("disputes", "What about disputed accounts?"),
            ("working", "How do we know it's working?"),
            ("redo", "When do we re-do territories?"),
            ("growth", "What happens when we hire?"),
        ],
        "territory_count": len(src.territory_rows) or len(src.territories),
        "has_object": src.has_object,
        "growth_step": _growth_first_step(src),
        "growth_steps": len((src.growth or {}).get("steps", [])),
        "runway": (src.growth or {}).get("runway"),
        "accuracy": src.accuracy,
        "qa": qa,
        "triggers": list(src.playbook.refinement_triggers),
        "annual": annual,
        "first_cycle": first_cycle,
        "start": start,
        "owner": src.maintenance_owner,
        "architects": src.architects,
        "metrics": (src.report or {}).get("metrics"),
        "run": (src.report or {}).get("run"),
    }


def _owner_label(src: Sources, role: str) -> str:
    """A stored occurrence's owner (the role of seed 000's rule) as the people's names."""
    if role == "architect":
        return f"{src.architects} (architect)"
    if role == "customer":
        return f"{src.customer} RevOps ({src.approvers})"
    return role


def _trainings(src: Sources) -> dict[str, Any]:
    """The training sessions for the "Training recordings" section: each delivered one with its
    recording link, the delivered ones without a recording, and the ones still to deliver."""
    from handoff.models import TrainingSession

    sessions = list(
        TrainingSession.objects.filter(engagement=src.engagement)
        .exclude(state=TrainingSession.State.CANCELLED)
        .order_by("position", "id")
    )
    delivered = [
        {
            "audience": s.audience,
            "day": s.day,
            "url": s.recording_url,
            # Clickable in the PDF only when it is a web address; shown as text either way.
            "link": s.recording_url
            if urlsplit(s.recording_url).scheme in ("http", "https")
            else "",
        }
        for s in sessions
        if s.state == TrainingSession.State.DELIVERED
    ]
    return {
        "trainings": delivered,
        "without_recording": [t["audience"] for t in delivered if not t["url"]],
        "to_deliver": [
            {"audience": s.audience, "state": s.get_state_display().lower(), "day": s.day}
            for s in sessions
            if s.state != TrainingSession.State.DELIVERED
        ],
    }


def maintenance_also_delivers(context: dict[str, Any]) -> tuple[str, ...]:
    """The playbook documents the Maintenance Schedule carries besides itself: the support
    contact info when it lists someone, and all training video recordings once at least one
    session was delivered and every delivered session has its recording link."""
    out = []
    if context["contacts"]:
        out.append("support-contact")
    if context["trainings"] and not context["without_recording"]:
        out.append("training-recordings")
    return tuple(out)


def maintenance(src: Sources) -> dict[str, Any]:
    """The schedule as stored (``maintenance_generate``): every occurrence with what was found
    on the done ones, and, for a dedicated engagement, the refinement check-in and its reminder.
    Before the schedule is generated, the dates it will have, said as such. With it, whom to
    call (the engagement's architects and engineers, and the maintenance owner) and the
    recordings of the delivered training sessions."""
    from handoff import services
    from handoff.models import MaintenanceOccurrence
    from handoff.schedule import occurrences

    start, why = src.maintenance_start
    owner = src.maintenance_owner
    stored = list(
        MaintenanceOccurrence.objects.filter(engagement=src.engagement)
        .select_related("done_by")
        .order_by("due", "cadence", "task_slug")
    )
    rows: list[dict[str, Any]] = [
        {
            "due": o.due,
            "kind": o.cadence_name,
            "task": o.task,
            "red_flag": o.red_flag,
            "owner": _owner_label(src, o.owner),
            "done": o.done,
            "done_at": o.done_at,
            "done_by": (o.done_by.get_full_name() or o.done_by.username) if o.done_by else "",
            "findings": o.findings,
            "red_flag_hit": o.red_flag_hit,
        }
        for o in stored
    ]
    if not stored:
        rows = [
            {
                "due": o.due,
                "kind": o.cadence_name,
                "task": o.task,
                "red_flag": o.red_flag,
                "owner": o.owner,
                "done": False,
            }
            for o in occurrences(src.playbook.cadences, start=start, owner=owner["label"])
        ]
    count = len(rows)  # the maintenance occurrences, before the retention dates join them
    path = services.retention(engagement=src.engagement)
    if path.checkin is not None:
        rows += [
            {
                "due": path.reminder,
                "kind": "Retention",
                "task": "Refinement check-in in 2 weeks: internal prep (balance reports, "
                "routing accuracy, rep feedback; who handles the check-in)",
                "owner": f"{src.architects} (architect)",
                "done": False,
            },
            {
                "due": path.checkin,
                "kind": "Retention",
                "task": "Refinement check-in with "
                f"{src.customer}: territory performance against the design, balance drift, "
                "growth-ready cuts to activate",
                "owner": f"{src.architects} (architect)",
                "done": False,
            },
        ]
        rows.sort(key=lambda r: r["due"])
    by_month: dict[str, list] = {}
    for row in rows:
        by_month.setdefault(row["due"].strftime("%B %Y"), []).append(row)
    done = [r for r in rows if r["done"]]
    return {
        "sections": [
            ("owner", "Who owns maintenance"),
            ("support", "Support contacts"),
            ("cadences", "Tasks by cadence"),
            ("triggers", "Refinement triggers"),
            ("done", "Checks done and what they found"),
            ("calendar", "Dated occurrences, twelve months from rollout"),
            ("recordings", "Training recordings"),
        ],
        "owner": owner,
        "start": start,
        "start_why": why,
        "generated": bool(stored),
        "cadences": list(src.playbook.cadences),
        "triggers": list(src.playbook.refinement_triggers),
        "by_month": list(by_month.items()),
        "count": count,
        "done": done,
        "checkin": path.checkin,
        "reminder": path.reminder,
        "architect_role": Role.ARCHITECT.label,
        "contacts": src.contacts,
        "has_architect": any(c["role"] == Role.ARCHITECT.label for c in src.contacts),
        **_trainings(src),
    }
