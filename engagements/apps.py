from django.apps import AppConfig


class EngagementsConfig(AppConfig):
    name = "engagements"
    verbose_name = "Engagements"

    def ready(self) -> None:
        from engagements import services, signals  # noqa: F401  (signals connects receivers)

        services.signoff_page_provide(
            subject="definitions", url_name="engagements:definitions", label="Definitions page"
        )
