"""The job pattern end to end with a real Redis and a real ``rqworker`` process."""

from __future__ import annotations

import os
import signal

import pytest

from engagements.models import Job
from engagements.tracking import _pid_alive, job_start, jobs_sweep
from territories.models import DataQualitySummary
from tests import jobs_support
from tests.factories import make_account

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def clean_queue():
    jobs_support.empty_queue()
    yield
    jobs_support.empty_queue()


def test_a_job_started_from_the_page_succeeds_through_a_real_worker(world, client):
    make_account(world.engagement, external_id="A-1", name="Acme", domain="acme.com")
    make_account(
        world.engagement,
        external_id="A-2",
        name="Acme",
        domain="acme.com",
        state="",
        postal_code="",
    )
    client.force_login(world.architect)

    response = client.post(f"/engagements/{world.engagement.pk}/accounts/quality/")
    assert response.status_code == 302
    job = Job.objects.get(engagement=world.engagement)
    assert response.url.endswith(f"?job={job.pk}")
    assert job.status == Job.Status.QUEUED

    # While queued, the page polls the status fragment.
    page = client.get(response.url).content.decode()
    assert f'hx-get="/engagements/{world.engagement.pk}/jobs/{job.pk}/status/' in page
    assert 'hx-trigger="every 1s"' in page

    jobs_support.run_burst_worker()

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 100
    summary = DataQualitySummary.objects.get(engagement=world.engagement)
    assert summary.job_id == job.pk
    assert summary.report["duplicates"]["domain"]["count"] == 2
    assert summary.report["no_geography"]["count"] == 1

    # The fragment now tells htmx to stop polling (286) and shows the final state.
    fragment = client.get(
        f"/engagements/{world.engagement.pk}/jobs/{job.pk}/status/?refresh_on_done=1",
        HTTP_HX_REQUEST="true",
    )
    assert fragment.status_code == 286
    assert fragment["HX-Refresh"] == "true"
    assert "Succeeded" in fragment.content.decode()
    assert "hx-trigger" not in fragment.content.decode()


def test_rerunning_the_job_replaces_its_result(world, client):
    make_account(world.engagement)
    client.force_login(world.architect)
    for _ in range(2):
        client.post(f"/engagements/{world.engagement.pk}/accounts/quality/")
        jobs_support.run_burst_worker()
    assert Job.objects.filter(engagement=world.engagement, status=Job.Status.SUCCEEDED).count() == 2
    assert DataQualitySummary.objects.filter(engagement=world.engagement).count() == 1


def test_a_killed_worker_leaves_the_job_failed_and_a_rerun_succeeds(world):
    job = job_start(
        engagement=world.engagement,
        func=jobs_support.slow_job,
        title="Slow",
        params={"seconds": 30},
    )
    worker = jobs_support.start_worker("--burst")
    try:
        running = jobs_support.wait_for(
            lambda: Job.objects.filter(
                pk=job.pk, status=Job.Status.RUNNING, progress__gt=0
            ).first(),
            timeout=60,
            what="the job to start running",
        )
        # The worker and its work horse (RQ forks it into its own session) die mid-job,
        # as when a machine is rebooted or the OOM killer strikes.
        os.kill(running.worker_pid, signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        jobs_support.wait_for(
            lambda: not _pid_alive(running.worker_pid), what="the work horse to die"
        )
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)

    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # nobody has told the row yet
    assert jobs_sweep() == [job]
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "died" in job.error

    rerun = job_start(
        engagement=world.engagement,
        func=jobs_support.slow_job,
        title="Slow",
        params={"seconds": 0.3},
    )
    assert rerun.pk != job.pk
    jobs_support.run_burst_worker()
    rerun.refresh_from_db()
    assert rerun.status == Job.Status.SUCCEEDED, rerun.error
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED  # the dead run stays failed; it is not resurrected


