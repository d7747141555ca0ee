"""The error pages: 404 and 403 inside the layout, 500 without touching the database."""

from __future__ import annotations

from unittest import mock

from django.test import RequestFactory

from config.views import server_error


def test_unknown_url_shows_the_404_page(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_500_page_renders_without_the_database():
    request = RequestFactory().get("/")
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.cursor",
        side_effect=AssertionError("no DB"),
    ):
        response = server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "<link" not in html  # self-contained: no stylesheet that could itself fail


def test_403_page_explains_the_role(world, client):
    client.force_login(world.viewer)
    response = client.post(f"/engagements/{world.engagement.pk}/accounts/quality/")
    assert response.status_code == 403
    assert "Customer viewer" in response.content.decode()
