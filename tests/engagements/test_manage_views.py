"""Creating and running an engagement: settings, team, hours, stakeholders, activity log."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from engagements.models import (
    ActivityEvent,
    CustomerOrganization,
    Engagement,
    HoursEntry,
    Membership,
    Role,
    Stakeholder,
)
from tests.factories import make_user

NEW = {
    "organization": "",
    "new_organization": "Contoso Freight",
    "name": "FY2028 Territories",
    "type": "dedicated",
    "start_date": "2026-03-01",
    "fiscal_year_start": "2027-01-01",
    "hour_budget": "180",
    "icp_depth": "deep",
    "hierarchy_complexity": "complex",
    "territory_object": "custom",
    "partner_complexity": "on",
    "weight_profile": "custom",
    "weight_strategy": "50",
    "weight_engineering": "25",
    "weight_enablement": "15",
    "weight_handoff": "10",
}


def test_an_architect_creates_an_engagement_with_its_playbook(world, client):
    client.force_login(world.architect)
    response = client.post("/engagements/new/", NEW)
    engagement = Engagement.objects.get(name="FY2028 Territories")
    assert response.url == f"/engagements/{engagement.pk}/"
    assert engagement.organization.name == "Contoso Freight"
    assert engagement.phase_weights == {
        "strategy": 50,
        "engineering": 25,
        "enablement": 15,
        "handoff": 10,
    }
    assert (engagement.icp_depth, engagement.partner_complexity, engagement.hour_budget) == (
        "deep",
        True,
        180,
    )
    assert (
        Membership.objects.get(engagement=engagement, user=world.architect).role == Role.ARCHITECT
    )
    assert engagement.phases.count() == 4
    assert ActivityEvent.objects.filter(engagement=engagement, verb="engagement.created").exists()
    # The conditional items follow the methodology options.
    html = client.get(f"/engagements/{engagement.pk}/phases/").content.decode()
    assert "applies: Deep ICP/TAM (narrow TAM)" in html and "n/a: Light ICP/TAM (wide TAM)" in html


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"weight_strategy": "60"}, "must add up to 100 (they add up to 110)"),
        ({"new_organization": ""}, "Choose the customer organization or name a new one."),
        ({"new_organization": "Northwind Test"}, "exists already"),
        ({"fiscal_year_start": "2026-01-01"}, "must start after the engagement starts"),
        ({"hour_budget": "0"}, "Give the hour budget"),
        ({"name": ""}, "This field is required."),
    ],
)
def test_bad_engagement_input_is_explained(world, client, changes, error):
    client.force_login(world.architect)
    response = client.post("/engagements/new/", {**NEW, **changes})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Engagement.objects.filter(name="FY2028 Territories").exists()
    assert not CustomerOrganization.objects.filter(name="Contoso Freight").exists()


@pytest.mark.parametrize("who", ["engineer", "manager", "ops", "customer", "viewer", "outsider"])
def test_only_architects_create_engagements(world, client, who):
    client.force_login(getattr(world, who))
    assert client.get("/engagements/new/").status_code == 403
    assert client.post("/engagements/new/", NEW).status_code == 403
    assert not Engagement.objects.filter(name="FY2028 Territories").exists()
    assert not CustomerOrganization.objects.filter(name="Contoso Freight").exists()
    # Neither their home page nor the engagement list offers the button.
    for url in ("/", "/engagements/"):
        assert "/engagements/new/" not in client.get(url).content.decode()


def test_an_architect_on_another_customers_engagement_creates_one_too(world, client):
    client.force_login(world.architect2)
    for url in ("/", "/engagements/"):
        assert 'href="/engagements/new/"' in client.get(url).content.decode()
    assert client.post("/engagements/new/", NEW).status_code == 302
    engagement = Engagement.objects.get(name="FY2028 Territories")
    assert engagement.memberships.get(user=world.architect2).role == Role.ARCHITECT


def test_a_new_architect_creates_the_first_engagement_with_the_admin_granted_permission(
    world, client
):
    from django.contrib.auth.models import Permission

    newcomer = make_user("newcomer")
    client.force_login(newcomer)
    assert client.get("/engagements/new/").status_code == 403
    newcomer.user_permissions.add(Permission.objects.get(codename="add_engagement"))
    assert client.post("/engagements/new/", NEW).status_code == 302
    engagement = Engagement.objects.get(name="FY2028 Territories")
    assert engagement.memberships.get(user=newcomer).role == Role.ARCHITECT


def test_a_staff_superuser_creates_engagements_but_a_plain_superuser_does_not(world, client):
    boss = make_user("boss", is_superuser=True, is_staff=True)
    client.force_login(boss)
    assert client.post("/engagements/new/", NEW).status_code == 302
    assert Engagement.objects.filter(name="FY2028 Territories").exists()
    client.force_login(make_user("root-without-staff", is_superuser=True))
    assert client.get("/engagements/new/").status_code == 403


def test_a_profile_fills_the_weights_and_settings_are_logged(world, client):
    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/edit/"
    assert "Phase-weight profile" in client.get(url).content.decode()
    data = {k: v for k, v in NEW.items() if k not in ("organization", "new_organization")}
    data.update(weight_profile="strategic_heavy", name="Alpha design")
    assert client.post(url, data).status_code == 302
    world.engagement.refresh_from_db()
    assert world.engagement.phase_weights == {
        "strategy": 65,
        "engineering": 15,
        "enablement": 10,
        "handoff": 10,
    }
    event = ActivityEvent.objects.get(verb="engagement.updated")
    assert "phase_weights" in event.data["fields"]


def test_team_members_and_roles(world, client):
    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/team/"
    newcomer = make_user("newbie")
    client.post(url, {"user": newcomer.pk, "role": "engineer"})
    assert Membership.objects.get(engagement=world.engagement, user=newcomer).role == "engineer"
    # A customer of another organization is not even offered.
    html = client.post(
        url, {"user": world.customer2.pk, "role": "customer_viewer"}
    ).content.decode()
    assert "Select a valid choice" in html
    # A customer user cannot become an engineer.
    html = client.post(url, {"user": world.viewer.pk, "role": "engineer"}).content.decode()
    assert "cannot be Engineer" in html
    architect = Membership.objects.get(engagement=world.engagement, user=world.architect)
    response = client.post(
        f"/engagements/{world.engagement.pk}/team/{architect.pk}/remove/", follow=True
    )
    assert "needs an architect" in response.content.decode()
    viewer = Membership.objects.get(engagement=world.engagement, user=world.viewer)
    client.post(f"/engagements/{world.engagement.pk}/team/{viewer.pk}/remove/")
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_hours_log_by_architect_and_engineer(world, client):
    url = f"/engagements/{world.engagement.pk}/hours/"
    client.force_login(world.engineer)
    client.post(
        url, {"date": "2026-01-10", "hours": "3.5", "phase_number": "2", "note": "Flow build"}
    )
    client.force_login(world.architect)
    client.post(url, {"date": "2026-01-11", "hours": "6", "phase_number": "1", "note": "Kickoff"})
    assert HoursEntry.objects.filter(engagement=world.engagement).count() == 2
    html = client.get(url).content.decode()
    assert "9.5 of 150 h used" in html
    for bad, message in (
        ({"hours": "25"}, "less than or equal to 24"),
        ({"hours": "abc"}, "Enter a number"),
        ({"date": "2999-01-01"}, "future date"),
    ):
        response = client.post(url, {"date": "2026-01-12", "hours": "2", "phase_number": "", **bad})
        assert message in response.content.decode()
    assert HoursEntry.objects.count() == 2
    assert sum(h.hours for h in HoursEntry.objects.all()) == Decimal("9.5")
    client.force_login(world.manager)
    assert client.post(url, {"date": "2026-01-12", "hours": "2"}).status_code == 403


def test_stakeholder_map(world, client):
    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/stakeholders/"
    client.post(
        url,
        {
            "name": "Dana Whitfield",
            "title": "VP Sales",
            "email": "dana@example.com",
            "decision_maker": "on",
            "influence": "high",
        },
    )
    person = Stakeholder.objects.get()
    assert person.decision_maker and not person.day_to_day and person.influence == "high"
    client.post(
        f"{url}{person.pk}/",
        {"name": "Dana Whitfield", "title": "CRO", "day_to_day": "on", "influence": "medium"},
    )
    person.refresh_from_db()
    assert (person.title, person.day_to_day, person.decision_maker) == ("CRO", True, False)
    assert "Dana Whitfield" in client.get(url).content.decode()
    client.post(f"{url}{person.pk}/", {"action": "delete"})
    assert not Stakeholder.objects.exists()
    assert ActivityEvent.objects.filter(verb__startswith="stakeholder.").count() == 3


def test_customers_do_not_see_internal_activity(world, client):
    client.force_login(world.architect)
    client.post(
        f"/engagements/{world.engagement.pk}/hours/",
        {"date": "2026-01-11", "hours": "6", "note": "Secret prep"},
    )
    client.post(
        f"/engagements/{world.engagement.pk}/stakeholders/", {"name": "Dana", "influence": "high"}
    )
    html = client.get(f"/engagements/{world.engagement.pk}/activity/").content.decode()
    assert "Secret prep" in html and "Stakeholder added: Dana" in html
    client.force_login(world.customer)
    for url in (
        f"/engagements/{world.engagement.pk}/activity/",
        f"/engagements/{world.engagement.pk}/",
    ):
        html = client.get(url).content.decode()
        assert "Secret prep" not in html and "Stakeholder added" not in html
    html = client.get(f"/engagements/{world.engagement.pk}/activity/?kind=hours").content.decode()
    assert "Secret prep" not in html


# --- Query counts of the lists (STYLE §16) -----------------------------------------------


def test_member_list_queries_do_not_grow_with_members(world, client):
    from tests.query_support import counts_as_rows_grow, queries_of

    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/team/"
    seq = iter(range(1000))

    def add(n):
        for _ in range(n):
            i = next(seq)
            role = Role.ENGINEER if i % 2 else Role.CUSTOMER_VIEWER
            user = make_user(f"m{i}", org=world.org_a if role == Role.CUSTOMER_VIEWER else None)
            Membership.objects.create(engagement=world.engagement, user=user, role=role)

    counts = counts_as_rows_grow(client, url, add)
    assert counts[0] == counts[1], queries_of(client, url)
    # session, user, engagement, role; the members with their users and organizations (one
    # query); the form's person choices (with their organizations, for the labels).
    assert counts[1] == 6, queries_of(client, url)


def test_hours_list_queries_do_not_grow_with_entries(world, client):
    from engagements.services import hours_log
    from tests.query_support import counts_as_rows_grow, queries_of

    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/hours/"

    def add(n):
        for i in range(n):
            hours_log(
                engagement=world.engagement,
                user=world.engineer if i % 2 else world.architect,
                date=datetime.date(2026, 3, 1 + i),
                hours=Decimal("1.5"),
                phase_number=1 + i % 4,
                note=f"Work {i}",
            )

    counts = counts_as_rows_grow(client, url, add)
    assert counts[0] == counts[1], queries_of(client, url)
    # session, user, engagement, role; the phases; hours per phase (one aggregate); the
    # entries with who logged them (one query).
    assert counts[1] == 7, queries_of(client, url)


def test_stakeholder_list_queries_do_not_grow_with_stakeholders(world, client):
    from tests.query_support import counts_as_rows_grow, queries_of

    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/stakeholders/"

    def add(n):
        for i in range(n):
            Stakeholder.objects.create(
                engagement=world.engagement, name=f"Person {i}", decision_maker=i == 0
            )

    counts = counts_as_rows_grow(client, url, add)
    assert counts[0] == counts[1], queries_of(client, url)
    # session, user, engagement, role; the stakeholders (one query).
    assert counts[1] == 5, queries_of(client, url)


@pytest.mark.parametrize("who", ["architect", "customer"])
def test_activity_list_queries_do_not_grow_with_events(world, client, who):
    from engagements.services import activity_record
    from tests.query_support import counts_as_rows_grow, queries_of

    client.force_login(getattr(world, who))
    url = f"/engagements/{world.engagement.pk}/activity/"

    def add(n):
        for i in range(n):
            activity_record(
                engagement=world.engagement,
                actor=world.architect if i % 2 else world.customer,
                verb=("meeting.held", "hours.logged", "assumption.confirmed")[i % 3],
                summary=f"Event {i}",
            )

    counts = counts_as_rows_grow(client, url, add)
    assert counts[0] == counts[1], queries_of(client, url)
    # session, user, engagement, role; the kinds for the filter; the page count and the page
    # with the actors (one query each). A customer's header also shows their organization and
    # the internal lines are filtered out in the same queries.
    assert counts[1] == {"architect": 7, "customer": 8}[who], queries_of(client, url)
