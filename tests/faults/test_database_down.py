"""The database unavailable: ``/healthz`` answers 503 naming the database, pages answer the
clean 500 page (no traceback, no stylesheet that could fail too), and the server keeps serving.

The real path: ``gunicorn config.wsgi`` in a subprocess, DEBUG off, its DATABASE_URL pointing
at a port where nothing listens — every query goes through the PostgreSQL driver and fails
there, as when the database server is down or unreachable.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings

from tests.jobs_support import ROOT

pytestmark = [pytest.mark.needs_redis]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, headers: dict[str, str] | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request("GET", path, headers={"Host": "127.0.0.1", **(headers or {})})
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    return response.status, response.getheader("Content-Type", ""), body


@pytest.fixture(scope="module")
def server_log(tmp_path_factory):
    return tmp_path_factory.mktemp("gunicorn") / "server.log"


@pytest.fixture(scope="module")
def server_without_database(server_log):
    closed = _free_port()  # nothing listens there
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/portal",
        "REDIS_URL": settings.REDIS_URL,
        "WARM_GEO": "off",
    }
    log = server_log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = server_log.read_text()[-3000:]
                pytest.fail(f"gunicorn did not start without a database:\n{output}")
            time.sleep(0.2)
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    log.close()


def test_healthz_is_503_and_names_the_database(server_without_database):
    status, content_type, body = _get(server_without_database, "/healthz")
    assert status == 503
    assert content_type == "application/json"
    data = json.loads(body)
    assert data["status"] == "down"
    assert data["database"]["ok"] is False
    assert data["database"]["error"].startswith("OperationalError")
    assert data["redis"]["ok"] is True  # only the failing check is named as failing


@pytest.mark.parametrize(
    "path",
    ["/", "/engagements/1/", "/engagements/1/accounts/", "/engagements/1/territories/"],
)
def test_a_signed_in_page_answers_the_clean_500_page(server_without_database, path):
    # A session cookie makes Django read the session, and so the database, on every page.
    status, content_type, body = _get(
        server_without_database, path, {"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"}
    )
    assert status == 500
    assert content_type.startswith("text/html")
    assert "Something went wrong on our side" in body
    for leak in ("Traceback", "OperationalError", "psycopg", "connection refused", "postgres"):
        assert leak.lower() not in body.lower(), leak


def test_the_server_keeps_answering_and_the_operator_sees_why(server_without_database, server_log):
    for _ in range(3):
        status, _, _ = _get(server_without_database, "/healthz")
        assert status == 503
    _get(server_without_database, "/", {"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"})
    logged = server_log.read_text()
    # The traceback the page hides is in the server's log.
    assert "Internal Server Error: /" in logged
    assert "OperationalError" in logged
