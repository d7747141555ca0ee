from django.apps import AppConfig


class TerritoriesConfig(AppConfig):
    name = "territories"
    verbose_name = "Territories"

    def ready(self) -> None:
        from engagements import dashboard, related, tracking
        from territories import design, jobs

        dashboard.provide("balance_variance", design.balance_variance_cells)
        dashboard.provide_downloads(design.map_downloads)
        tracking.on_job_lost(jobs.balancing_run, design.balancing_run_lost)
        related.provide_meeting_links(design.meeting_runs)
