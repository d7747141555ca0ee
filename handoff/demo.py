"""Demo data of enablement, hypercare and handoff (called by ``engagements.demo.demo_seed``
after the routing step).

Bluepeak, whose map is approved and whose routing is built and audited, moves through its
Engineering gate (the customer signs the QA results) into Enablement: every audience trained
and recorded, hypercare from the routing rollout with weekly office hours, issues raised and
resolved, a hand-sampled accuracy check; the Enablement gate first extends hypercare (a
misrouted Texas account still open), then proceeds once the customer signs the enablement
sign-off. In Handoff the maintenance schedule is generated (the first monthly check done), the
schedule items ticked, internal notes and a debrief draft written, and the triggers checked.

Everything goes through the services and the real gates, as users would. Sign-off records and
gate decisions are evidence that cannot be deleted, so the step runs once per engagement (an
activity line marks it done) and is skipped on later runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from engagements import services as engagement_services
from engagements.models import Engagement, GateDecision, Phase, User
from handoff import services
from handoff.models import HypercareIssue, MaintenanceOccurrence, OfficeHours, TrainingSession

MARKER = "demo.handoff"
EVIDENCE = engagement_services.SignoffEvidence(
    ip_address="",
    user_agent="manage.py demo",
    auth_method="demo data: seeded by manage.py demo, not a real sign-in",
)

# (audience slug, days before rollout, attendees)
TRAININGS = (
    ("leadership", 9, "Theo Grant (CRO), Bea Bluepeak (VP RevOps), 3 sales directors"),
    ("operations", 8, "Bea Bluepeak, 2 RevOps analysts, Salesforce admin"),
    ("sales_directors", 7, "Directors of the East, West and Central pods"),
    ("sales_management", 6, "6 first-line sales managers"),
    ("reps", 5, "11 AEs and 4 SDRs (two sessions merged into one recording)"),
)
OFFICE_HOURS = (
    (7, "Bea Bluepeak, 4 AEs", "Where to see my accounts; two Texas ZIP-area questions"),
    (
        14,
        "Bea Bluepeak, 2 managers, 3 AEs",
        "Partner-sourced deal ownership; one misrouted account",
    ),
    (21, "RevOps analyst, 2 AEs", "Named-account override for a holding company"),
    (
        28,
        "Bea Bluepeak, Salesforce admin",
        "Flow error on blank postal codes; fallback queue volume",
    ),
    (35, "Bea Bluepeak, 1 manager", "Follow-up on the extended window: no new misroutes"),
)


def _sign(engagement: Engagement, subject: str, customer: User) -> None:
    version = engagement_services.signoff_latest(engagement=engagement, subject=subject)
    if version is None:
        return
    if version.records.filter(decision="approved").exists():
        return
    engagement_services.signoff_decide(
        version=version,
        decision="approved",
        signer=customer,
        signer_name=customer.get_full_name(),
        comment="",
        evidence=EVIDENCE,
    )


def _tick(engagement: Engagement, actor: User, *, phase: int, prefix: str = "") -> None:
    items = engagement.checklist_items.filter(
        subphase__phase__number=phase, done=False, required=True, signoff_subject=""
    )
    if prefix:
        items = items.filter(key__startswith=prefix)
    for item in items:
        if item.applies_to(engagement):
            engagement_services.checklist_toggle(item=item, done=True, actor=actor)


def _decide(engagement: Engagement, number: int, decision: str, actor: User, note: str, at):
    phase = engagement.phases.get(number=number)
    record = engagement_services.gate_decide(phase=phase, decision=decision, actor=actor, note=note)
    # Backdate to the story's calendar (decision time only; the rows went through the gate).
    when = timezone.make_aware(dt.datetime.combine(at, dt.time(16, 0)))
    GateDecision.objects.filter(pk=record.pk).update(decided_at=when)
    if decision == GateDecision.Decision.PROCEED:
        Phase.objects.filter(pk=phase.pk).update(closed_at=when)
        Phase.objects.filter(engagement=engagement, number=number + 1).update(opened_at=when)


def demo_handoff(
    *,
    engagement: Engagement,
    architect: User,
    customer: User,
    ops: User,
    say: Callable[[str], None] = print,
) -> bool:
    """Move ``engagement`` to Handoff with realistic records; False when already done."""
    if engagement.activity.filter(verb=MARKER).exists():
        say(f"{engagement}: handoff demo already in place.")
        return False
    rollout = services.rollout_date(engagement=engagement)
    if rollout is None:
        say(f"{engagement}: no rollout date (routing not built); handoff demo skipped.")
        return False
    with transaction.atomic():
        _engineering(engagement, architect, customer, rollout)
        _enablement(engagement, architect, customer, ops, rollout)
        _handoff(engagement, architect)
        engagement_services.activity_record(
            engagement=engagement,
            actor=None,
            verb=MARKER,
            summary="Enablement and handoff demo seeded (manage.py demo)",
        )
    fired = [r.name for r in services.triggers_check(engagement=engagement) if r.fired]
    say(
        f"{engagement}: trained, hypercare extended then closed, now in Handoff with a "
        f"maintenance schedule; refinement triggers fired: {', '.join(fired) or 'none'}."
    )
    return True


def _engineering(engagement: Engagement, architect: User, customer: User, rollout) -> None:
    _sign(engagement, "engineering_qa", customer)
    _tick(engagement, architect, phase=2)
    _decide(
        engagement,
        2,
        GateDecision.Decision.PROCEED,
        architect,
        "QA suite passing and approved; routing live.",
        rollout - dt.timedelta(days=12),
    )


def _enablement(engagement, architect, customer, ops, rollout) -> None:
    services.trainings_generate(engagement=engagement, actor=architect)
    sessions = {s.audience_slug: s for s in engagement.training_sessions.all()}
    for slug, before, attendees in TRAININGS:
        session = sessions.get(slug)
        if session is None:
            continue
        services.training_update(
            session=TrainingSession.objects.get(pk=session.pk),
            values={
                "day": rollout - dt.timedelta(days=before),
                "state": TrainingSession.State.DELIVERED,
                "minutes": session.minutes or 30,
                "recording_url": f"https://recordings.bluepeak.example/territories/{slug}",
                "attendees": attendees,
                "notes": "",
            },
            actor=architect,
        )
    _tick(engagement, architect, phase=3, prefix="3a.")
    _tick(engagement, architect, phase=3, prefix="3b.")
    if not OfficeHours.objects.filter(engagement=engagement).exists():
        for offset, attendees, topics in OFFICE_HOURS:
            services.office_hours_add(
                engagement=engagement,
                values={
                    "day": rollout + dt.timedelta(days=offset),
                    "attendees": attendees,
                    "topics": topics,
                    "notes": "",
                },
                actor=architect,
            )
    top = list(
        engagement.accounts.order_by("-value").values_list("external_id", "name", "state")[:2]
    )
    issues = [
        (
            "question",
            "low",
            "Who owns partner-sourced deals in a split state?",
            "",
            "Rules of Engagement, holdover policy: the partner's named AE keeps it for 90 days.",
            9,
        ),
        (
            "bug",
            "critical",
            "Flow fails on accounts with a blank postal code",
            "",
            "Flow now falls back to the state field; unknown state goes to the RevOps queue.",
            27,
        ),
    ]
    for (external_id, name, state), offset in zip(top, (14, 21), strict=False):
        issues.append(
            (
                "misrouted",
                "high" if offset == 14 else "medium",
                f"{name} ({state}) is owned by an AE outside its territory in the CRM",
                external_id,
                "CRM owner corrected from the engine's answer; the flow had run before the "
                "named-account override was loaded.",
                offset,
            )
        )
    if not HypercareIssue.objects.filter(engagement=engagement).exists():
        for kind, severity, summary, account_id, resolution, offset in issues:
            issue = services.issue_report(
                engagement=engagement,
                values={
                    "kind": kind,
                    "severity": severity,
                    "summary": summary,
                    "account_id": account_id,
                    "reported_on": rollout + dt.timedelta(days=offset),
                },
                actor=customer if kind == "question" else architect,
            )
            services.issue_resolve(issue=issue, resolution=resolution, actor=architect)
        services.issue_report(
            engagement=engagement,
            values={
                "kind": "question",
                "severity": "low",
                "summary": "Can SDRs see the territory of a lead before it converts?",
                "reported_on": rollout + dt.timedelta(days=36),
            },
            actor=customer,
        )
    if not engagement.accuracy_checks.exists():
        services.accuracy_check_add(
            engagement=engagement,
            values={
                "day": rollout + dt.timedelta(days=20),
                "sampled": 60,
                "correct": 57,
                "note": "Sampled in Salesforce: accounts created in the second and third week.",
            },
            actor=ops,
        )
    # Day 28: one misrouted account was still open, so the gate extends hypercare.
    _tick(engagement, architect, phase=3, prefix="3c.")
    _decide(
        engagement,
        3,
        GateDecision.Decision.EXTEND_HYPERCARE,
        architect,
        "A misrouted holding company is still open; two more weeks of office hours.",
        rollout + dt.timedelta(days=28),
    )
    _tick(engagement, architect, phase=3, prefix="3d.")
    # The text the portal builds from the records above (sessions, assets, the extended window).
    version = services.enablement_publish(engagement=engagement, actor=architect)
    _sign(engagement, version.subject, customer)
    _decide(
        engagement,
        3,
        GateDecision.Decision.PROCEED,
        architect,
        "Hypercare complete; team operates independently.",
        rollout + dt.timedelta(days=44),
    )


def _handoff(engagement: Engagement, architect: User) -> None:
    services.maintenance_generate(engagement=engagement, actor=architect)
    first = (
        MaintenanceOccurrence.objects.filter(
            engagement=engagement, cadence="monthly", due__lte=timezone.localdate(), done=False
        )
        .order_by("due", "task_slug")
        .first()
    )
    if first is not None:
        for occurrence in MaintenanceOccurrence.objects.filter(
            engagement=engagement, due=first.due, cadence="monthly"
        ):
            services.maintenance_done(
                occurrence=occurrence,
                findings={
                    "account-loading-review": "118 new accounts, 3 routed to the fallback queue "
                    "(blank postal code): 2.5 %, under the 5 % red flag.",
                    "object-hygiene": "One AE left in week 3; the territory moved to the new hire "
                    "the same day. No departed rep left in the object.",
                    "routing-spot-check": "20 leads sampled through the flow, 20 correct.",
                }.get(occurrence.task_slug, "Checked; nothing to report."),
                red_flag_hit=False,
                actor=architect,
            )
    _tick(engagement, architect, phase=4, prefix="4a.")
    services.handoff_notes_save(
        engagement=engagement,
        text=(
            "Texas is split by ZIP area between Dallas and Houston territories: the VP Sales "
            "negotiated that line, any change goes through him. Partner-sourced deals follow the "
            "holdover policy (90 days). Bea Bluepeak is the day-to-day contact and decides small "
            "changes; Theo Grant signs anything structural."
        ),
        actor=architect,
    )
    services.debrief_save(
        engagement=engagement,
        values={
            "went_well": "Two balancing rounds were enough; the ZIP-area split of Texas and "
            "California settled the biggest dispute before the map was signed.",
            "improve": "Start the partner-ownership rules in Strategy, not in hypercare: two of "
            "five issues came from partner deals.",
            "lessons": "Add a blank-postal-code case to the standard QA suite.",
        },
        actor=architect,
    )
