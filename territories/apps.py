from django.apps import AppConfig


class TerritoriesConfig(AppConfig):
    name = "territories"
    verbose_name = "Territories"

    def ready(self) -> None:
        from engagements import dashboard
        from territories import design

        dashboard.provide("balance_variance", design.balance_variance_cells)
        dashboard.provide_downloads(design.map_downloads)
