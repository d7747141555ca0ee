"""Demo data of the engagement lifecycle (called by ``engagements.demo.demo_seed``).

Northwind sits mid-Strategy: pre-kickoff done, kickoff and the ICP/TAM workshop held with
feedback, assumptions in every state, the intake form submitted with a customer list built from
its own accounts, and the Definition Alignment Document partly signed (one term declined, then
revised and approved). Bluepeak sits in Engineering: Strategy closed through its gate with every
sign-off, the tech spec and engineering handoff done, the build under way.

Everything goes through the services, as a user would. Sign-off records are evidence and can
never be deleted, so the step runs once per engagement (an activity line marks it done) and is
skipped on later runs: idempotent, and deterministic for a fresh database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from engagements import services
from engagements.models import (
    Assumption,
    Engagement,
    GateDecision,
    IntakeForm,
    Meeting,
    Phase,
    SignoffRecord,
    Stakeholder,
    User,
)
from territories.models import Account

MARKER = "demo.lifecycle"
DEMO_EVIDENCE = services.SignoffEvidence(
    ip_address="",
    user_agent="manage.py demo",
    auth_method="demo data: seeded by manage.py demo, not a real sign-in",
)


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _tick(engagement: Engagement, actor: User, keys: list[str], note: str = "") -> None:
    for item in engagement.checklist_items.filter(key__in=keys, done=False):
        services.checklist_toggle(item=item, done=True, actor=actor, note=note or None)


def _tick_phase(engagement: Engagement, actor: User, number: int) -> None:
    """Tick every required, applicable, hand-ticked item of a phase (signed items follow
    their sign-offs)."""
    items = engagement.checklist_items.filter(
        subphase__phase__number=number, done=False, required=True, signoff_subject=""
    )
    for item in items:
        if item.applies_to(engagement):
            services.checklist_toggle(item=item, done=True, actor=actor)


def _meeting(
    engagement: Engagement,
    architect: User,
    kind: str,
    day: dt.date,
    *,
    held: bool,
    attendees: list[User],
    other: str = "",
    notes: str = "",
) -> Meeting:
    meeting = services.meeting_create(
        engagement=engagement,
        kind=kind,
        scheduled_at=_at(day),
        actor=architect,
        attendees=attendees,
        other_attendees=other,
    )
    if held:
        services.meeting_update(
            meeting=meeting,
            actor=architect,
            changes={"status": Meeting.Status.HELD, "notes": notes},
        )
    return meeting


def _register(engagement: Engagement, architect: User, rows: list[tuple]) -> dict[str, Assumption]:
    out = {}
    for key, category, statement, value, blocking in rows:
        out[key] = services.assumption_register(
            engagement=engagement,
            key=key,
            category=category,
            statement=statement,
            value=value,
            blocking=blocking,
            source="",
            actor=architect,
        )
    return out


def _customer_list_csv(engagement: Engagement, limit: int = 400) -> bytes:
    """The customer list the customer would export from their CRM: their existing customers
    with contract values (from the demo's own accounts, so the numbers agree)."""
    rows = list(
        Account.objects.filter(
            engagement=engagement, is_customer=True, contract_value__isnull=False
        )
        .order_by("external_id")
        .values_list("name", "domain", "industry", "contract_value")[:limit]
    )
    if not rows:
        # An empty universe (demo --accounts 0): a short fixed list keeps the intake complete.
        rows = [
            (f"Customer {i:02d}", f"customer{i:02d}.example", "Software", 25_000 + 7_500 * i)
            for i in range(1, 13)
        ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Account name", "Website", "Industry", "ACV"])
    for name, domain, industry, value in rows:
        writer.writerow([name, domain, industry, f"{value:.0f}"])
    return out.getvalue().encode()


def _intake(engagement: Engagement, customer: User, values: dict) -> None:
    intake = IntakeForm.objects.get_or_create(engagement=engagement)[0]
    services.intake_save(intake=intake, values=values, actor=customer)
    services.intake_upload(
        engagement=engagement,
        uploaded=SimpleUploadedFile(
            "crm-customers-export.csv", _customer_list_csv(engagement), "text/csv"
        ),
        actor=customer,
        max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES,
    )
    services.intake_submit(intake=intake, actor=customer)


def _sign(version, customer: User, *, approve: bool = True, comment: str = "") -> SignoffRecord:
    return services.signoff_decide(
        version=version,
        decision="approved" if approve else "declined",
        signer=customer,
        signer_name=customer.get_full_name(),
        comment=comment,
        evidence=DEMO_EVIDENCE,
    )


def _hours(engagement: Engagement, user: User, start: dt.date, entries: list[tuple]) -> None:
    for offset, hours, phase, note in entries:
        services.hours_log(
            engagement=engagement,
            user=user,
            date=start + dt.timedelta(days=offset),
            hours=Decimal(str(hours)),
            phase_number=phase,
            note=note,
        )


def _stakeholders(engagement: Engagement, architect: User, people: list[tuple]) -> None:
    for name, title, email, decision, daily, influence, notes in people:
        services.stakeholder_save(
            stakeholder=Stakeholder(
                engagement=engagement,
                name=name,
                title=title,
                email=email,
                decision_maker=decision,
                day_to_day=daily,
                influence=influence,
                notes=notes,
            ),
            actor=architect,
        )


def _set_start(engagement: Engagement, start: dt.date) -> None:
    Engagement.objects.filter(pk=engagement.pk).update(start_date=start)
    engagement.start_date = start
    Phase.objects.filter(engagement=engagement, number=1).update(opened_at=_at(start, 9))


@transaction.atomic
def demo_northwind(*, engagement: Engagement, users: dict[str, User], today: dt.date) -> None:
    architect, customer, viewer = users["architect"], users["customer"], users["viewer"]
    start = today - dt.timedelta(days=38)
    _set_start(engagement, start)
    _stakeholders(
        engagement,
        architect,
        [
            (
                "Dana Whitfield",
                "VP Sales",
                "dana@northwind.example",
                True,
                False,
                "high",
                "Owns the final territory sign-off with the CRO.",
            ),
            (
                "Carla Customer",
                "Director of RevOps",
                "carla@northwind.example",
                False,
                True,
                "medium",
                "Approver in the portal; runs the CRM exports.",
            ),
            (
                "Morgan Lee",
                "CRO",
                "morgan@northwind.example",
                True,
                False,
                "high",
                "Joins the final review only.",
            ),
            (
                "Sam Ortiz",
                "Sales Director, West",
                "sam@northwind.example",
                False,
                False,
                "medium",
                "Skeptical of splitting California; bring the numbers.",
            ),
        ],
    )
    # 1a: Track A sent and done by the customer, Track B prep by the architect.
    _tick(engagement, architect, ["1a.send.video", "1a.send.dad", "1a.send.intake", "1a.follow_up"])
    _tick(engagement, customer, ["1a.a.video", "1a.a.sponsor"])
    _intake(
        engagement,
        customer,
        {
            "current_definitions": "Enterprise is $1B+ annual revenue, Commercial is below $1B. Named accounts: 40 strategic logos owned by two senior AEs.",
            "assignment_logic": "mixed",
            "assignment_details": "Inbound leads round robin within region; outbound by state lists kept in a spreadsheet; named accounts by hand.",
            "org_ae": 14,
            "org_sdr": 6,
            "org_se": 3,
            "org_csm": 5,
            "org_am": 2,
            "org_notes": "Two regional directors (West, East) report to Dana Whitfield, VP Sales. SDRs report to a single SDR manager.",
            "headcount_trajectory": "4 AEs in H1, 3 in H2; 2 SDRs per quarter. A Central region is planned once we pass 20 AEs.",
            "planned_hires_12m": 11,
            "fiscal_year_start": engagement.fiscal_year_start,
            "has_partners": "no",
            "partner_details": "",
            "pain_points": "California is split between three reps by hand and nobody knows who owns new accounts; enterprise reps have 30 accounts while commercial reps have 400; disputes go to the VP weekly.",
        },
    )
    _tick(
        engagement,
        architect,
        [
            "1a.b.crm",
            "1a.b.clay",
            "1a.b.icp",
            "1a.b.valuation",
            "1a.b.assessment",
            "1a.b.kickoff_assets",
            "1a.b.wide_tam",
            "1a.b.assumed",
        ],
    )
    prep = _register(
        engagement,
        architect,
        [
            (
                "tam.approach",
                "tam",
                "Light ICP/TAM: the TAM is wide, so we focus on valuation rather than criteria research",
                "light",
                True,
            ),
            (
                "valuation.statistic",
                "valuation",
                "Segment-tier benchmark is the median contract value of existing customers",
                "median",
                False,
            ),
            (
                "valuation.hedge_factor",
                "valuation",
                "Prospects are valued at 0.6 × the segment-tier benchmark",
                0.6,
                True,
            ),
            (
                "icp.t1_criteria",
                "icp_tiers",
                "T1: Software or Fintech with 500+ employees",
                {"industry_in": ["Software", "Fintech"], "employees_gte": 500},
                False,
            ),
            (
                "icp.t3_floor",
                "icp_tiers",
                "Accounts under 20 employees are unqualified (no tier)",
                20,
                False,
            ),
            (
                "geography.split_states",
                "geography",
                "California and New York are split below state level (3-digit zip)",
                ["CA", "NY"],
                True,
            ),
            (
                "hierarchy.cut_order",
                "hierarchy",
                "Cut order: named accounts, size segment, region, state",
                ["named", "segment", "region", "state"],
                False,
            ),
            (
                "coverage.accounts_per_ramped_ae",
                "coverage",
                "A ramped AE covers 25 accounts",
                25,
                False,
            ),
        ],
    )
    kickoff = _meeting(
        engagement,
        architect,
        "kickoff",
        start + dt.timedelta(days=9),
        held=True,
        attendees=[architect, customer, viewer],
        other="Dana Whitfield, VP Sales",
        notes="Walked through v0 tiers and valuation. Dana wants enterprise at $500M: their largest deals start there. Light ICP confirmed. Customer list received before the call.",
    )
    _tick(
        engagement,
        architect,
        [
            "1b.bring.v0",
            "1b.bring.assessment",
            "1b.bring.questions",
            "1b.bring.dad",
            "1b.leave.tam",
            "1b.leave.valuation",
            "1b.leave.segments",
            "1b.leave.workshop",
        ],
    )
    services.assumption_decide(
        assumption=prep["tam.approach"], decision="confirm", meeting=kickoff, actor=architect
    )
    services.assumption_decide(
        assumption=prep["valuation.statistic"], decision="confirm", meeting=kickoff, actor=architect
    )
    services.assumption_decide(
        assumption=prep["valuation.hedge_factor"],
        decision="correct",
        meeting=kickoff,
        actor=architect,
        value=0.5,
        note="Dana: prospects close at about half the rate of expansions.",
    )
    threshold = engagement.assumptions.get(key="segments.enterprise_threshold")
    # The definitions went out pre-filled with the assumed $1B line; Carla declines Enterprise,
    # the kickoff corrects the threshold, and the revised terms go out as version 2.
    v1 = {
        v.subject: v for v in services.definitions_publish(engagement=engagement, actor=architect)
    }
    for slug in (
        "territory",
        "named-account",
        "account-value",
        "territory-balance",
        "segmentation-hierarchy",
        "icp-tier",
    ):
        _sign(v1[f"definitions:{slug}"], customer)
    _sign(
        v1["definitions:enterprise"],
        customer,
        approve=False,
        comment="Our enterprise line is $500M, not $1B.",
    )
    services.assumption_decide(
        assumption=threshold,
        decision="correct",
        meeting=kickoff,
        actor=architect,
        value=500_000_000,
        note="Enterprise starts at $500M annual revenue.",
    )
    v2 = {
        v.subject: v
        for v in services.definitions_publish(
            engagement=engagement, actor=architect, slugs=["enterprise", "commercial"]
        )
    }
    _sign(v2["definitions:enterprise"], customer)
    list_item = services.feedback_add(
        meeting=kickoff,
        text="Send the CRM export of current customers with ACV before the workshop",
        actor=architect,
        owner=customer,
        document="valuation-spreadsheet",
    )
    services.feedback_set_status(item=list_item, status="applied", actor=architect)
    services.feedback_add(
        meeting=kickoff,
        text="Prepare a Mid-Market option for the hierarchy review (between $50M and $500M)",
        actor=architect,
        owner=architect,
        document="hierarchy-diagram",
    )
    workshop = _meeting(
        engagement,
        architect,
        "icp_tam_workshop",
        start + dt.timedelta(days=23),
        held=True,
        attendees=[architect, customer],
        other="Dana Whitfield, VP Sales",
        notes="T1 confirmed as Software/Fintech 500+. No floor for T3: every account gets a tier. Question open on Healthcare IT.",
    )
    services.assumption_decide(
        assumption=prep["icp.t1_criteria"], decision="confirm", meeting=workshop, actor=architect
    )
    services.assumption_decide(
        assumption=prep["icp.t3_floor"],
        decision="reject",
        meeting=workshop,
        actor=architect,
        note="Every account gets a tier; unqualified only by industry.",
    )
    services.feedback_add(
        meeting=workshop,
        text="Check whether Healthcare IT belongs in T1: three of the top ten customers are there",
        actor=architect,
        owner=architect,
        assumption=prep["icp.t1_criteria"],
    )
    fb = services.feedback_add(
        meeting=workshop,
        text="Value multi-year contracts on ARR instead of ACV",
        actor=architect,
        owner=customer,
        assumption=prep["valuation.statistic"],
    )
    services.feedback_set_status(item=fb, status="wont_do", actor=architect)
    _meeting(
        engagement,
        architect,
        "valuation_review",
        today + dt.timedelta(days=3),
        held=False,
        attendees=[architect, customer],
        other="Dana Whitfield, VP Sales",
    )
    _hours(
        engagement,
        architect,
        start,
        [
            (1, 6, 1, "CRM pull and Clay setup"),
            (2, 7.5, 1, "v0 ICP matrix"),
            (4, 6, 1, "v0 valuation"),
            (6, 5, 1, "Current-state assessment"),
            (8, 4, 1, "Kickoff deck and questions"),
            (9, 3, 1, "Kickoff call"),
            (12, 4.5, 1, "Definitions v2, feedback"),
            (20, 5, 1, "Workshop prep"),
            (23, 3, 1, "ICP/TAM workshop"),
            (30, 6, 1, "Valuation model v1"),
        ],
    )


DEMO_SIGNOFF_TEXTS = {
    "icp_matrix": (
        "ICP tier matrix",
        "T1: Logistics or Manufacturing, 1,000+ employees, US.\nT2: Logistics or Manufacturing, 200-999 employees; Retail 1,000+.\nT3: every other account in the target industries.\nUnqualified: outside the target industries.\nFirst matching rule wins.",
    ),
    "valuation_methodology": (
        "Valuation methodology",
        "Customers: current ACV plus expansion potential (median expansion of the segment-tier).\nProspects: median contract value of existing customers in the same segment and tier, times a hedge factor of 0.55.\nSegments: Enterprise $750M+ annual revenue, Commercial below.",
    ),
    "hierarchy": (
        "Segmentation hierarchy",
        "Cut order: 1. named accounts (18 logos), 2. size segment (Enterprise / Commercial), 3. region (West, Central, East), 4. state; California and Texas split by 3-digit zip.\nPods: Enterprise 4 seats, Commercial 7 seats.",
    ),
    "territory_map": (
        "Balanced territory map",
        "11 territories in 2 pods. Account count and total value of every territory within ±10 % of its pod mean; no account above 25 % of its territory's value. Growth-ready cuts documented for hires 12 and 13.",
    ),
}


@transaction.atomic
def demo_bluepeak(*, engagement: Engagement, users: dict[str, User], today: dt.date) -> None:
    architect, engineer, customer = users["architect"], users["engineer"], users["customer2"]
    start = today - dt.timedelta(days=96)
    _set_start(engagement, start)
    Engagement.objects.filter(pk=engagement.pk).update(
        hierarchy_complexity="complex", partner_complexity=True
    )
    engagement.refresh_from_db()
    _stakeholders(
        engagement,
        architect,
        [
            (
                "Bea Bluepeak",
                "VP Revenue Operations",
                "bea@bluepeak.example",
                True,
                True,
                "high",
                "Approver and day-to-day contact.",
            ),
            (
                "Theo Grant",
                "CRO",
                "theo@bluepeak.example",
                True,
                False,
                "high",
                "Signed off the territory map.",
            ),
        ],
    )
    _intake(
        engagement,
        customer,
        {
            "current_definitions": "Enterprise is $750M+ annual revenue; everything else Commercial. 18 named logos.",
            "assignment_logic": "geographic",
            "assignment_details": "By state lists per rep, edited in Salesforce by RevOps.",
            "org_ae": 11,
            "org_sdr": 4,
            "org_se": 2,
            "org_csm": 4,
            "org_am": 0,
            "org_notes": "One sales director per pod; SEs shared.",
            "headcount_trajectory": "2 AEs per half-year; a Central pod in FY2028.",
            "planned_hires_12m": 4,
            "fiscal_year_start": engagement.fiscal_year_start,
            "has_partners": "yes",
            "partner_details": "Two freight-software resellers source about 15 % of new business.",
            "pain_points": "Partner-sourced deals collide with direct reps; Texas is one territory.",
        },
    )
    for kind, offset in (
        ("kickoff", 8),
        ("icp_tam_workshop", 15),
        ("valuation_review", 22),
        ("hierarchy_review", 30),
        ("balancing_review", 38),
        ("balancing_review", 47),
        ("final_review", 58),
    ):
        _meeting(
            engagement,
            architect,
            kind,
            start + dt.timedelta(days=offset),
            held=True,
            attendees=[architect, customer],
        )
    for assumption in engagement.assumptions.all():
        services.assumption_decide(
            assumption=assumption,
            decision="confirm",
            meeting=engagement.meetings.get(kind="kickoff"),
            actor=architect,
        )
    services.assumption_decide(
        assumption=engagement.assumptions.get(key="segments.enterprise_threshold"),
        decision="correct",
        meeting=engagement.meetings.get(kind="kickoff"),
        actor=architect,
        value=750_000_000,
        note="Bluepeak's enterprise line is $750M.",
    )
    for version in services.definitions_publish(engagement=engagement, actor=architect):
        _sign(version, customer)
    for subject, (title, text) in DEMO_SIGNOFF_TEXTS.items():
        _sign(
            services.signoff_publish(
                engagement=engagement, subject=subject, title=title, text=text, actor=architect
            ),
            customer,
        )
    _tick_phase(engagement, architect, 1)
    services.gate_decide(
        phase=engagement.phases.get(number=1),
        decision=GateDecision.Decision.PROCEED,
        actor=architect,
        note="Territories locked; CRO signed the map.",
    )
    closed_at = _at(start + dt.timedelta(days=60), 16)
    Phase.objects.filter(engagement=engagement, number=1).update(closed_at=closed_at)
    Phase.objects.filter(engagement=engagement, number=2).update(opened_at=closed_at)
    GateDecision.objects.filter(engagement=engagement, decision="proceed").update(
        decided_at=closed_at
    )
    # Engineering: spec and handoff done, build half way.
    _tick(
        engagement,
        architect,
        [
            "2a.fields",
            "2a.schema",
            "2a.flow",
            "2a.edge_cases",
            "2a.approach",
            "2a.out.schema",
            "2a.out.flow",
            "2a.out.edge",
            "2a.out.sequence",
        ],
    )
    _meeting(
        engagement,
        architect,
        "engineering_handoff",
        start + dt.timedelta(days=70),
        held=True,
        attendees=[architect, engineer],
    )
    _tick(
        engagement,
        architect,
        ["2b.spec", "2b.sequence", "2b.risks", "2c.object", "2c.layout", "2c.records", "2c.flow"],
    )
    _hours(
        engagement,
        architect,
        start,
        [
            (o, h, 1, n)
            for o, h, n in (
                (2, 8, "Prep"),
                (8, 3, "Kickoff"),
                (15, 6, "ICP workshop"),
                (22, 7, "Valuation"),
                (30, 8, "Hierarchy"),
                (38, 9, "Balancing 1"),
                (47, 8, "Balancing 2"),
                (58, 5, "Final review"),
            )
        ]
        + [(66, 6, 2, "Tech spec"), (70, 2, 2, "Engineering handoff")],
    )
    _hours(
        engagement,
        engineer,
        start,
        [(72, 7, 2, "Territory object and layout"), (75, 6.5, 2, "Records load and flow")],
    )


def demo_lifecycle(
    *,
    users: dict[str, User],
    northwind: Engagement,
    bluepeak: Engagement,
    say: Callable[[str], None],
) -> None:
    today = timezone.localdate()
    for engagement, step in ((northwind, demo_northwind), (bluepeak, demo_bluepeak)):
        if engagement.activity.filter(verb=MARKER).exists():
            say(f"{engagement}: lifecycle demo already in place.")
            continue
        step(engagement=engagement, users=users, today=today)
        services.activity_record(
            engagement=engagement,
            actor=None,
            verb=MARKER,
            summary="Demo data seeded (manage.py demo)",
        )
        say(f"{engagement}: lifecycle demo seeded.")
