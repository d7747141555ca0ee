"""The database unavailable: ``/healthz`` answers 503 naming the database, pages answer the
clean 500 page (no traceback, no stylesheet that could fail too), and the server keeps serving.

The real path: ``gunicorn config.wsgi`` in a subprocess, DEBUG off, its DATABASE_URL pointing
at a port where nothing listens — every query goes through the PostgreSQL driver and fails
there, as when the database server is down or unreachable. And a running server whose database
goes away and comes back (through a TCP relay the test cuts): it recovers on its own.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from config.views import DATABASE_DOWN
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


def _start_gunicorn(database_url: str, log_path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "WARM_GEO": "off",
    }
    with open(log_path, "w") as log:
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
                return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                pytest.fail(f"gunicorn did not start:\n{Path(log_path).read_text()[-3000:]}")
            time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server_without_database(server_log):
    closed = _free_port()  # nothing listens there
    process, port = _start_gunicorn(f"postgres://postgres@127.0.0.1:{closed}/portal", server_log)
    yield port
    _stop(process)


def test_healthz_is_503_and_names_the_database(server_without_database):
    status, content_type, body = _get(server_without_database, "/healthz")
    assert status == 503
    assert content_type == "application/json"
    data = json.loads(body)
    assert data["status"] == "down"
    assert data["database"]["ok"] is False
    assert data["database"]["error"] == DATABASE_DOWN  # the driver's text is only logged
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


class TcpSwitch:
    """A TCP relay to the database that can be cut and restored: cut, it closes every relayed
    connection and refuses new ones, as a database server that stopped would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _free_port()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def on(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def off(self) -> None:
        if self.listener is not None:
            # shutdown() first: close() alone does not wake the thread blocked in accept(),
            # and the port would go on accepting.
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # switched off
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


# It relays PostgreSQL's TCP port (SQLite has no server to cut), so it skips on SQLite and
# REQUIRE_SERVICES=1 (CI) fails the run if it was skipped there.
@pytest.mark.needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_database_going_away_and_coming_back(world, tmp_path):
    """A running server whose database stops and restarts: 503 and the clean 500 page while it is
    gone, and it serves again on its own once it is back (persistent connections are checked
    before reuse, ``conn_health_checks``) — no restart of the web server."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    db = connection.settings_dict
    switch = TcpSwitch((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    switch.on()
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    url = f"postgres://{user}{password}@127.0.0.1:{switch.port}/{db['NAME']}"
    store = SessionStore()
    store[SESSION_KEY] = str(world.architect.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = world.architect.get_session_auth_hash()
    store.create()
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={store.session_key}"}
    page = f"/engagements/{world.engagement.pk}/"
    process, port = _start_gunicorn(url, tmp_path / "server.log")
    try:
        assert _get(port, "/healthz")[0] == 200
        status, _, body = _get(port, page, cookie)
        assert status == 200 and world.engagement.name in body

        switch.off()  # the database stops; the server's open connection is cut
        status, _, body = _get(port, "/healthz")
        assert status == 503 and json.loads(body)["database"]["ok"] is False
        status, _, body = _get(port, page, cookie)
        assert status == 500 and "Something went wrong on our side" in body
        assert "Traceback" not in body

        switch.on()  # it is back
        assert _get(port, "/healthz")[0] == 200
        status, _, body = _get(port, page, cookie)
        assert status == 200 and world.engagement.name in body
    finally:
        _stop(process)
        switch.off()
