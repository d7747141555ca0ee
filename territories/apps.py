from django.apps import AppConfig


class TerritoriesConfig(AppConfig):
    name = "territories"
    verbose_name = "Territories"

    def ready(self) -> None:
        from engagements import dashboard, related, tracking
        from engagements import services as engagement_services
        from territories import design, jobs, services

        dashboard.provide("balance_variance", design.balance_variance_cells)
        dashboard.provide_downloads(design.map_downloads)
        # The territory map is published for sign-off by approving a balancing run.
        engagement_services.signoff_page_provide(
            subject=design.MAP_SUBJECT, url_name="design:run_list", label="Balancing runs"
        )
        tracking.on_job_lost(jobs.balancing_run, design.balancing_run_lost)
        related.provide_meeting_links(design.meeting_runs)
        engagement_services.assumption_value_check(
            "valuation.", services.valuation_correction_problems
        )
