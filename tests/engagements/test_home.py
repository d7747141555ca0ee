"""Each role lands on its own home page; lists keep a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagements.models import Role
from tests.factories import make_account, make_engagement, make_membership


@pytest.mark.parametrize(
    ("username", "heading"),
    [
        ("architect", "My engagements"),
        ("engineer", "My engagements"),
        ("manager", "Manager dashboard"),
        ("ops", "Operations"),
        ("customer", "Customer portal"),
        ("viewer", "Customer portal"),
    ],
)
def test_each_role_sees_its_home_page(world, client, username, heading):
    client.force_login(getattr(world, username))
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<h1>{heading}</h1>" in html
    assert world.engagement.name in html
    assert world.other.name not in html or username in ("manager", "ops")


def test_customer_home_never_lists_another_customers_engagement(world, client):
    client.force_login(world.customer2)
    html = client.get("/").content.decode()
    assert world.other.name in html
    assert world.engagement.name not in html
    assert world.org_a.name not in html


def test_anonymous_home_redirects_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/auth/login/?next=/"


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("username", ["manager", "architect"])
def test_home_and_list_queries_do_not_grow_with_engagements(world, client, username):
    user = getattr(world, username)
    client.force_login(user)
    before = {url: _count_queries(client, url) for url in ("/", "/engagements/")}
    for i in range(8):
        engagement = make_engagement(world.org_a, name=f"Extra {i}")
        make_membership(engagement, world.architect, Role.ARCHITECT)
        make_account(engagement)
    after = {url: _count_queries(client, url) for url in ("/", "/engagements/")}
    assert after == before
    # The list: session + user, the engagement list with its counts (one query); for a
    # consultant without a global role, whether they are an architect anywhere (the "New
    # engagement" button).
    assert after["/engagements/"] == {"manager": 3, "architect": 4}[username]
    # The dashboards: session + user + the engagements, then the overview's fixed eight
    # (phases, sub-phases, item counts, sign-off states, assumption counts, hours, intake,
    # calendar rules). The architect's adds memberships, meetings due, feedback, intake forms
    # and uploads; the manager's three provided columns (balance variance, hypercare,
    # refinement triggers) add one each.
    assert after["/"] == {"manager": 14, "architect": 16}[username]


def test_engagement_page_shows_members_and_activity(world, client):
    client.force_login(world.customer)
    response = client.get(f"/engagements/{world.engagement.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert world.architect.display_name() in html
    # Customers do not see the consultancy's hours and budget.
    assert "<dt>Hours</dt>" not in html
    client.force_login(world.architect)
    assert "<dt>Hours</dt>" in client.get(f"/engagements/{world.engagement.pk}/").content.decode()
