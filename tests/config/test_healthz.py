"""GET /healthz reports the database, Redis and workers.

Contract (config/views.py): 200 when the database and Redis answer, with ``status`` "ok" when at
least one worker is registered and "degraded" when none is (pages work, jobs wait); 503 and
"down" otherwise. Anyone may call it, so a failed component gets a fixed reason and the
driver's message goes to the server log.
"""

from __future__ import annotations

import logging
import signal
from unittest import mock

import pytest
from django.db import OperationalError

from config.views import DATABASE_DOWN, REDIS_DOWN
from tests import jobs_support


@pytest.mark.needs_redis
def test_healthz_is_200_when_database_and_redis_answer(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["status"] in ("ok", "degraded")
    assert "count" in body["workers"]


@pytest.mark.needs_redis
class TestWorkers:
    @pytest.fixture(autouse=True)
    def clean_queue(self):
        jobs_support.empty_queue()  # no worker registration left by another test
        yield
        jobs_support.empty_queue()

    def test_no_worker_is_degraded_but_still_200(self, client, db):
        response = client.get("/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["workers"] == {"count": 0, "busy": 0, "queued_jobs": 0}

    def test_a_live_worker_makes_it_ok(self, client, db):
        worker = jobs_support.start_worker()
        try:
            body = jobs_support.wait_for(
                lambda: (r := client.get("/healthz").json())["workers"]["count"] >= 1 and r,
                timeout=60,
                what="the worker to register",
            )
            response = client.get("/healthz")
        finally:
            worker.send_signal(signal.SIGTERM)  # a warm shutdown unregisters the worker
            worker.wait(timeout=30)
        assert response.status_code == 200
        assert body["status"] == "ok"
        assert body["workers"]["count"] >= 1
        assert body["database"]["ok"] is True and body["redis"]["ok"] is True
        # Once it has stopped, the deployment is degraded again.
        assert client.get("/healthz").json()["status"] == "degraded"


def test_healthz_is_503_when_the_database_is_down(client, db, caplog):
    refused = OperationalError(
        'connection to server at "db.internal" (10.0.0.7), port 5432 refused'
    )
    with (
        mock.patch("config.views.connection.cursor", side_effect=refused),
        caplog.at_level(logging.WARNING, logger="config.views"),
    ):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"] == {"ok": False, "error": DATABASE_DOWN}
    # The driver's text (host, address, port) is logged, not answered.
    assert "db.internal" not in response.content.decode()
    assert "10.0.0.7" not in response.content.decode()
    assert "db.internal" in caplog.text and "OperationalError" in caplog.text


def test_healthz_is_503_when_redis_is_down(client, db, caplog):
    import redis

    refused = redis.exceptions.ConnectionError(
        "Error 111 connecting to redis.internal:6379. Connection refused."
    )
    with (
        mock.patch("config.views.django_rq.get_queue", side_effect=refused),
        caplog.at_level(logging.WARNING, logger="config.views"),
    ):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["redis"] == {"ok": False, "error": REDIS_DOWN}
    assert body["workers"]["count"] == 0
    assert "redis.internal" not in response.content.decode()
    assert "redis.internal" in caplog.text


def test_healthz_needs_no_login_and_is_not_cached(client, db):
    response = client.get("/healthz")
    assert response.status_code in (200, 503)
    assert "max-age=0" in response.headers["Cache-Control"]
