"""Background jobs of the engagements app: the periodic sweep of dead jobs.

``jobs_sweep`` fails job rows whose worker died or whose queue entry vanished. Pages sweep the
rows they show, but an engagement nobody looks at would keep a dead job "running" on every
dashboard count until someone opened it; so a worker started ``--with-scheduler`` (``make
worker``, ``bin/with_redis.py --worker``) runs the sweep every minute. Like the daily trigger
check (``handoff/jobs.py``) the run reschedules itself with RQ's scheduler, under a job id fixed
by its minute, so two workers starting, or a worker restarted, never start a second chain.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from engagements.tracking import jobs_sweep
from engagements.worker import schedule_once

log = logging.getLogger(__name__)

SWEEP_EVERY = timedelta(minutes=1)


def job_id_for(when: datetime) -> str:
    return f"engagements-sweep-jobs-{timezone.localtime(when):%Y%m%d%H%M}"


def sweep_jobs_periodic() -> dict:
    """The scheduled entry point: sweep every engagement, then schedule the next run."""
    try:
        failed = jobs_sweep()
        for job in failed:
            log.warning("Job %s (%s) marked failed: %s", job.pk, job.title, job.error)
        return {"failed": [job.pk for job in failed]}
    finally:
        schedule_jobs_sweep()


def _next_run(now: datetime) -> datetime:
    """The start of the next whole minute (at least a few seconds away)."""
    start = now.replace(second=0, microsecond=0) + SWEEP_EVERY
    if start - now < timedelta(seconds=5):
        start += SWEEP_EVERY
    return start


def schedule_jobs_sweep() -> str | None:
    """Schedule the next sweep unless it is already queued or scheduled; returns its job id
    (None when Redis is unreachable: the worker logs it and runs without the sweep)."""
    when = _next_run(timezone.now())
    # Short result TTL: a run per minute must not fill Redis with finished jobs.
    return schedule_once(
        sweep_jobs_periodic,
        job_id=job_id_for(when),
        when=when,
        result_ttl=600,
        what="the periodic sweep of dead jobs",
    )
