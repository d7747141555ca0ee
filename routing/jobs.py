"""Background job entry points of the routing app: thin, they load the row and call a service."""

from __future__ import annotations

from engagements.models import Job
from engagements.tracking import tracked_job
from routing import services
from routing.models import RoutingAudit, RoutingBatch


@tracked_job
def batch_route(job: Job) -> dict:
    batch = RoutingBatch.objects.get(engagement=job.engagement, pk=job.params["batch"])
    batch = services.batch_run(batch=batch, progress=job.report)
    return {"batch": batch.pk, "rows": batch.rows, "message": f"Routed {batch.rows:,} rows"}


@tracked_job
def qa_run(job: Job) -> dict:
    run = services.qa_run(
        engagement=job.engagement, user=job.created_by, job=job, progress=job.report
    )
    return {
        "run": run.pk,
        "passed": run.passed,
        "total": run.total,
        "message": f"{run.passed} of {run.total} cases passed",
    }


@tracked_job
def audit_run(job: Job) -> dict:
    audit = RoutingAudit.objects.get(engagement=job.engagement, pk=job.params["audit"])
    audit = services.audit_run(audit=audit, progress=job.report)
    accuracy = "n/a" if audit.accuracy is None else f"{audit.accuracy:.1f} %"
    return {
        "audit": audit.pk,
        "accuracy": audit.accuracy,
        "message": f"Accuracy {accuracy} on {audit.compared} accounts",
    }
