"""The one job-tracking pattern of the project (STYLE.md §9).

* ``job_start(...)`` writes a ``Job`` row and enqueues the RQ job **after the transaction
  commits**, so the worker never looks for a row that is not there yet. A job with the same
  ``dedupe_key`` already queued or running is returned instead of starting a second one.
* ``@tracked_job`` wraps a job function in ``<app>/jobs.py``: it loads the row, marks it
  running, passes it to the function (which reports progress with ``job.report``), and marks it
  succeeded or failed. A row that already finished is not run again (RQ may deliver twice).
* ``jobs_sweep()`` finds rows whose work is gone — the worker process died, RQ lost or failed the
  job — and marks them failed, so nothing stays "running" forever. It runs for the job a status
  fragment shows, for the rows a job list or the engagement page shows (``jobs_sweep_rows``),
  for the engagements of the engagement list, every minute on a worker started
  ``--with-scheduler`` (``engagements.jobs``), and from ``manage.py sweep_jobs``.

Results must be idempotent: a job function replaces what a previous run wrote, never adds to it.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import traceback
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from engagements.models import Engagement, Job, User
from engagements.services import activity_record

log = logging.getLogger(__name__)

# A running row whose worker gives no sign of life for this long is considered dead even when
# its worker runs on another host (where we cannot look at the process table).
STALE_AFTER = timedelta(minutes=10)
# A queued row whose RQ job vanished (e.g. Redis restarted) is failed after this grace period.
LOST_AFTER = timedelta(seconds=30)


# Handlers called with a Job the sweep failed, by job kind (``module.function``).
_LOST_HANDLERS: dict[str, list[Callable[[Job], None]]] = {}


def _kind(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__name__}"


def on_job_lost(func: Callable[..., Any], handler: Callable[[Job], None]) -> None:
    """Call ``handler(job)`` whenever the sweep fails a job of ``func`` (its worker died or RQ
    lost it). The handler runs in the sweeping process, never in the dead worker; it must be
    idempotent."""
    handlers = _LOST_HANDLERS.setdefault(_kind(func), [])
    if handler not in handlers:
        handlers.append(handler)


def _queue():
    return django_rq.get_queue("default")


def job_start(
    *,
    engagement: Engagement,
    func: Callable[[int], Any],
    title: str,
    user: User | None = None,
    params: dict[str, Any] | None = None,
    dedupe_key: str = "",
) -> Job:
    """Create the job row and enqueue ``func(job_pk)`` once the current transaction commits."""
    if dedupe_key:
        existing = (
            Job.objects.filter(engagement=engagement, dedupe_key=dedupe_key, status__in=Job.ACTIVE)
            .order_by("-created_at")
            .first()
        )
        if existing is not None and not _sweep_one(existing):
            return existing
    kind = _kind(func)
    job = Job.objects.create(
        engagement=engagement,
        kind=kind,
        title=title,
        params=params or {},
        dedupe_key=dedupe_key,
        created_by=user if user is not None and user.is_authenticated else None,
        message="Waiting for a worker",
    )
    activity_record(
        engagement=engagement,
        actor=user,
        verb="job.queued",
        summary=f"Started: {title}",
        data={"job": job.pk},
    )
    transaction.on_commit(functools.partial(_enqueue, job.pk, func))
    return job


def _enqueue(job_pk: int, func: Callable[[int], Any]) -> None:
    job = Job.objects.get(pk=job_pk)
    try:
        _queue().enqueue(
            func,
            job_pk,
            job_id=job.rq_id,
            job_timeout=settings.JOB_TIMEOUT,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
        )
    except RedisError as exc:
        log.exception("Could not enqueue job %s", job_pk)
        job.mark_failed(
            f"The job queue is unavailable ({exc.__class__.__name__}: {exc}).",
            message="Could not reach the job queue",
        )


def tracked_job(func: Callable[[Job], dict[str, Any] | None]) -> Callable[[int], Any]:
    """Decorate a job entry point taking the ``Job``; the RQ job calls it with the row's pk."""

    @functools.wraps(func)
    def run(job_pk: int) -> dict[str, Any] | None:
        job = Job.objects.select_related("engagement", "created_by").filter(pk=job_pk).first()
        if job is None:
            log.warning("Job row %s is gone; nothing to do.", job_pk)
            return None
        if job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
            log.info("Job %s already %s; not running it again.", job_pk, job.status)
            return job.result
        job.mark_running()
        try:
            result = func(job) or {}
        except Exception as exc:
            job.mark_failed(
                "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000],
                message=_short_error(exc),
            )
            activity_record(
                engagement=job.engagement,
                actor=job.created_by,
                verb="job.failed",
                summary=f"Failed: {job.title}",
                data={"job": job.pk},
            )
            raise
        job.mark_succeeded(result, message=result.get("message", "") if result else "")
        activity_record(
            engagement=job.engagement,
            actor=job.created_by,
            verb="job.succeeded",
            summary=f"Finished: {job.title}",
            data={"job": job.pk},
        )
        return result

    return run


def _short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else exc.__class__.__name__)[:300]


