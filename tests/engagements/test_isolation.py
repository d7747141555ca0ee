"""Every engagement URL answers 404 to users outside the engagement, whatever the method.

The URL list is read from the URL configuration, so a view added later is covered without
touching this file; the full role × URL table lives in the end-to-end permission matrix.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from engagements.models import Job
from tests.factories import make_account


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def engagement_routes():
    routes = []
    for route, pattern in _patterns():
        if "<int:engagement_pk>" in route:
            routes.append((route, pattern))
    return routes


def _fill(route: str, values: dict[str, int]) -> str:
    import re

    def replace(match):
        name = match.group(2)
        return str(values.get(name, 1))

    path = re.sub(r"<(int|str|slug|uuid|path):(\w+)>", replace, route)
    return "/" + path.lstrip("^").rstrip("$")


@pytest.fixture
def objects(world):
    job = Job.objects.create(engagement=world.engagement, kind="x", title="t")
    account = make_account(world.engagement)
    return {"engagement_pk": world.engagement.pk, "job_pk": job.pk, "account_pk": account.pk}


def test_there_are_engagement_routes_to_check():
    assert len(engagement_routes()) >= 4


@pytest.mark.parametrize("stranger", ["customer2", "outsider", "architect2"])
def test_strangers_get_404_on_every_engagement_url(world, objects, client, stranger):
    client.force_login(getattr(world, stranger))
    for route, _ in engagement_routes():
        url = _fill(route, objects)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, (
                f"{method.upper()} {url} gave {response.status_code} to {stranger}"
            )


def test_anonymous_users_are_sent_to_login(world, objects, client):
    for route, _ in engagement_routes():
        url = _fill(route, objects)
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/auth/login/"), url


@pytest.mark.parametrize(
    "member", ["architect", "engineer", "customer", "viewer", "manager", "ops"]
)
def test_members_are_not_told_404_on_their_own_engagement(world, objects, client, member):
    client.force_login(getattr(world, member))
    for route, _ in engagement_routes():
        url = _fill(route, objects)
        response = client.get(url)
        assert response.status_code in (200, 403, 405), f"GET {url}: {response.status_code}"


def test_an_object_of_another_engagement_is_404_through_this_one(world, client):
    foreign_job = Job.objects.create(engagement=world.other, kind="x", title="theirs")
    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/jobs/{foreign_job.pk}/"
    assert client.get(url).status_code == 404
