"""Background job entry points: thin, they load the row and call a service."""

from __future__ import annotations

from engagements.models import Job
from engagements.tracking import tracked_job
from territories import services
from territories.models import AccountImport


@tracked_job
def data_quality_recompute(job: Job) -> dict:
    summary = services.data_quality_recompute(
        engagement=job.engagement, job=job, progress=job.report
    )
    return {
        "accounts": summary.account_count,
        "message": f"Checked {summary.account_count:,} accounts",
    }


@tracked_job
def account_import_run(job: Job) -> dict:
    record = AccountImport.objects.get(engagement=job.engagement, pk=job.params["import"])
    try:
        record = services.account_import_run(
            account_import=record, user=job.created_by, job=job, progress=job.report
        )
    except Exception as exc:
        record.refresh_from_db()
        if not record.is_finished:  # it stopped before or inside the write: nothing is stored
            record.mark_failed(f"The import stopped with an error: {exc}")
        raise
    return {
        "import": record.pk,
        "status": record.status,
        "created": record.created_count,
        "updated": record.updated_count,
        "rejected_rows": record.rows_rejected,
        "message": record.get_status_display()
        + (
            f": {record.created_count:,} new, {record.updated_count:,} updated"
            if record.rows_imported
            else ""
        )
        + (f", {record.rows_rejected:,} rows rejected" if record.rows_rejected else ""),
    }


@tracked_job
def accounts_revalue(job: Job) -> dict:
    summary = services.accounts_revalue(engagement=job.engagement, job=job, progress=job.report)
    total = summary.summary.get("total_value", 0)
    return {
        "accounts": summary.account_count,
        "total_value": total,
        "message": f"Valued {summary.account_count:,} accounts: ${total:,.0f} in total",
    }


@tracked_job
def valued_accounts_export(job: Job) -> dict:
    return services.valued_accounts_export(engagement=job.engagement, progress=job.report)


@tracked_job
def balancing_run(job: Job) -> dict:
    from territories import design
    from territories.models import BalancingRun

    run = BalancingRun.objects.select_related("engagement").get(
        engagement=job.engagement, pk=job.params["run"]
    )
    run = design.balancing_run_execute(run=run, progress=job.report)
    value = run.metrics.get("value", {})
    return {
        "run": run.pk,
        "territories": run.metrics.get("territories", 0),
        "message": f"{run.title}: {run.metrics.get('territories', 0)} territories, value within "
        f"±{value.get('max_dev_pct') or 0:.1f} % of the pod means",
    }


@tracked_job
def growth_plan_compute(job: Job) -> dict:
    from territories import design
    from territories.models import BalancingRun

    run = BalancingRun.objects.get(engagement=job.engagement, pk=job.params["run"])
    plan = design.growth_plan_compute(run=run, progress=job.report)
    return {
        "run": run.pk,
        "steps": len(plan.steps),
        "message": f"{len(plan.steps)} pre-planned cuts for {run.title}",
    }


@tracked_job
def rebalancing_plan_compute(job: Job) -> dict:
    from territories import design
    from territories.models import BalancingRun

    run = BalancingRun.objects.select_related("engagement").get(
        engagement=job.engagement, pk=job.params["run"]
    )
    plan = design.rebalancing_plan_compute(run=run, progress=job.report, job=job)
    flagged = plan.inputs.get("flagged", [])
    return {
        "run": run.pk,
        "pods": flagged,
        "moves": sum(p["total"] for p in plan.pods.values()),
        "message": f"Suggested moves for {len(flagged)} pod{'s' if len(flagged) != 1 else ''} "
        f"of {run.title}"
        if flagged
        else f"No pod of {run.title} needs rebalancing",
    }
