"""Background jobs of the handoff app: the daily refinement-trigger check (and the refinement
check-in reminder it records).

The check reschedules itself for the next day with RQ's scheduler (``queue.enqueue_at``), which
needs a worker started ``--with-scheduler`` (``make worker``, ``bin/with_redis.py --worker``).
Such a worker also calls ``schedule_daily_check`` at start-up and at every maintenance pass
(``engagements/worker.py``), so a flushed or restarted Redis, which forgets scheduled jobs, gets
the check back within ``WORKER_MAINTENANCE_SECONDS``. Every run has a job id fixed by its day, so
those calls, several workers, or a worker restarted never schedule a second chain: an id already
queued, scheduled or running is left alone.
Results are the ``TriggerEvaluation`` rows (latest per trigger, with ``evaluated_at``): a rerun
replaces them, never adds.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from engagements.worker import schedule_once
from handoff import services

log = logging.getLogger(__name__)

RUN_AT = time(5, 30)  # local time of the daily check, before the working day


def job_id_for(day: date) -> str:
    return f"handoff-check-triggers-{day:%Y%m%d}"


def check_triggers_all() -> dict:
    """Evaluate every engagement with an approved map or a rollout date; one failing
    engagement does not stop the others."""
    checked, fired, failed = 0, 0, []
    for engagement in services.engagements_to_check():
        try:
            rows = services.triggers_check(engagement=engagement)
        except Exception:
            log.exception("Refinement triggers of engagement %s failed", engagement.pk)
            failed.append(engagement.pk)
            continue
        checked += 1
        fired += sum(1 for r in rows if r.fired)
    return {"engagements": checked, "fired": fired, "failed": failed}


def check_triggers_daily() -> dict:
    """The scheduled entry point: check the triggers, ping the architects whose refinement
    check-in comes in two weeks (an activity line), then schedule tomorrow's run."""
    try:
        result = check_triggers_all()
        result["checkin_reminders"] = [d.engagement_id for d in services.checkin_reminders_record()]
        return result
    finally:
        schedule_daily_check(after=timezone.localdate())


def _next_run(after: date | None) -> datetime:
    now = timezone.localtime()
    day = (after + timedelta(days=1)) if after else now.date()
    when = timezone.make_aware(datetime.combine(day, RUN_AT))
    if when <= now:
        when = timezone.make_aware(datetime.combine(now.date() + timedelta(days=1), RUN_AT))
    return when


def schedule_daily_check(*, after: date | None = None) -> str | None:
    """Schedule the next daily check unless it is already queued or scheduled; returns its
    job id (None when Redis is unreachable: the worker logs it and runs without the check)."""
    when = _next_run(after)
    return schedule_once(
        check_triggers_daily,
        job_id=job_id_for(timezone.localdate(when)),
        when=when,
        result_ttl=7 * 24 * 3600,
        what="the daily refinement-trigger check",
    )
