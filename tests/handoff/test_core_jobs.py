"""The daily refinement-trigger check: the job function, its idempotent scheduling on Redis,
and a real worker running it."""

from __future__ import annotations

import time
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from handoff import jobs, services
from handoff.models import AccuracyCheck, TriggerEvaluation
from tests import jobs_support


def _rolled_out(engagement, *, correct=40):
    today = timezone.localdate()
    services.hypercare_rollout_set(engagement=engagement, rollout=today, actor=None)
    AccuracyCheck.objects.create(engagement=engagement, day=today, sampled=50, correct=correct)


@pytest.mark.django_db
def test_check_all_evaluates_every_rolled_out_engagement_and_survives_a_failure(world, monkeypatch):
    _rolled_out(world.engagement)
    _rolled_out(world.other, correct=50)
    real = services.triggers_check

    def flaky(*, engagement, **kwargs):
        if engagement.pk == world.other.pk:
            raise RuntimeError("drift check failed")
        return real(engagement=engagement, **kwargs)

    monkeypatch.setattr(services, "triggers_check", flaky)
    result = jobs.check_triggers_all()
    assert result == {"engagements": 1, "fired": 1, "failed": [world.other.pk]}
    assert TriggerEvaluation.objects.filter(engagement=world.engagement, fired=True).count() == 1


@pytest.mark.django_db
def test_engagements_without_map_or_rollout_are_not_checked(world):
    assert services.engagements_to_check() == []
    _rolled_out(world.engagement)
    assert services.engagements_to_check() == [world.engagement]


@pytest.mark.needs_redis
@pytest.mark.django_db(transaction=True)
class TestOnRedis:
    @pytest.fixture(autouse=True)
    def clean_queue(self):
        jobs_support.empty_queue()
        yield
        jobs_support.empty_queue()

    def test_scheduling_twice_keeps_one_scheduled_job(self):
        queue = django_rq.get_queue("default")
        first = jobs.schedule_daily_check()
        second = jobs.schedule_daily_check()
        assert first == second and first.startswith("handoff-check-triggers-")
        registry = ScheduledJobRegistry(queue=queue)
        assert registry.get_job_ids() == [first]
        when = registry.get_scheduled_time(first)
        assert timezone.now() < when <= timezone.now() + timedelta(days=1, minutes=1)

    def test_a_worker_runs_the_check_and_schedules_the_next_day(self, world):
        _rolled_out(world.engagement)
        queue = django_rq.get_queue("default")
        queue.enqueue(jobs.check_triggers_daily, job_id="handoff-check-triggers-now")
        jobs_support.run_burst_worker()
        row = TriggerEvaluation.objects.get(engagement=world.engagement, slug="routing-accuracy")
        assert row.fired and "40 of 50" in row.detail
        tomorrow = jobs.job_id_for(timezone.localdate() + timedelta(days=1))
        assert tomorrow in ScheduledJobRegistry(queue=queue).get_job_ids()

    def test_a_scheduler_worker_schedules_the_check_and_rearms_it_after_a_flush(self):
        queue = django_rq.get_queue("default")
        registry = ScheduledJobRegistry(queue=queue)

        def daily() -> list[str]:  # the same worker also keeps the sweep of dead jobs scheduled
            return [i for i in registry.get_job_ids() if i.startswith("handoff-check-triggers-")]

        worker = jobs_support.start_worker(
            *jobs_support.SCHEDULER_WORKER, env=jobs_support.SCHEDULER_WORKER_ENV
        )
        try:
            scheduled = jobs_support.wait_for(daily, what="the worker to schedule the daily check")
            assert scheduled == [jobs.job_id_for(timezone.localdate(jobs._next_run(None)))]
            queue.connection.flushdb()  # Redis forgets every scheduled job; the worker lives on
            assert daily() == []
            rearmed = jobs_support.wait_for(daily, what="the worker to re-arm the daily check")
            assert rearmed == scheduled
            # Many more passes later there is still exactly one scheduled check.
            passes = time.monotonic() + 3
            jobs_support.wait_for(lambda: time.monotonic() > passes, what="more passes")
            assert daily() == scheduled
            assert worker.poll() is None
        finally:
            output = jobs_support.stop_worker(worker)
        assert "Worker upkeep" not in output, output

    def test_a_worker_without_the_scheduler_schedules_nothing(self):
        queue = django_rq.get_queue("default")
        jobs_support.run_burst_worker()
        assert ScheduledJobRegistry(queue=queue).get_job_ids() == []
