from django.apps import AppConfig


class TerritoriesConfig(AppConfig):
    name = "territories"
    verbose_name = "Territories"

    def ready(self) -> None:
        from engagements import dashboard, tracking
        from engagements.services import assumption_value_check
        from territories import design, jobs, services

        dashboard.provide("balance_variance", design.balance_variance_cells)
        dashboard.provide_downloads(design.map_downloads)
        tracking.on_job_lost(jobs.balancing_run, design.balancing_run_lost)
        assumption_value_check("valuation.", services.valuation_correction_problems)
