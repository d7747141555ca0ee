"""Project-level views: health check and error pages."""

from __future__ import annotations

import logging
import time

import django_rq
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)

# What /healthz says about a component that failed. Anyone may call /healthz, so the driver's
# message (host names, ports, user names) goes to the server log, never into the answer.
DATABASE_DOWN = "The database did not answer (the reason is in the server log)."
REDIS_DOWN = "Redis did not answer (the reason is in the server log)."


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        # One line, no traceback: load balancers probe every few seconds.
        log.warning("/healthz: the database check failed: %s: %s", exc.__class__.__name__, exc)
        return {"ok": False, "error": DATABASE_DOWN}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round(1000 * (time.perf_counter() - started), 1),
    }


def _check_redis() -> tuple[dict, dict]:
    from rq import Worker

    started = time.perf_counter()
    try:
        queue = django_rq.get_queue("default")
        queue.connection.ping()
        redis_state = {"ok": True, "ms": round(1000 * (time.perf_counter() - started), 1)}
        workers = Worker.all(connection=queue.connection)
        worker_state = {
            "count": len(workers),
            "busy": sum(1 for w in workers if w.get_state() == "busy"),
            "queued_jobs": queue.count,
        }
    except Exception as exc:  # connection refused, timeout, auth: all mean "down"
        log.warning("/healthz: the Redis check failed: %s: %s", exc.__class__.__name__, exc)
        redis_state = {"ok": False, "error": REDIS_DOWN}
        worker_state = {"count": 0, "busy": 0, "queued_jobs": None}
    return redis_state, worker_state


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and Redis answer; 503 otherwise. Workers are reported, and a
    deployment with none is "degraded": pages work but jobs wait."""
    database = _check_database()
    redis_state, workers = _check_redis()
    usable = database["ok"] and redis_state["ok"]
    status = "ok" if usable and workers["count"] else ("degraded" if usable else "down")
    return JsonResponse(
        {"status": status, "database": database, "redis": redis_state, "workers": workers},
        status=200 if usable else 503,
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context: the database may be what failed.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)
