import sys

from django.apps import AppConfig


class EngagementsConfig(AppConfig):
    name = "engagements"
    verbose_name = "Engagements"

    def ready(self) -> None:
        from engagements import services, signals  # noqa: F401  (signals connects receivers)
        from engagements.tracking import runs_scheduler

        services.signoff_page_provide(
            subject="definitions", url_name="engagements:definitions", label="Definitions page"
        )
        if runs_scheduler(sys.argv):
            # A worker that runs RQ's scheduler keeps the minute-by-minute sweep of dead jobs
            # scheduled (engagements/jobs.py); the job id fixed by the minute makes this
            # idempotent.
            from engagements.jobs import schedule_jobs_sweep

            schedule_jobs_sweep()
