import sys

from django.apps import AppConfig


class HandoffConfig(AppConfig):
    name = "handoff"
    verbose_name = "Handoff"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from engagements import dashboard
        from engagements.models import GateDecision
        from handoff import services, signals

        dashboard.provide("hypercare", services.hypercare_cells)
        dashboard.provide("refinement_triggers", services.trigger_cells)
        post_save.connect(
            signals.extend_hypercare,
            sender=GateDecision,
            dispatch_uid="handoff.extend_hypercare",
        )
        if any("rqworker" in part for part in sys.argv[:3]):
            # A worker (started --with-scheduler, see Makefile and bin/with_redis.py) keeps the
            # daily refinement-trigger check scheduled; the fixed job id makes this idempotent.
            from handoff.jobs import schedule_daily_check

            schedule_daily_check()
