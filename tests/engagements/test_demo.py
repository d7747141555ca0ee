"""manage.py demo: every role, two customers, accounts; idempotent and deterministic."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from engagements.access import engagements_for, role_for
from engagements.models import Engagement, Membership, Role, User
from territories.models import Account, DataQualitySummary


def _run(**options):
    from io import StringIO

    out = StringIO()
    call_command("demo", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_creates_every_role_and_two_isolated_customers():
    output = _run(accounts=300, seed=5, password="demo-pass-x")
    for username in ("architect", "engineer", "manager", "ops", "customer", "viewer", "customer2"):
        assert username in output
        assert User.objects.get(username=username).check_password("demo-pass-x")
    northwind = Engagement.objects.get(organization__name="Northwind Analytics")
    bluepeak = Engagement.objects.get(organization__name="Bluepeak Logistics")
    customer = User.objects.get(username="customer")
    customer2 = User.objects.get(username="customer2")
    assert role_for(customer, northwind) == Role.CUSTOMER_APPROVER
    assert role_for(User.objects.get(username="viewer"), northwind) == Role.CUSTOMER_VIEWER
    assert list(engagements_for(customer)) == [northwind]
    assert list(engagements_for(customer2)) == [bluepeak]
    assert role_for(User.objects.get(username="manager"), bluepeak) == Role.MANAGER
    assert Account.objects.filter(engagement=northwind).count() == 300
    assert DataQualitySummary.objects.get(engagement=northwind).account_count == 300


@pytest.mark.django_db
def test_running_the_demo_twice_duplicates_nothing():
    _run(accounts=200, seed=5, password="demo-pass-x")
    snapshot = sorted(
        Account.objects.values_list("external_id", "name", "annual_revenue", "postal_code")
    )
    _run(accounts=200, seed=5, password="demo-pass-x")
    assert (
        sorted(Account.objects.values_list("external_id", "name", "annual_revenue", "postal_code"))
        == snapshot
    )
    assert User.objects.count() == 7
    assert Engagement.objects.count() == 2
    assert Membership.objects.count() == 7
    _run(accounts=50, seed=5, password="demo-pass-x")
    assert Account.objects.count() == 100


@pytest.mark.django_db
def test_demo_rejects_bad_arguments():
    with pytest.raises(CommandError, match="--accounts"):
        _run(accounts=-1)
    with pytest.raises(CommandError, match="--password"):
        _run(password="short")


@pytest.mark.django_db
def test_demo_puts_northwind_mid_strategy_and_bluepeak_in_handoff():
    from engagements import dashboard
    from engagements.models import Assumption, FeedbackItem, Meeting, SignoffRecord
    from engagements.services import engagement_state, signoff_state, signoff_verify

    _run(accounts=300, seed=5, password="demo-pass-x")
    northwind = Engagement.objects.get(organization__name="Northwind Analytics")
    bluepeak = Engagement.objects.get(organization__name="Bluepeak Logistics")
    state = engagement_state(engagement=northwind)
    assert state.current.phase.number == 1 and state.current_subphase.subphase.code == "1c"
    assert set(Assumption.objects.filter(engagement=northwind).values_list("state", flat=True)) == {
        "assumed",
        "confirmed",
        "corrected",
        "rejected",
    }
    held = Meeting.objects.filter(engagement=northwind, status="held")
    assert held.count() == 2
    assert FeedbackItem.objects.filter(engagement=northwind, meeting__in=held).count() >= 3
    assert northwind.intake.is_submitted and northwind.intake_uploads.count() == 1
    assert signoff_state(engagement=northwind, subject="definitions") == "pending"
    assert signoff_state(engagement=northwind, subject="definitions:enterprise") == "approved"
    assert SignoffRecord.objects.filter(engagement=northwind, decision="declined").exists()
    blue = engagement_state(engagement=bluepeak)
    # Bluepeak went through Engineering and Enablement (hypercare extended once) into Handoff.
    assert blue.phase(1).phase.is_closed and blue.phase(3).phase.is_closed
    assert blue.current.phase.number == 4
    assert blue.current_subphase.subphase.code == "4b"
    for engagement in (northwind, bluepeak):
        count, problems = signoff_verify(engagement=engagement)
        assert count > 0 and problems == []
    rows = {r.engagement.pk: r for r in dashboard.engagement_overviews([northwind, bluepeak])}
    assert rows[northwind.pk].hours_used > 0 and rows[bluepeak.pk].days_in_phase >= 1


@pytest.mark.django_db
def test_the_lifecycle_demo_is_not_seeded_twice():
    from engagements.models import Meeting, SignoffRecord

    _run(accounts=100, seed=5, password="demo-pass-x")
    counts = (Meeting.objects.count(), SignoffRecord.objects.count())
    output = _run(accounts=100, seed=5, password="demo-pass-x")
    assert "lifecycle demo already in place" in output
    assert (Meeting.objects.count(), SignoffRecord.objects.count()) == counts
