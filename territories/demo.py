"""Demo data of the territories app (called by ``manage.py demo``).

Every step replaces its own data, so running the demo twice gives the same state: the account
file is imported through the real import pipeline (an ``AccountImport`` row, validation,
upsert, valuation), the ICP matrix and segments are set through the services, and the roster
is rebuilt from the synthetic universe's owners.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from dataclasses import replace
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from engagements.models import Engagement, User
from territories import geo, segments, services, tiers, valuation
from territories.models import Account, AccountImport, PlannedHire, Rep, SalesRole, TierRule
from territories.synthetic import OWNERS_BY_REGION, STRATEGIC_OWNER, generate_accounts

DEMO_FILE = "crm-accounts-export.csv"

# Northwind sells analytics software: its customers cluster in data-heavy industries.
CORE_INDUSTRIES = ("Software", "Financial Services", "Healthcare")
ADJACENT_INDUSTRIES = (*CORE_INDUSTRIES, "Manufacturing", "Professional Services", "Retail")
V0_MATRIX: list[tuple[str, str, list[tiers.Condition]]] = [
    (
        "T1",
        "Core industries, mid-size and up",
        [
            tiers.Condition("industry", "in", CORE_INDUSTRIES),
            tiers.Condition("employees", "gte", 250),
        ],
    ),
    (
        "T1",
        "High growth signal, large",
        [
            tiers.Condition("custom:growth_signal", "eq", "high"),
            tiers.Condition("employees", "gte", 1000),
        ],
    ),
    (
        "T2",
        "Adjacent industries",
        [
            tiers.Condition("industry", "in", ADJACENT_INDUSTRIES),
            tiers.Condition("employees", "gte", 50),
        ],
    ),
    ("T3", "Any company of 20+ people", [tiers.Condition("employees", "gte", 20)]),
]
THREE_SEGMENTS = segments.SegmentScheme(
    basis="annual_revenue",
    bands=(
        segments.Band("Enterprise", 1e9, True),
        segments.Band("Mid-Market", 1e8, True),
        segments.Band("SMB"),
    ),
)


def demo_accounts(
    *, engagement: Engagement, n: int, seed: int, id_prefix: str, actor: User | None = None
) -> AccountImport:
    """Give ``engagement`` exactly the ``n`` synthetic accounts of ``seed``, imported from a CSV
    file through the import pipeline (idempotent: the previous demo import is replaced)."""
    frame = generate_accounts(n, seed=seed, id_prefix=id_prefix)
    frame["is_customer"] = frame["is_customer"].map({True: "yes", False: "no"})
    for old in AccountImport.objects.filter(engagement=engagement, original_name=DEMO_FILE):
        old.file.delete(save=False)
        if old.errors_file:
            old.errors_file.delete(save=False)
        old.delete()
    # A smaller --accounts on a second run leaves no accounts from the first one behind.
    wanted = set(frame["external_id"])
    existing = Account.objects.filter(engagement=engagement).values_list("external_id", flat=True)
    stale = sorted(set(existing) - wanted)
    for start in range(0, len(stale), 500):
        Account.objects.filter(
            engagement=engagement, external_id__in=stale[start : start + 500]
        ).delete()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / DEMO_FILE
        frame.to_csv(path, index=False)
        upload = SimpleUploadedFile(DEMO_FILE, path.read_bytes(), content_type="text/csv")
    record = services.account_import_create(engagement=engagement, upload=upload, user=actor)
    return services.account_import_run(account_import=record, user=actor)


def demo_model(*, engagement: Engagement, actor: User | None, three_segments: bool) -> None:
    """Segments, the v0 ICP tier matrix and the valuation parameters (replaced each run)."""
    scheme = THREE_SEGMENTS if three_segments else segments.DEFAULT_SCHEME
    services.segment_definition_update(engagement=engagement, scheme=scheme, actor=actor)
    TierRule.objects.filter(engagement=engagement).delete()
    for tier, name, conditions in V0_MATRIX:
        services.tier_rule_save(
            engagement=engagement,
            rule=None,
            tier=tier,
            name=name,
            conditions=conditions,
            actor=actor,
        )
    services.valuation_settings_update(
        engagement=engagement,
        params=valuation.ValuationParams(),
        actor=actor,
    )


def demo_team(*, engagement: Engagement, actor: User | None, segment_labels: list[str]) -> None:
    """The roster from the synthetic universe's owners, and three planned hires."""
    Rep.objects.filter(engagement=engagement).delete()
    PlannedHire.objects.filter(engagement=engagement).delete()
    today = dt.date.today()
    top, *rest = segment_labels
    smaller = rest or [top]
    ramp_cycle = [Rep.RampState.RAMPED, Rep.RampState.RAMPED, Rep.RampState.RAMPING]
    homes = {"West": "CA", "Central": "IL", "South": "TX", "East": "NY"}
    index = 0
    for region, names in OWNERS_BY_REGION.items():
        for name in names:
            ramp = ramp_cycle[index % len(ramp_cycle)]
            months = 30 if ramp == Rep.RampState.RAMPED else 7
            services.rep_save(
                rep=Rep(
                    engagement=engagement,
                    name=name,
                    role=SalesRole.AE,
                    segment=smaller[index % len(smaller)],
                    ramp_state=ramp,
                    home_region=region,
                    home_state=homes[region],
                    start_date=today - dt.timedelta(days=30 * months + 11 * index),
                ),
                actor=actor,
            )
            index += 1
    services.rep_save(
        rep=Rep(
            engagement=engagement,
            name=STRATEGIC_OWNER,
            role=SalesRole.AE,
            segment=top,
            ramp_state=Rep.RampState.SENIOR,
            home_region="East",
            home_state="NY",
            start_date=today - dt.timedelta(days=6 * 365),
        ),
        actor=actor,
    )
    services.rep_save(
        rep=Rep(
            engagement=engagement,
            name="Priya Natarajan",
            role=SalesRole.SE,
            segment=top,
            ramp_state=Rep.RampState.RAMPED,
            home_region="West",
            home_state="CA",
            start_date=today - dt.timedelta(days=3 * 365),
        ),
        actor=actor,
    )
    hires = [
        ("AE West #4", smaller[0], "West", "CA", 45),
        ("AE South #4", smaller[-1], "South", "TX", 120),
        (f"AE {top} #2", top, "East", "NY", 210),
    ]
    for title, segment, region, state, days in hires:
        services.hire_save(
            hire=PlannedHire(
                engagement=engagement,
                title=title,
                role=SalesRole.AE,
                segment=segment,
                home_region=region,
                home_state=state,
                start_date=today + dt.timedelta(days=days),
            ),
            actor=actor,
        )


