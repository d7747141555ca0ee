"""Home pages by role, the engagement overview, and the job pages of the tracking pattern."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django_htmx.http import HttpResponseStopPolling

from engagements.access import engagement_view, engagements_for, global_role
from engagements.models import Engagement, Job, Membership, Role
from engagements.tracking import job_refresh


def _engagement_rows(user):
    """Engagements visible to ``user`` with the counts every list shows (one query)."""
    return engagements_for(user).annotate(
        account_count=Count("accounts", distinct=True),
        active_jobs=Count("jobs", filter=Q(jobs__status__in=Job.ACTIVE), distinct=True),
        last_activity=Max("activity__created_at"),
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    role = global_role(user)
    if user.is_customer:
        template, heading = "engagements/home_customer.html", "Customer portal"
    elif role == Role.MANAGER:
        template, heading = "engagements/home_manager.html", "Manager dashboard"
    elif role == Role.OPS:
        template, heading = "engagements/home_ops.html", "Operations"
    else:
        template, heading = "engagements/home_consultant.html", "My engagements"
    rows = list(_engagement_rows(user))
    roles = dict(
        Membership.objects.filter(user=user, engagement__in=[e.pk for e in rows]).values_list(
            "engagement_id", "role"
        )
    )
    for engagement in rows:
        engagement.my_role = Role(roles[engagement.pk]).label if engagement.pk in roles else ""
    return render(request, template, {"heading": heading, "engagements": rows})


@login_required
def engagement_list(request: HttpRequest) -> HttpResponse:
    rows = list(_engagement_rows(request.user))
    return render(request, "engagements/engagement_list.html", {"engagements": rows})


@engagement_view()
def engagement_detail(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    members = engagement.memberships.select_related("user").order_by("role", "user__username")
    jobs = engagement.jobs.select_related("created_by")[:5]
    activity = engagement.activity.select_related("actor")[:15]
    return render(
        request,
        "engagements/engagement_detail.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "members": members,
            "jobs": jobs,
            "activity": activity,
            "account_count": engagement.accounts.count(),
        },
    )


@engagement_view()
def job_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    jobs = engagement.jobs.select_related("created_by")[:200]
    return render(
        request,
        "engagements/job_list.html",
        {"engagement": engagement, "access": engagement.access, "jobs": jobs},
    )


@engagement_view()
def job_detail(request: HttpRequest, engagement: Engagement, job_pk: int) -> HttpResponse:
    job = job_refresh(get_object_or_404(engagement.jobs.select_related("created_by"), pk=job_pk))
    return render(
        request,
        "engagements/job_detail.html",
        {"engagement": engagement, "access": engagement.access, "job": job},
    )


@engagement_view()
def job_status(request: HttpRequest, engagement: Engagement, job_pk: int) -> HttpResponse:
    """The polled fragment: progress bar while active; stops htmx polling once finished."""
    job = job_refresh(get_object_or_404(engagement.jobs, pk=job_pk))
    response = render(
        request, "engagements/_job_status.html", {"engagement": engagement, "job": job}
    )
    if request.htmx and not job.is_active:
        # 286 tells htmx to stop polling; the swap still shows the final state.
        stop = HttpResponseStopPolling(response.content)
        if request.GET.get("refresh_on_done"):
            stop["HX-Refresh"] = "true"
        return stop
    return response
