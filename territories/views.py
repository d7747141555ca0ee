"""Account pages of an engagement."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from engagements.access import Capability, engagement_view
from engagements.models import Engagement
from engagements.tracking import job_start
from territories import jobs
from territories.models import DataQualitySummary


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.EDIT)
def data_quality(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    if request.method == "POST":
        job = job_start(
            engagement=engagement,
            func=jobs.data_quality_recompute,
            title="Recompute the data-quality report",
            user=request.user,
            dedupe_key="territories.data_quality",
        )
        messages.info(request, "Recomputing the data-quality report.")
        return redirect(f"{request.path}?job={job.pk}")
    summary = DataQualitySummary.objects.filter(engagement=engagement).first()
    running = None
    job_pk = request.GET.get("job", "")
    if job_pk.isdigit():
        running = engagement.jobs.filter(pk=int(job_pk)).first()
    return render(
        request,
        "territories/data_quality.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "summary": summary,
            "report": summary.report if summary else None,
            "job": running,
        },
    )
