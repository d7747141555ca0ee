"""Background job entry point of the documentation package (thin: loads the row, calls the
service)."""

from __future__ import annotations

from engagements.models import Job
from engagements.tracking import tracked_job


@tracked_job
def package_build(job: Job) -> dict:
    from handoff import package

    result = package.package_build(
        engagement=job.engagement,
        actor=job.created_by,
        job=job,
        progress=job.report,
        force=bool(job.params.get("force")),
    )
    return {
        "package": result.package.pk,
        "version": result.package.version,
        "created": result.created,
        "seconds": round(result.seconds, 2),
        "peak_rss_mb": round(result.peak_rss_mb, 1),
        "timings": result.timings,
        "message": result.message,
    }
