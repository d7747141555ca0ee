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


def _rq_says(status, exc_text=""):
    """Stand-in for RQ's answer about every job asked for (``tracking._rq_statuses``)."""
    return mock.patch(
        "engagements.tracking._rq_statuses",
        side_effect=lambda jobs: {job.pk: (status, exc_text) for job in jobs},
    )


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
        with _rq_says("queued"):
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
    with _rq_says("started"):
        assert jobs_sweep() == []
        assert job_refresh(job).status == Job.Status.RUNNING


def test_sweeper_fails_a_job_that_rq_reports_failed(world):
    job = _job(world, status=Job.Status.RUNNING, worker_host="another-host", worker_pid=1)
    with _rq_says(
        "failed",
        "Traceback...\nrq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (3600 seconds)",
    ):
        jobs_sweep()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "JobTimeoutException" in job.error


def test_sweeper_fails_a_queued_job_the_queue_lost(world):
    from django.utils import timezone

    job = _job(world, created_at=timezone.now() - timezone.timedelta(minutes=5))
    with _rq_says(None):
        jobs_sweep()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "lost this job" in job.error


def test_sweeper_gives_a_just_queued_job_time_to_reach_the_queue(world):
    job = _job(world)
    with _rq_says(None):
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


# --- Lists never show a dead job as running ------------------------------------------------


def _dead_and_alive(world):
    """A queued job RQ lost minutes ago (dead) and one it still holds (alive)."""
    from django.utils import timezone

    dead = _job(world, title="Lost job", created_at=timezone.now() - timezone.timedelta(minutes=5))
    alive = _job(world, title="Waiting job")
    states = {dead.pk: (None, ""), alive.pk: ("queued", "")}
    patch = mock.patch(
        "engagements.tracking._rq_statuses",
        side_effect=lambda jobs: {job.pk: states[job.pk] for job in jobs},
    )
    return dead, alive, patch


def _status_cell(html, job):
    row = html.split(f"/jobs/{job.pk}/", 1)[1].split("</tr>", 1)[0]
    return row.split('<span class="status ', 1)[1].split("</span>", 1)[0]


@pytest.mark.parametrize("page", ["jobs/", ""])
def test_the_job_list_and_the_engagement_page_fail_a_dead_job_before_showing_it(
    world, client, page
):
    dead, alive, rq = _dead_and_alive(world)
    client.force_login(world.architect)
    with rq:
        html = client.get(f"/engagements/{world.engagement.pk}/{page}").content.decode()
    assert _status_cell(html, dead) == 'status-failed">Failed'
    assert _status_cell(html, alive) == 'status-queued">Queued'
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == Job.Status.FAILED and "lost this job" in dead.error
    assert alive.status == Job.Status.QUEUED
    assert world.engagement.activity.filter(verb="job.failed", data__job=dead.pk).count() == 1


def test_the_engagement_list_does_not_count_a_dead_job_as_running(world, client):
    dead, alive, rq = _dead_and_alive(world)
    client.force_login(world.architect)
    with rq:
        html = client.get("/engagements/").content.decode()
    row = html.split(f'href="/engagements/{world.engagement.pk}/"', 1)[1].split("</tr>", 1)[0]
    cells = [c.split("</td>", 1)[0] for c in row.split('<td class="num">')[1:]]
    assert cells[1] == "1"  # accounts, then jobs running: only the alive one
    dead.refresh_from_db()
    assert dead.status == Job.Status.FAILED


def test_lists_ask_redis_nothing_when_no_job_is_active(world, client):
    _job(world, status=Job.Status.SUCCEEDED)
    client.force_login(world.architect)
    with mock.patch("engagements.tracking._rq_statuses") as rq:
        for url in ("/engagements/", f"/engagements/{world.engagement.pk}/jobs/"):
            assert client.get(url).status_code == 200
    rq.assert_not_called()


def test_an_unreachable_redis_fails_nothing_on_a_list(world, client):
    from django.utils import timezone
    from redis.exceptions import ConnectionError as RedisConnectionError

    job = _job(world, created_at=timezone.now() - timezone.timedelta(minutes=5))
    client.force_login(world.architect)
    with mock.patch(
        "engagements.tracking._rq_statuses", side_effect=RedisConnectionError("refused")
    ):
        assert client.get(f"/engagements/{world.engagement.pk}/jobs/").status_code == 200
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_job_list_and_engagement_list_queries_do_not_grow_with_jobs(world, client):
    client.force_login(world.architect)
    job_list = f"/engagements/{world.engagement.pk}/jobs/"

    def add(n):
        for i in range(n):
            _job(world, title=f"Queued {i}")  # active: swept on every view, alive in RQ
            _job(world, title=f"Done {i}", status=Job.Status.SUCCEEDED)

    counts = []
    with _rq_says("queued"):
        for n in (5, 10):  # 10 rows, then 30
            add(n)
            counts.append((_queries(client, job_list), _queries(client, "/engagements/")))
    assert counts[0] == counts[1]
    # Job list: session, user, engagement, role, the rows with who started them. The sweep of
    # the rows shown asks Redis only (one round trip), no query while nothing died.
    # Engagement list: session, user, the engagements with their counts, whether the user is
    # an architect anywhere ("New engagement"), the active jobs of engagements counting some.
    assert counts[1] == (5, 5)


def test_the_engagements_app_registers_the_periodic_sweep_as_worker_upkeep():
    # Only a worker started --with-scheduler calls upkeep (tests/engagements/test_worker.py).
    from engagements import worker
    from engagements.jobs import schedule_jobs_sweep

    assert schedule_jobs_sweep in worker._upkeep


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