def demo_territories(
    *,
    engagement: Engagement,
    n: int,
    seed: int,
    id_prefix: str,
    actor: User,
    approver: User,
    three_segments: bool,
    approve: bool,
) -> AccountImport:
    """The whole territories demo of one engagement; returns the import.

    ``manage.py demo`` runs the two halves around the engagement lifecycle demo instead
    (``demo_universe`` first, ``demo_agreements`` after the meetings exist)."""
    record = demo_universe(
        engagement=engagement,
        n=n,
        seed=seed,
        id_prefix=id_prefix,
        actor=actor,
        three_segments=three_segments,
    )
    demo_agreements(engagement=engagement, architect=actor, approver=approver, approve=approve)
    return record


def demo_universe(
    *,
    engagement: Engagement,
    n: int,
    seed: int,
    id_prefix: str,
    actor: User,
    three_segments: bool,
) -> AccountImport:
    """Segments, tier rules and valuation settings, the imported accounts, and the team."""
    demo_model(engagement=engagement, actor=actor, three_segments=three_segments)
    record = demo_accounts(engagement=engagement, n=n, seed=seed, id_prefix=id_prefix, actor=actor)
    labels = services.segment_definition_get(engagement=engagement).scheme().labels
    demo_team(engagement=engagement, actor=actor, segment_labels=labels)
    return record


