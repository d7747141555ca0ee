"""The engagement list and overview, the activity log, and the job pages of the tracking
pattern."""

from __future__ import annotations

from collections import Counter

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling

from engagements import dashboard
from engagements.access import can_create_engagement, engagement_view, engagements_for
from engagements.models import Engagement, Job
from engagements.services import (
    INTERNAL_ACTIVITY_PREFIXES,
    engagement_state,
    intake_progress,
    territory_design_blockers,
)
from engagements.tracking import job_refresh, jobs_sweep, jobs_sweep_rows


def _engagement_rows(user) -> list[Engagement]:
    """Engagements visible to ``user`` with the counts every list shows (one query).

    Where a row counts active jobs, those jobs are swept first (one more query, one Redis
    round trip), so a job whose worker died is never counted as running."""
    rows = list(
        engagements_for(user).annotate(
            account_count=Count("accounts", distinct=True),
            active_jobs=Count("jobs", filter=Q(jobs__status__in=Job.ACTIVE), distinct=True),
            last_activity=Max("activity__created_at"),
        )
    )
    busy = [row.pk for row in rows if row.active_jobs]
    if busy:
        failed = Counter(job.engagement_id for job in jobs_sweep(engagement_ids=busy))
        for row in rows:
            row.active_jobs -= failed[row.pk]
    return rows


@login_required
@require_GET
def engagement_list(request: HttpRequest) -> HttpResponse:
    rows = _engagement_rows(request.user)
    can_create = can_create_engagement(request.user)
    return render(
        request,
        "engagements/engagement_list.html",
        {"engagements": rows, "can_create": can_create},
    )


def visible_activity(engagement: Engagement):
    """The engagement's activity; consultancy-internal lines are left out for customers."""
    events = engagement.activity.select_related("actor")
    if "internal" not in engagement.access.caps:
        for prefix in INTERNAL_ACTIVITY_PREFIXES:
            events = events.exclude(verb__startswith=prefix)
    return events


@engagement_view()
@require_GET
def engagement_detail(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    members = engagement.memberships.select_related("user").order_by("role", "user__username")
    jobs = list(engagement.jobs.select_related("created_by")[:5])
    jobs_sweep_rows(jobs)  # never show a job whose worker died as running
    state = engagement_state(engagement=engagement)
    overview = dashboard.engagement_overviews(
        [engagement], with_cells="internal" in engagement.access.caps
    )[0]
    intake = getattr(engagement, "intake", None)
    return render(
        request,
        "engagements/engagement_detail.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "members": members,
            "jobs": jobs,
            "activity": visible_activity(engagement)[:15],
            "account_count": engagement.accounts.count(),
            "state": state,
            "overview": overview,
            "columns": dashboard.PROVIDED_COLUMNS,
            "design_blockers": territory_design_blockers(engagement=engagement),
            "intake": intake,
            "intake_progress": intake_progress(intake=intake) if intake else None,
        },
    )


@engagement_view()
@require_GET
def activity_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    events = visible_activity(engagement)
    kind = request.GET.get("kind", "").strip()
    if kind:
        events = events.filter(verb__startswith=f"{kind}.")
    kinds = sorted(
        {
            verb.split(".", 1)[0]
            for verb in visible_activity(engagement).values_list("verb", flat=True).distinct()
        }
    )
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "engagements/activity_list.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "page": page,
            "kind": kind,
            "kinds": kinds,
        },
    )


@engagement_view()
@require_GET
def job_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    jobs = list(engagement.jobs.select_related("created_by")[:200])
    jobs_sweep_rows(jobs)  # never show a job whose worker died as running
    return render(
        request,
        "engagements/job_list.html",
        {"engagement": engagement, "access": engagement.access, "jobs": jobs},
    )


@engagement_view()
@require_GET
def job_detail(request: HttpRequest, engagement: Engagement, job_pk: int) -> HttpResponse:
    job = job_refresh(get_object_or_404(engagement.jobs.select_related("created_by"), pk=job_pk))
    return render(
        request,
        "engagements/job_detail.html",
        {"engagement": engagement, "access": engagement.access, "job": job},
    )


@engagement_view()
@require_GET
def job_status(request: HttpRequest, engagement: Engagement, job_pk: int) -> HttpResponse:
    """The polled fragment: progress bar while active; stops htmx polling once finished, and
    with ``refresh_on_done`` reloads the page then (it shows the job's results)."""
    job = job_refresh(get_object_or_404(engagement.jobs, pk=job_pk))
    refresh_on_done = bool(request.GET.get("refresh_on_done"))
    response = render(
        request,
        "engagements/_job_status.html",
        # The fragment replaces the polling element: its next poll must ask for the reload
        # too, or a job still running at the first poll never refreshes the page.
        {"engagement": engagement, "job": job, "refresh_on_done": refresh_on_done},
    )
    if request.htmx and not job.is_active:
        # 286 tells htmx to stop polling; the swap still shows the final state.
        stop = HttpResponseStopPolling(response.content)
        if refresh_on_done:
            stop["HX-Refresh"] = "true"
        return stop
    return response