def test_a_job_that_raises_is_failed_with_its_message(world):
    job = job_start(engagement=world.engagement, func=jobs_support.failing_job, title="Bad")
    jobs_support.run_burst_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "row 7, column revenue" in job.error


def test_the_job_list_fails_a_job_redis_no_longer_holds(world, client):
    from django.utils import timezone

    # Queued minutes ago, but Redis has no such job (it was restarted): dead.
    lost = Job.objects.create(
        engagement=world.engagement,
        kind="tests.lost",
        title="Lost",
        created_at=timezone.now() - timezone.timedelta(minutes=5),
    )
    # Really in the queue, waiting for a worker: alive.
    waiting = job_start(engagement=world.engagement, func=jobs_support.slow_job, title="Waiting")
    client.force_login(world.architect)
    html = client.get(f"/engagements/{world.engagement.pk}/jobs/").content.decode()
    assert 'status-failed">Failed' in html.split(f"/jobs/{lost.pk}/", 1)[1].split("</tr>")[0]
    assert 'status-queued">Queued' in html.split(f"/jobs/{waiting.pk}/", 1)[1].split("</tr>")[0]
    lost.refresh_from_db()
    waiting.refresh_from_db()
    assert (lost.status, waiting.status) == (Job.Status.FAILED, Job.Status.QUEUED)
    assert "lost this job" in lost.error


def test_scheduling_the_periodic_sweep_twice_keeps_one_scheduled_run():
    import django_rq
    from django.utils import timezone
    from rq.registry import ScheduledJobRegistry

    from engagements import jobs

    first = jobs.schedule_jobs_sweep()
    second = jobs.schedule_jobs_sweep()
    assert first == second and first.startswith("engagements-sweep-jobs-")
    registry = ScheduledJobRegistry(queue=django_rq.get_queue("default"))
    assert registry.get_job_ids() == [first]
    when = registry.get_scheduled_time(first)
    assert timezone.now() < when <= timezone.now() + jobs.SWEEP_EVERY * 2


def test_a_worker_runs_the_periodic_sweep_and_schedules_the_next_one(world):
    import django_rq
    from django.utils import timezone
    from rq.registry import ScheduledJobRegistry

    from engagements import jobs

    dead = Job.objects.create(
        engagement=world.engagement,
        kind="tests.lost",
        title="Lost",
        created_at=timezone.now() - timezone.timedelta(minutes=5),
    )
    queue = django_rq.get_queue("default")
    queue.enqueue(jobs.sweep_jobs_periodic, job_id="engagements-sweep-jobs-now")
    jobs_support.run_burst_worker()
    dead.refresh_from_db()
    assert dead.status == Job.Status.FAILED and "lost this job" in dead.error
    assert world.engagement.activity.filter(verb="job.failed", data__job=dead.pk).exists()
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert len(scheduled) == 1 and scheduled[0].startswith("engagements-sweep-jobs-")


def test_a_job_hash_rq_cannot_read_counts_as_gone_and_the_others_are_still_swept(world):
    """RQ's fetch_many raises for every job when one hash has no payload (half-expired, or
    written by something else); the sweep must not crash a page or a job start on that."""
    import django_rq
    from django.utils import timezone

    queue = django_rq.get_queue("default")
    old = timezone.now() - timezone.timedelta(minutes=5)
    broken = Job.objects.create(
        engagement=world.engagement, kind="tests.x", title="Broken hash", created_at=old
    )
    alive = Job.objects.create(engagement=world.engagement, kind="tests.x", title="Waiting")
    queue.enqueue(jobs_support.slow_job, alive.pk, job_id=alive.rq_id)
    queue.connection.hset(f"rq:job:{broken.rq_id}", "status", "queued")  # no "data" field

    failed = jobs_sweep()

    broken.refresh_from_db()
    alive.refresh_from_db()
    assert [job.pk for job in failed] == [broken.pk]
    assert broken.status == Job.Status.FAILED and "lost this job" in broken.error
    assert alive.status == Job.Status.QUEUED