def _meeting(engagement: Engagement, *, kind: str, name: str, days_ago: int, actor: User | None):
    """The demo's meeting of ``kind`` (reused when one exists, so reruns add none)."""
    from django.utils import timezone

    from engagements.models import Meeting

    meeting = Meeting.objects.filter(engagement=engagement, kind=kind).order_by("pk").first()
    if meeting is None:
        meeting = Meeting.objects.create(
            engagement=engagement,
            kind=kind,
            kind_name=name,
            title=name,
            subphase="1c",
            scheduled_at=timezone.now() - dt.timedelta(days=days_ago),
            status=Meeting.Status.HELD,
            created_by=actor,
        )
    return meeting


def demo_agreements(
    *, engagement: Engagement, architect: User, approver: User, approve: bool
) -> None:
    """The ICP matrix and segments confirmed in the ICP/TAM workshop, the valuation approach in
    the valuation review; both published for sign-off and, with ``approve``, signed by the
    customer approver. Idempotent: confirmed stays confirmed, a signed version stays signed."""
    from engagements.models import Assumption
    from engagements.services import (
        SignoffClosed,
        SignoffEvidence,
        assumption_decide,
        signoff_decide,
    )

    workshop = _meeting(
        engagement, kind="icp_tam_workshop", name="ICP/TAM Workshop", days_ago=12, actor=architect
    )
    review = _meeting(
        engagement, kind="valuation_review", name="Valuation Review", days_ago=5, actor=architect
    )
    decisions = {
        services.SEGMENTS_KEY: workshop,
        **dict.fromkeys(services.TIER_KEYS.values(), workshop),
        **{
            services.VALUATION_KEYS[name]: review
            for name in ("method", "statistic", "hedge_factor", "expansion_factor", "min_customers")
        },
    }
    states = services.assumption_states(engagement=engagement)
    for key, meeting in decisions.items():
        assumption = states.get(key)
        if assumption is not None and assumption.state == Assumption.State.ASSUMED:
            assumption_decide(
                assumption=assumption,
                decision="confirm",
                meeting=meeting,
                actor=architect,
                note="Agreed with the VP Sales and RevOps.",
            )
    # Corrections made in the meetings (e.g. the hedge factor) change the values: re-value so
    # the published methodology and every account's value agree.
    if services.valuation_is_stale(
        engagement=engagement,
        summary=services.ValuationSummary.objects.filter(engagement=engagement).first(),
    ):
        services.accounts_revalue(engagement=engagement)
    for subject in (services.ICP_SUBJECT, services.METHODOLOGY_SUBJECT):
        version = services.territories_publish(
            engagement=engagement, subject=subject, actor=architect
        )
        if not approve:
            continue
        with contextlib.suppress(SignoffClosed):  # signed on an earlier run
            signoff_decide(
                version=version,
                decision="approved",
                signer=approver,
                signer_name=approver.get_full_name() or approver.username,
                comment="",
                evidence=SignoffEvidence("127.0.0.1", "demo seed", "demo seed"),
            )