def _pid_alive(pid: int) -> bool:
    """Whether a process runs with ``pid`` on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The state follows the parenthesised command name, which may itself hold spaces.
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True  # no procfs (macOS): trust kill(0)


def _rq_statuses(jobs: list[Job]) -> dict[int, tuple[str | None, str]]:
    """RQ's view of ``jobs`` in one Redis round trip: {job pk: (status or None when RQ no
    longer has it, exception text of a failed job)}."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob

    if not jobs:
        return {}
    connection = _queue().connection
    ids = [job.rq_id for job in jobs]
    try:
        rq_jobs = RQJob.fetch_many(ids, connection=connection)
    except NoSuchJobError:
        # One hash RQ cannot read (half-expired, or written by something else) makes
        # fetch_many raise for all; ask one by one and treat the unreadable ones as gone.
        rq_jobs = [_fetch_or_none(rq_id, connection) for rq_id in ids]
    states: dict[int, tuple[str | None, str]] = {}
    for job, rq_job in zip(jobs, rq_jobs, strict=True):
        if rq_job is None:
            states[job.pk] = (None, "")
            continue
        status = rq_job.get_status(refresh=False)
        status_text = getattr(status, "value", status)
        exc_text = ""
        if status_text == "failed":
            result = rq_job.latest_result()
            exc_text = (getattr(result, "exc_string", "") or "").strip()
        states[job.pk] = (status_text, exc_text)
    return states


def _fetch_or_none(rq_id: str, connection):
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob

    try:
        return RQJob.fetch(rq_id, connection=connection)
    except NoSuchJobError:
        return None


def _is_local(job: Job) -> bool:
    """A running job whose work horse runs on this host: its pid tells whether it lives."""
    return bool(
        job.status == Job.Status.RUNNING
        and job.worker_pid
        and job.worker_host == socket.gethostname()
    )


def _dead_reason(job: Job, rq_state: tuple[str | None, str], now) -> str:
    """Why ``job`` (active) is dead, or "" while its work may still be going on."""
    if _is_local(job):
        if _pid_alive(job.worker_pid):
            # The work horse is alive on this host: it will write its own outcome, even if
            # Redis forgot the job meanwhile (a Redis restart mid-job).
            return ""
        return f"The worker process (pid {job.worker_pid}) died while running this job."
    status, exc_text = rq_state
    if status in ("failed", "stopped", "canceled"):
        last = exc_text.splitlines()[-1] if exc_text else ""
        return f"The worker reported the job {status}" + (f": {last}" if last else ".")
    if status is None:
        since = job.heartbeat_at or job.created_at
        if now - since > LOST_AFTER:
            return "The job queue lost this job (Redis restarted or the job expired)."
    elif (
        job.status == Job.Status.RUNNING
        and job.heartbeat_at
        and now - job.heartbeat_at > STALE_AFTER
    ):
        return f"No sign of life from the worker for {STALE_AFTER}."
    return ""


def _fail_dead(job: Job, reason: str, now) -> bool:
    updated = Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).update(
        status=Job.Status.FAILED, error=reason, message="Failed: worker gone", finished_at=now
    )
    if updated:
        job.refresh_from_db()
        activity_record(
            engagement=job.engagement,
            actor=None,
            verb="job.failed",
            summary=f"Failed (worker gone): {job.title}",
            data={"job": job.pk},
        )
        for handler in _LOST_HANDLERS.get(job.kind, ()):
            try:
                handler(job)
            except Exception:  # one broken handler must not stop the sweep of other jobs
                log.exception("Handler %s failed for lost job %s", handler, job.pk)
    return bool(updated)


def _sweep(jobs: list[Job]) -> list[Job]:
    """Fail those of ``jobs`` whose work is gone (updating them in place); return them.

    No database query unless a job is failed; one Redis round trip for the jobs that are not
    running on this host (an unreachable Redis fails nothing: the job may still be fine).
    """
    active = [job for job in jobs if job.status in Job.ACTIVE]
    if not active:
        return []
    remote = [job for job in active if not _is_local(job)]
    try:
        states = _rq_statuses(remote)
    except RedisError:
        states = {job.pk: ("unknown", "") for job in remote}
    now = timezone.now()
    failed = []
    for job in active:
        reason = _dead_reason(job, states.get(job.pk, ("unknown", "")), now)
        if reason and _fail_dead(job, reason, now):
            failed.append(job)
    return failed


def _sweep_one(job: Job) -> bool:
    """Mark ``job`` failed if its work is gone; return True when it did."""
    return bool(_sweep([job]))


def jobs_sweep_rows(jobs: Iterable[Job]) -> list[Job]:
    """Sweep the job rows a page is about to show, so a list never calls a dead job running.

    The rows are updated in place; no query is made unless one of them is failed."""
    return _sweep(list(jobs))


def job_refresh(job: Job) -> Job:
    """Re-read the row, first failing it if its worker is gone (used by the status fragment)."""
    _sweep_one(job)
    job.refresh_from_db()
    return job


def jobs_sweep(
    *, engagement: Engagement | None = None, engagement_ids: Iterable[int] | None = None
) -> list[Job]:
    """Fail every active job (of ``engagement``, or of ``engagement_ids``) whose work is gone;
    return the jobs it failed. One query for the active rows, one Redis round trip."""
    qs = Job.objects.select_related("engagement").filter(status__in=Job.ACTIVE)
    if engagement is not None:
        qs = qs.filter(engagement=engagement)
    if engagement_ids is not None:
        qs = qs.filter(engagement_id__in=list(engagement_ids))
    return _sweep(list(qs))
