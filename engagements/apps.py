from django.apps import AppConfig


class EngagementsConfig(AppConfig):
    name = "engagements"
    verbose_name = "Engagements"

    def ready(self) -> None:
        from engagements import services, signals, worker  # noqa: F401  (signals: receivers)
        from engagements.jobs import schedule_jobs_sweep

        services.signoff_page_provide(
            subject="definitions", url_name="engagements:definitions", label="Definitions page"
        )
        # A worker that runs RQ's scheduler keeps the minute-by-minute sweep of dead jobs
        # scheduled (engagements/jobs.py), re-armed at each maintenance pass after a Redis flush;
        # the job id fixed by the minute makes this idempotent.
        worker.on_upkeep(schedule_jobs_sweep)