def demo_design(
    *,
    engagement: Engagement,
    architect: User,
    approver: User,
    split: dict[str, str],
    elsewhere: str | None = None,
    balance: bool,
) -> list:
    """Territory design for the demo.

    Always: the hierarchy (named accounts, size segment, state) with seats from the roster.
    Without ``balance`` (an engagement whose design gate is still closed): the states in
    ``split`` cut below state level in every geographic pod — the split proposal accepted —
    (and every other state by ``elsewhere`` when given), and the hierarchy published for the
    customer's sign-off. With ``balance``: a first run at state level shown in the first
    balancing review, the split, a second run (from scratch) shown in the second review,
    approved as the territory map; the hierarchy and the map signed by the
    customer approver; the growth plan of the planned hires.

    Idempotent: the engagement's hierarchy and runs are rebuilt each time (same inputs and seed
    give the same assignment, so the published texts match and their signatures stand).
    Returns the runs.
    """
    from engagements.services import SignoffClosed, SignoffEvidence, signoff_decide
    from territories import design
    from territories.models import BalancingRun, Hierarchy

    if not Account.objects.filter(engagement=engagement).exists():
        return []
    BalancingRun.objects.filter(engagement=engagement).delete()
    Hierarchy.objects.filter(engagement=engagement).delete()
    design.hierarchy_seats_from_roster(engagement=engagement, actor=architect)
    spec = design.hierarchy_spec(engagement=engagement)
    design.hierarchy_save(
        engagement=engagement,
        spec=replace(spec, cuts=("named_accounts", "segment", "state")),
        actor=architect,
        summary="Hierarchy v1",
    )
    design.plan_assumptions_sync(engagement=engagement, actor=architect)
    runs = []
    if balance:
        review = _meeting(
            engagement,
            kind="balancing_review",
            name="Balancing Review 1",
            days_ago=3,
            actor=architect,
        )
        runs.append(_demo_run(engagement, architect, name="state level"))
        design.run_link_meeting(run=runs[0], meeting=review, shown=True, actor=architect)
    # California (and the like) are too big for one territory: accept the split proposal.
    for pod in design.hierarchy_spec(engagement=engagement).pods:
        if pod.atom != "unit":
            continue
        for state, granularity in split.items():
            design.split_accept(
                engagement=engagement,
                pod_key=pod.key,
                state=state,
                granularity=granularity,
                actor=architect,
            )
    if elsewhere:
        # Every other state of the geographic pods by ``elsewhere`` (one save).
        spec = design.hierarchy_spec(engagement=engagement)
        pods = tuple(
            replace(
                pod,
                granularity_by_state={
                    state: pod.granularity_by_state.get(state, elsewhere) for state in geo.STATES
                },
            )
            if pod.atom == "unit"
            else pod
            for pod in spec.pods
        )
        design.hierarchy_save(
            engagement=engagement,
            spec=replace(spec, pods=pods),
            actor=architect,
            summary=f"Every other state split by {elsewhere}",
        )
    versions = [design.hierarchy_publish(engagement=engagement, actor=architect)]
    if not balance:
        return runs
    name = ", ".join(f"{state} by {granularity}" for state, granularity in split.items())
    if elsewhere:
        name += f", other states by {elsewhere}"
    runs.append(_demo_run(engagement, architect, name=name, continuity=False))
    design.run_link_meeting(
        run=runs[1], meeting=_second_review(engagement, architect), shown=True, actor=architect
    )
    versions.append(design.run_approve(run=runs[1], actor=architect))
    design.growth_plan_compute(run=runs[1])
    design.rebalancing_plan_compute(run=runs[1])
    for version in versions:
        with contextlib.suppress(SignoffClosed):  # signed on an earlier run of the demo
            signoff_decide(
                version=version,
                decision="approved",
                signer=approver,
                signer_name=approver.get_full_name() or approver.username,
                comment="",
                evidence=SignoffEvidence("127.0.0.1", "demo seed", "demo seed"),
            )
    return runs


def _second_review(engagement: Engagement, architect: User):
    """The second balancing review (the first is reused by kind)."""
    from django.utils import timezone

    from engagements.models import Meeting

    reviews = list(
        Meeting.objects.filter(engagement=engagement, kind="balancing_review").order_by(
            "scheduled_at", "pk"
        )
    )
    if len(reviews) >= 2:
        return reviews[1]
    return Meeting.objects.create(
        engagement=engagement,
        kind="balancing_review",
        kind_name="Balancing Review",
        title="Balancing Review 2",
        subphase="1c",
        scheduled_at=timezone.now() - dt.timedelta(days=1),
        status=Meeting.Status.HELD,
        created_by=architect,
    )


def _demo_run(engagement: Engagement, architect: User, *, name: str, continuity: bool = True):
    """A run executed in-process (the demo needs no worker)."""
    from django.db.models import Max

    from territories import design
    from territories.models import BalancingRun

    hierarchy = design.hierarchy_get(engagement=engagement)
    spec = design.hierarchy_spec(engagement=engagement, hierarchy=hierarchy)
    number = (engagement.balancing_runs.aggregate(m=Max("number"))["m"] or 0) + 1
    run = BalancingRun.objects.create(
        engagement=engagement,
        number=number,
        name=name,
        params=design.RunParams(seed=7, continuity=continuity).as_dict(),
        hierarchy=spec.to_json(),
        named_accounts=list(hierarchy.named_accounts),
        created_by=architect,
    )
    return design.balancing_run_execute(run=run)
