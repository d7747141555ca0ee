"""The demo: users for every role, two customer organizations, realistic engagements.

Idempotent: users, organizations, engagements and memberships are looked up by name before
anything is created, and every app's demo step replaces its own data. Later issues add steps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from engagements.models import CustomerOrganization, Engagement, Role, User
from engagements.services import membership_set


@dataclass
class DemoLogin:
    username: str
    role: str
    sees: str


@dataclass
class DemoResult:
    engagements: list[Engagement] = field(default_factory=list)
    logins: list[DemoLogin] = field(default_factory=list)


# (username, full name, email, organization key or None, staff role)
USERS = [
    ("architect", "Ava Architect", "architect@consultancy.example", None, ""),
    ("engineer", "Eli Engineer", "engineer@consultancy.example", None, ""),
    ("manager", "Mia Manager", "manager@consultancy.example", None, User.StaffRole.MANAGER),
    ("ops", "Oscar Ops", "ops@consultancy.example", None, User.StaffRole.OPS),
    ("customer", "Carla Customer", "carla@northwind.example", "northwind", ""),
    ("viewer", "Victor Viewer", "victor@northwind.example", "northwind", ""),
    ("customer2", "Bea Bluepeak", "bea@bluepeak.example", "bluepeak", ""),
]
ORGANIZATIONS = {"northwind": "Northwind Analytics", "bluepeak": "Bluepeak Logistics"}


def _user(username: str, full_name: str, email: str, org, staff_role: str, password: str) -> User:
    first, last = full_name.split(" ", 1)
    user, _ = User.objects.get_or_create(username=username)
    user.first_name, user.last_name, user.email = first, last, email
    user.organization = org
    user.staff_role = staff_role
    user.is_active = True
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def demo_core(*, password: str) -> tuple[dict[str, User], list[Engagement]]:
    orgs = {
        key: CustomerOrganization.objects.get_or_create(name=name)[0]
        for key, name in ORGANIZATIONS.items()
    }
    users = {
        username: _user(username, full, email, orgs[org] if org else None, staff, password)
        for username, full, email, org, staff in USERS
    }
    today = dt.date.today()
    next_fy = dt.date(today.year + 1, 2, 1)
    northwind, _ = Engagement.objects.get_or_create(
        organization=orgs["northwind"],
        name="FY2027 Territory Design",
        defaults={
            "type": Engagement.Type.SINGLE_PROJECT,
            "fiscal_year_start": next_fy,
            "hour_budget": 160,
            "created_by": users["architect"],
        },
    )
    bluepeak, _ = Engagement.objects.get_or_create(
        organization=orgs["bluepeak"],
        name="Territory Redesign 2027",
        defaults={
            "type": Engagement.Type.DEDICATED,
            "fiscal_year_start": next_fy,
            "hour_budget": 120,
            "created_by": users["architect"],
        },
    )
    memberships = [
        (northwind, "architect", Role.ARCHITECT),
        (northwind, "engineer", Role.ENGINEER),
        (northwind, "customer", Role.CUSTOMER_APPROVER),
        (northwind, "viewer", Role.CUSTOMER_VIEWER),
        (bluepeak, "architect", Role.ARCHITECT),
        (bluepeak, "engineer", Role.ENGINEER),
        (bluepeak, "customer2", Role.CUSTOMER_APPROVER),
    ]
    for engagement, username, role in memberships:
        current = engagement.memberships.filter(user=users[username]).first()
        if current is None or current.role != role:
            membership_set(
                engagement=engagement, user=users[username], role=role, actor=users["architect"]
            )
    return users, [northwind, bluepeak]


DemoStep = Callable[..., None]


def demo_seed(
    *, accounts: int, seed: int, password: str, say: Callable[[str], None] = print
) -> DemoResult:
    from engagements.demo_lifecycle import demo_lifecycle
    from territories.demo import demo_agreements, demo_design, demo_universe

    users, engagements = demo_core(password=password)
    northwind, bluepeak = engagements
    approvers = {northwind: users["customer"], bluepeak: users["customer2"]}
    say(f"Users and engagements ready ({len(users)} users, {len(engagements)} engagements).")
    # The order tells the engagement's story: the architect's prep (accounts, model, team), then
    # the meetings that confirm or correct it, then the agreements the customer signs.
    for index, (engagement, prefix) in enumerate(((northwind, "NW"), (bluepeak, "BP"))):
        demo_universe(
            engagement=engagement,
            n=accounts,
            seed=seed + index,
            id_prefix=prefix,
            actor=users["architect"],
            three_segments=engagement == northwind,
        )
        say(f"{engagement}: {accounts:,} accounts imported and valued, team roster.")
    demo_lifecycle(users=users, northwind=northwind, bluepeak=bluepeak, say=say)
    for engagement in engagements:
        # Northwind has signed its ICP matrix and valuation; Bluepeak's wait for signature.
        demo_agreements(
            engagement=engagement,
            architect=users["architect"],
            approver=approvers[engagement],
            approve=engagement == northwind,
        )
        say(
            f"{engagement}: ICP matrix and valuation "
            f"{'signed' if engagement == northwind else 'published for sign-off'}."
        )
    # Territory design. Northwind's design gate is still closed (a definition awaits sign-off):
    # its hierarchy splits California by county and waits for the hierarchy review. Bluepeak
    # balanced before Engineering: its signed map splits California and Texas by ZIP area and
    # every other state by county (whole states were too coarse to balance 11 territories).
    designs = (
        (northwind, {"CA": "county"}, None, False),
        (bluepeak, {"CA": "zip3", "TX": "zip3"}, "county", True),
    )
    for engagement, split, elsewhere, balance in designs:
        runs = demo_design(
            engagement=engagement,
            architect=users["architect"],
            approver=approvers[engagement],
            split=split,
            elsewhere=elsewhere,
            balance=balance,
        )
        say(
            f"{engagement}: hierarchy with {', '.join(split)} split"
            + (
                f"; {len(runs)} balancing runs, {runs[-1].title} approved and signed, growth plan."
                if runs
                else ", published for sign-off."
            )
        )
    # Routing for the engagement whose territory map is approved: the territory object, a
    # passing QA suite published for the engineering sign-off, an accuracy audit, an API token.
    from routing.demo import demo_routing

    for engagement in engagements:
        token = demo_routing(
            engagement=engagement,
            engineer=users["engineer"],
            architect=users["architect"],
            ops=users["ops"],
            seed=seed,
        )
        if token:
            say(
                f"{engagement}: territory object generated, QA suite passing and published, "
                f"accuracy audit done. Routing API token (shown once): {token}"
            )
    # Enablement and handoff for the engagement whose routing is live (Bluepeak).
    from handoff.demo import demo_handoff

    demo_handoff(
        engagement=bluepeak,
        architect=users["architect"],
        customer=users["customer2"],
        ops=users["ops"],
        say=say,
    )
    # ... and its documentation package, built as ops would (once: a rerun keeps it).
    missing = _pdf_renderer_missing()
    if missing:
        say(
            f"{bluepeak}: documentation package NOT built — WeasyPrint cannot load its text "
            f"library ({missing}). Install Pango (Debian/Ubuntu: sudo apt install "
            "libpango-1.0-0 libpangoft2-1.0-0; macOS: brew install pango) and run the demo "
            "again; everything else is ready."
        )
    else:
        from handoff.package import demo_package

        package = demo_package(engagement=bluepeak, actor=users["ops"])
        say(f"{bluepeak}: documentation package v{package.version} built.")
    logins = [
        DemoLogin("architect", "architect", "both engagements, full edit"),
        DemoLogin("engineer", "engineer", "both engagements, routing"),
        DemoLogin("manager", "manager", "every engagement, read only, dashboards"),
        DemoLogin("ops", "ops", "every engagement, documentation packages"),
        DemoLogin("customer", "customer approver", f"{northwind.organization.name} only"),
        DemoLogin("viewer", "customer viewer", f"{northwind.organization.name} only, read only"),
        DemoLogin("customer2", "customer approver", f"{bluepeak.organization.name} only"),
    ]
    return DemoResult(engagements=engagements, logins=logins)


def _pdf_renderer_missing() -> str | None:
    """Why WeasyPrint cannot render here (its system library Pango is missing), or None.

    Python 3.11 is all the quick start asks for; Pango is on most Linux desktops but not on
    every fresh machine, and a demo that dies at its last step would hide everything it seeded.
    """
    try:
        import weasyprint  # noqa: F401
    except OSError as exc:
        return str(exc).splitlines()[0][:160]
    return None
