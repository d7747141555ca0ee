import sys
import threading

from django.apps import AppConfig
from django.conf import settings

# Processes that route records: warm the ZIP table there, nowhere else (tests, migrate, shell).
_SERVER_COMMANDS = ("gunicorn", "rqworker", "runserver", "uwsgi")


def should_warm_geo(argv: list[str], setting: str) -> bool:
    if setting in ("on", "off"):
        return setting == "on"
    return any(command in part for part in argv[:3] for command in _SERVER_COMMANDS)


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from engagements import dashboard, services
        from routing import providers
        from routing.services import QA_SUBJECT

        dashboard.provide_downloads(providers.routing_downloads)
        services.signoff_page_provide(
            subject=QA_SUBJECT,
            url_name="routing:qa_suite",
            label="QA suite",
            anchor="engineering-signoff",
        )
        if should_warm_geo(sys.argv, settings.WARM_GEO):
            warm_geo()


_warm_lock = threading.Lock()


def warm_geo() -> None:
    """Load the ZIP-code table now (~1.2 s) so the first routed record does not pay for it.

    Called in AppConfig.ready of web servers and workers: a gunicorn worker (or the master with
    --preload) loads it before serving; an RQ worker loads it once and its work horses inherit
    it through fork. The lock keeps threaded servers from building it twice.
    """
    from territories import geo

    with _warm_lock:
        geo.postal_to_state("10001")
