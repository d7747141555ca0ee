"""The project's RQ worker: RQ's forking worker plus upkeep that must survive a Redis flush.

RQ keeps scheduled jobs (``enqueue_at``) only in Redis, so a flushed or restarted Redis forgets
them while the worker process lives on. Apps register an idempotent upkeep function with
``on_upkeep(func)`` in their ``ready()``; a worker started ``--with-scheduler`` calls every one at
start-up and at each of RQ's maintenance passes (every ``WORKER_MAINTENANCE_SECONDS``, checked
whenever the worker wakes from waiting for a job). Workers without the scheduler — burst workers
in tests, extra workers — call nothing: a job scheduled where no scheduler runs would never start.

Chosen over RQ 3's ``CronScheduler`` (``rqcron``): that is one more process to run, and two of
them would both enqueue every run; the upkeep functions here are idempotent, so any number of
workers may call them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq.worker import Worker as RQWorker

log = logging.getLogger(__name__)

_upkeep: list[Callable[[], object]] = []


def on_upkeep(func: Callable[[], object]) -> None:
    """Call ``func()`` at each maintenance pass of a worker that runs the scheduler. It must be
    idempotent and quick (it runs in the worker's main process, between jobs)."""
    if func not in _upkeep:
        _upkeep.append(func)


def schedule_once(
    func: Callable[[], object], *, job_id: str, when: datetime, result_ttl: int, what: str
) -> str | None:
    """Schedule ``func`` at ``when`` under ``job_id`` unless a job of that id is already
    scheduled, queued or running; return the id (None when Redis is unreachable: logged, and
    the worker goes on without it). The id fixed by the period makes upkeep idempotent."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob

    try:
        queue = django_rq.get_queue("default")
        try:
            existing = RQJob.fetch(job_id, connection=queue.connection)
        except NoSuchJobError:
            existing = None
        if existing is not None:
            status = existing.get_status(refresh=False)
            if getattr(status, "value", status) in ("scheduled", "queued", "started", "deferred"):
                return job_id
        queue.enqueue_at(when, func, job_id=job_id, result_ttl=result_ttl)
    except RedisError as exc:
        log.warning("Could not schedule %s: %s", what, exc)
        return None
    return job_id


def run_upkeep() -> None:
    for func in _upkeep:
        try:
            func()
        except Exception:
            # RQ's work loop quits the worker on any exception: upkeep must never take it down.
            log.exception("Worker upkeep %s.%s failed", func.__module__, func.__qualname__)


class Worker(RQWorker):
    """Configured as ``RQ["WORKER_CLASS"]`` in settings, so ``manage.py rqworker`` uses it."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", settings.WORKER_MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        # ``self.scheduler`` is set when the worker was started ``--with-scheduler``.
        if self.scheduler is not None:
            run_upkeep()
