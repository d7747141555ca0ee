"""The job-tracking pattern, without a worker: state changes, idempotence, the sweeper."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from unittest import mock

import pytest

from engagements.models import Job
from engagements.tracking import job_refresh, job_start, jobs_sweep, tracked_job
from tests import jobs_support


def _job(world, **fields):
    defaults = {"engagement": world.engagement, "kind": "tests.x", "title": "A job"}
    defaults.update(fields)
    return Job.objects.create(**defaults)


def test_a_tracked_job_records_running_then_succeeded(world):
    job = _job(world, params={"seconds": 0.1})
    result = jobs_support.slow_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress == 100
    assert job.result == result == {"steps": 1, "message": "1 steps done"}
    assert job.started_at <= job.finished_at
    assert job.worker_pid == os.getpid()
    assert world.engagement.activity.filter(verb="job.succeeded", data__job=job.pk).exists()


def test_a_failing_job_records_the_error_and_reraises(world):
    job = _job(world)
    with pytest.raises(ValueError):
        jobs_support.failing_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "row 7, column revenue" in job.error
    assert job.message == "row 7, column revenue: 'abc' is not a number"
    assert job.finished_at is not None


def test_a_finished_job_is_not_run_again(world):
    calls = []

    @tracked_job
    def counting(job):
        calls.append(job.pk)
        return {"n": len(calls)}

    job = _job(world)
    counting(job.pk)
    counting(job.pk)  # RQ delivering the same job twice must not redo the work
    assert calls == [job.pk]


def test_job_start_enqueues_only_after_commit(world, django_capture_on_commit_callbacks):
    with mock.patch("engagements.tracking._queue") as queue:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            job = job_start(engagement=world.engagement, func=jobs_support.slow_job, title="Slow")
            assert queue.return_value.enqueue.call_count == 0
        for callback in callbacks:
            callback()
    enqueue = queue.return_value.enqueue
    assert enqueue.call_count == 1
    args, kwargs = enqueue.call_args
    assert args == (jobs_support.slow_job, job.pk)
    assert kwargs["job_id"] == f"portal-job-{job.pk}"
    assert job.status == Job.Status.QUEUED


def test_a_dedupe_key_joins_the_job_already_running(world, django_capture_on_commit_callbacks):
    with (
        mock.patch("engagements.tracking._queue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = job_start(
            engagement=world.engagement, func=jobs_support.slow_job, title="A", dedupe_key="k"
        )
        with mock.patch("engagements.tracking._rq_status", return_value=("queued", "")):
            second = job_start(
                engagement=world.engagement, func=jobs_support.slow_job, title="A", dedupe_key="k"
            )
    assert first.pk == second.pk
    assert Job.objects.filter(dedupe_key="k").count() == 1


def test_enqueue_failure_marks_the_job_failed_with_a_message(
    world, django_capture_on_commit_callbacks
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    with mock.patch("engagements.tracking._queue") as queue:
        queue.return_value.enqueue.side_effect = RedisConnectionError("Connection refused")
        with django_capture_on_commit_callbacks(execute=True):
            job = job_start(engagement=world.engagement, func=jobs_support.slow_job, title="Slow")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "job queue is unavailable" in job.error


def test_sweeper_fails_a_running_job_whose_worker_process_died(world):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = _job(
        world, status=Job.Status.RUNNING, worker_host=socket.gethostname(), worker_pid=dead.pid
    )
    failed = jobs_sweep()
    job.refresh_from_db()
    assert failed == [job]
    assert job.status == Job.Status.FAILED
    assert f"pid {dead.pid}" in job.error
    assert world.engagement.activity.filter(verb="job.failed", data__job=job.pk).exists()


def test_sweeper_leaves_a_live_running_job_alone(world):
    job = _job(
        world, status=Job.Status.RUNNING, worker_host=socket.gethostname(), worker_pid=os.getpid()
    )
    with mock.patch("engagements.tracking._rq_status", return_value=("started", "")):
        assert jobs_sweep() == []
        assert job_refresh(job).status == Job.Status.RUNNING


def test_sweeper_fails_a_job_that_rq_reports_failed(world):
    job = _job(world, status=Job.Status.RUNNING, worker_host="another-host", worker_pid=1)
    with mock.patch(
        "engagements.tracking._rq_status",
        return_value=(
            "failed",
            "Traceback...\nrq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (3600 seconds)",
        ),
    ):
        jobs_sweep()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "JobTimeoutException" in job.error


def test_sweeper_fails_a_queued_job_the_queue_lost(world):
    from django.utils import timezone

    job = _job(world, created_at=timezone.now() - timezone.timedelta(minutes=5))
    with mock.patch("engagements.tracking._rq_status", return_value=(None, "")):
        jobs_sweep()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "lost this job" in job.error


def test_sweeper_gives_a_just_queued_job_time_to_reach_the_queue(world):
    job = _job(world)
    with mock.patch("engagements.tracking._rq_status", return_value=(None, "")):
        assert jobs_sweep() == []
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_sweep_jobs_command_reports_what_it_failed(world):
    from io import StringIO

    from django.core.management import call_command

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = _job(
        world, status=Job.Status.RUNNING, worker_host=socket.gethostname(), worker_pid=dead.pid
    )
    out = StringIO()
    call_command("sweep_jobs", stdout=out)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert f"failed: job {job.pk}" in out.getvalue()
    assert "1 job(s) marked failed." in out.getvalue()


def test_a_job_still_running_keeps_asking_for_the_page_reload_at_each_poll(world, client):
    # The package page polls with ?refresh_on_done=1 so it reloads (and shows the new version)
    # once the build is done. The fragment that answers a poll replaces the polling element:
    # it must carry the parameter on, or a job running at the first poll never reloads the
    # page (found by the browser journey with a real worker: "Succeeded" over "No package").
    job = _job(world, status=Job.Status.RUNNING, worker_pid=os.getpid())
    client.force_login(world.architect)
    status_url = f"/engagements/{world.engagement.pk}/jobs/{job.pk}/status/"
    response = client.get(status_url + "?refresh_on_done=1", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'hx-get="{status_url}?refresh_on_done=1"' in response.content.decode()
    # Without the parameter the next poll asks for none.
    plain = client.get(status_url, HTTP_HX_REQUEST="true").content.decode()
    assert f'hx-get="{status_url}"' in plain
    # Done: polling stops and the page reloads.
    job.mark_succeeded({"message": "done"})
    done = client.get(status_url + "?refresh_on_done=1", HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and done["HX-Refresh"] == "true"
