"""Plain factory functions for tests: ``make_<model>(**overrides)``."""

from __future__ import annotations

import itertools

from engagements.models import CustomerOrganization, Engagement, Membership, Role, User
from territories.models import Account

_seq = itertools.count(1)


def make_org(name: str | None = None) -> CustomerOrganization:
    return CustomerOrganization.objects.create(name=name or f"Customer {next(_seq)}")


def make_user(username: str | None = None, *, org=None, staff_role: str = "", **extra) -> User:
    username = username or f"user{next(_seq)}"
    user = User.objects.create_user(
        username=username,
        password="pw-for-tests-123",
        email=f"{username}@example.com",
        organization=org,
        staff_role=staff_role,
        **extra,
    )
    return user


def make_engagement(org=None, *, name: str | None = None, **extra) -> Engagement:
    return Engagement.objects.create(
        organization=org or make_org(), name=name or f"Engagement {next(_seq)}", **extra
    )


def make_membership(engagement: Engagement, user: User, role: Role) -> Membership:
    return Membership.objects.create(engagement=engagement, user=user, role=role)


def make_account(engagement: Engagement, **fields) -> Account:
    n = next(_seq)
    defaults = {
        "external_id": f"A-{n}",
        "name": f"Account {n}",
        "state": "CA",
        "postal_code": "94105",
        "country": "US",
        "annual_revenue": 1_000_000.0,
    }
    defaults.update(fields)
    return Account.objects.create(engagement=engagement, **defaults)


def make_meeting(engagement: Engagement, **fields):
    from django.utils import timezone

    from engagements.models import Meeting

    defaults = {
        "kind": "kickoff",
        "kind_name": "Kickoff",
        "title": f"Meeting {next(_seq)}",
        "subphase": "1b",
        "scheduled_at": timezone.now(),
        "status": Meeting.Status.HELD,
    }
    defaults.update(fields)
    return Meeting.objects.create(engagement=engagement, **defaults)


CUSTOMER_LIST_CSV = (
    "Account name,ACV,Industry\n"
    "Acme Corp,120000,Software\n"
    'Globex,"$45,500",Manufacturing\n'
    "Initech,80000,Fintech\n"
)


def make_upload(engagement: Engagement, user: User, content: str = CUSTOMER_LIST_CSV):
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile

    from engagements.services import intake_upload

    return intake_upload(
        engagement=engagement,
        uploaded=SimpleUploadedFile("customers.csv", content.encode(), "text/csv"),
        actor=user,
        max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES,
    )


# --- Territory design: a valued universe, a roster, a hierarchy, runs -------------------------------


def make_universe(engagement: Engagement, *, n: int = 400, seed: int = 3):
    """``n`` synthetic accounts, valued, with three segments and a roster of the synthetic
    owners (Mid-Market and SMB alternately) plus the strategic owner on Enterprise."""
    from territories import demo, services
    from territories.models import Rep
    from territories.synthetic import OWNERS_BY_REGION, STRATEGIC_OWNER, generate_accounts

    services.segment_definition_update(
        engagement=engagement, scheme=demo.THREE_SEGMENTS, actor=None
    )
    services.accounts_upsert(engagement=engagement, frame=generate_accounts(n, seed=seed))
    services.accounts_revalue(engagement=engagement)
    homes = {"West": "CA", "Central": "IL", "South": "TX", "East": "NY"}
    index = 0
    for region, names in OWNERS_BY_REGION.items():
        for name in names:
            Rep.objects.get_or_create(
                engagement=engagement,
                name=name,
                defaults={
                    "segment": ("Mid-Market", "SMB")[index % 2],
                    "home_region": region,
                    "home_state": homes[region],
                },
            )
            index += 1
    Rep.objects.get_or_create(
        engagement=engagement,
        name=STRATEGIC_OWNER,
        defaults={"segment": "Enterprise", "ramp_state": "senior", "home_state": "NY"},
    )


def make_hierarchy(engagement: Engagement, spec=None, *, named_accounts=None):
    """Save ``spec`` (default: the roster-based starting hierarchy) as the hierarchy."""
    from territories import design

    if spec is None:
        design.hierarchy_seats_from_roster(engagement=engagement, actor=None)
        hierarchy = design.hierarchy_get(engagement=engagement)
        spec = design.hierarchy_spec(engagement=engagement, hierarchy=hierarchy)
    return design.hierarchy_save(
        engagement=engagement, spec=spec, named_accounts=named_accounts or [], actor=None
    )


def make_run(engagement: Engagement, *, user=None, **params):
    """A finished balancing run of the saved hierarchy, executed in-process (no job, and no
    design-blocker check: tests that need the check go through ``balancing_run_start``)."""
    from django.db.models import Max

    from territories import design
    from territories.models import BalancingRun

    hierarchy = design.hierarchy_get(engagement=engagement)
    if hierarchy.pk is None:
        hierarchy = make_hierarchy(engagement)
    spec = design.hierarchy_spec(engagement=engagement, hierarchy=hierarchy)
    number = (engagement.balancing_runs.aggregate(m=Max("number"))["m"] or 0) + 1
    run = BalancingRun.objects.create(
        engagement=engagement,
        number=number,
        # Test universes are small: where the band cannot be reached (a locked whale) the
        # engine searches until its time limit, so keep that at the minimum.
        params=design.RunParams(**{"time_limit": 5, **params}).as_dict(),
        hierarchy=spec.to_json(),
        named_accounts=list(hierarchy.named_accounts),
        created_by=user,
    )
    return design.balancing_run_execute(run=run)


def make_approved_run(engagement: Engagement, *, user=None, **params):
    """A finished run approved as the territory map (published for sign-off)."""
    from territories import design

    run = make_run(engagement, user=user, **params)
    design.run_approve(run=run, actor=user)
    run.refresh_from_db()
    return run


def clear_design_blockers(engagement: Engagement, approver: User) -> None:
    """Publish and sign what territory design waits for (the design-gating definitions and the
    valuation methodology), so ``balancing_run_start`` accepts a run."""
    from engagements.services import (
        SignoffEvidence,
        definitions_publish,
        signoff_decide,
        territory_design_blockers,
    )
    from territories import services

    versions = definitions_publish(engagement=engagement, actor=None)
    versions.append(
        services.territories_publish(
            engagement=engagement, subject=services.METHODOLOGY_SUBJECT, actor=None
        )
    )
    for version in versions:
        signoff_decide(
            version=version,
            decision="approved",
            signer=approver,
            signer_name="Carla Customer",
            comment="",
            evidence=SignoffEvidence("127.0.0.1", "tests", "tests"),
        )
    assert territory_design_blockers(engagement=engagement) == []
