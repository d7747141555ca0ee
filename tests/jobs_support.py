"""Helpers for tests that run a real RQ worker against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import django_rq
from django.conf import settings
from django.db import connection

from engagements.models import Job
from engagements.tracking import tracked_job

ROOT = Path(__file__).resolve().parent.parent


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        PORTAL_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
        PORTAL_TEST_MEDIA_ROOT=str(settings.MEDIA_ROOT),
        REDIS_URL=settings.REDIS_URL,
    )
    return env


def worker_command(*extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), "rqworker", "default", *extra]


def run_burst_worker(timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``rqworker --burst`` until the queue is empty; fail loudly if it errors."""
    done = subprocess.run(
        worker_command("--burst"),
        cwd=ROOT,
        env=worker_env(),
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"worker failed:\n{done.stdout}\n{done.stderr}"
    return done


def start_worker(*extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a worker in its own process group (so a test can kill it and its work horse);
    ``env`` adds environment variables (settings) for that worker only."""
    return subprocess.Popen(
        worker_command(*extra),
        cwd=ROOT,
        env={**worker_env(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_worker(worker: subprocess.Popen) -> str:
    """Stop a worker from ``start_worker`` (warm shutdown) and return what it printed."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    return output.decode(errors="replace") if output else ""


# A worker that runs RQ's scheduler and its upkeep every second: it wakes from waiting for a job
# every second (``--worker-ttl`` minus 15) and then runs the maintenance pass that is due.
SCHEDULER_WORKER = ("--with-scheduler", "--worker-ttl", "16")
SCHEDULER_WORKER_ENV = {"WORKER_MAINTENANCE_SECONDS": "1"}


def empty_queue() -> None:
    """Forget every RQ key (queues, jobs, registries, workers) a previous test left behind.

    Tests point REDIS_URL at a Redis database of their own, so this touches nothing else.
    """
    connection = django_rq.get_queue("default").connection
    keys = list(connection.scan_iter("rq:*", count=1000))
    if keys:
        connection.delete(*keys)


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@tracked_job
def slow_job(job: Job) -> dict:
    """A job for tests: reports progress for ``params["seconds"]`` seconds, then succeeds."""
    seconds = float(job.params.get("seconds", 1))
    steps = max(1, int(seconds / 0.1))
    for step in range(steps):
        job.report(100 * step / steps, f"step {step + 1} of {steps}")
        time.sleep(seconds / steps)
    return {"steps": steps, "message": f"{steps} steps done"}


@tracked_job
def failing_job(job: Job) -> dict:
    raise ValueError("row 7, column revenue: 'abc' is not a number")
