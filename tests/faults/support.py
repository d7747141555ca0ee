"""Helpers for the fault tests: stop a real worker at a chosen point of a job and kill it.

``PausingJob`` is an RQ job class for the worker subprocess only (``rqworker --job-class``):
when ``PORTAL_TEST_PAUSE_AT`` is set, the work horse sleeps as soon as the job reports that
much progress (after the report is written). The test waits for that progress in the ``Job``
row, then SIGKILLs the work horse and the worker — so the kill lands at a known step of the real
job function, however fast the machine. Nothing of this is imported by the application.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from rq.job import Job as RQJob

from engagements.models import Job
from engagements.tracking import _pid_alive
from tests import jobs_support

PAUSE_ENV = "PORTAL_TEST_PAUSE_AT"


class PausingJob(RQJob):
    def perform(self):
        at = os.environ.get(PAUSE_ENV)
        if at:
            threshold = float(at)
            original = Job.report

            def report(job: Job, progress: float, message: str = "") -> None:
                original(job, progress, message)
                if progress >= threshold:
                    time.sleep(600)  # killed long before this ends

            Job.report = report
        return super().perform()


def start_pausing_worker(at: float) -> subprocess.Popen:
    """A worker (own process group) whose jobs stop once they report ``at`` per cent."""
    return subprocess.Popen(
        jobs_support.worker_command("--burst", "--job-class", "tests.faults.support.PausingJob"),
        cwd=jobs_support.ROOT,
        env={**jobs_support.worker_env(), PAUSE_ENV: str(at)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_worker_mid_job(job: Job, *, at: float, timeout: float = 120) -> Job:
    """Run ``job`` in a real worker until it reports ``at`` per cent, then SIGKILL the work horse
    and the worker (as the OOM killer or a reboot would). Returns the row as it was when killed:
    still "running" — nobody has told it."""
    worker = start_pausing_worker(at)
    try:
        running = jobs_support.wait_for(
            lambda: Job.objects.filter(
                pk=job.pk, status=Job.Status.RUNNING, progress__gte=at
            ).first(),
            timeout=timeout,
            what=f"job {job.pk} to reach {at} %",
        )
        os.kill(running.worker_pid, signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        jobs_support.wait_for(
            lambda: not _pid_alive(running.worker_pid), what="the work horse to die"
        )
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    return running
