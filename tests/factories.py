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
