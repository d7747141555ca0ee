"""GET /healthz reports the database, Redis and workers."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError


@pytest.mark.needs_redis
def test_healthz_is_200_when_database_and_redis_answer(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["status"] in ("ok", "degraded")
    assert "count" in body["workers"]


def test_healthz_is_503_when_the_database_is_down(client, db):
    with mock.patch(
        "config.views.connection.cursor", side_effect=OperationalError("connection refused")
    ):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"]["ok"] is False
    assert "connection refused" in body["database"]["error"]


def test_healthz_is_503_when_redis_is_down(client, db):
    import redis

    refused = redis.exceptions.ConnectionError("Error 111 connecting. Connection refused.")
    with mock.patch("config.views.django_rq.get_queue", side_effect=refused):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["redis"]["ok"] is False
    assert "Connection refused" in body["redis"]["error"]


def test_healthz_needs_no_login_and_is_not_cached(client, db):
    response = client.get("/healthz")
    assert response.status_code in (200, 503)
    assert "max-age=0" in response.headers["Cache-Control"]
