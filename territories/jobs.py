"""Background job entry points: thin, they load the row and call a service."""

from __future__ import annotations

from engagements.models import Job
from engagements.tracking import tracked_job
from territories import services


@tracked_job
def data_quality_recompute(job: Job) -> dict:
    summary = services.data_quality_recompute(
        engagement=job.engagement, job=job, progress=job.report
    )
    return {
        "accounts": summary.account_count,
        "message": f"Checked {summary.account_count:,} accounts",
    }
