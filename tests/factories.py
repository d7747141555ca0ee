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
