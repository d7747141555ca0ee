"""Home pages by role: the manager dashboard (ops sees it too), the architect's "mine and what
is due", and the customer portal home."""

from __future__ import annotations

import csv
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from engagements import dashboard
from engagements.access import can_create_engagement, engagements_for, global_role
from engagements.models import (
    ChecklistItem,
    FeedbackItem,
    IntakeForm,
    IntakeUpload,
    Meeting,
    Membership,
    Role,
    SignoffRecord,
)
from engagements.services import intake_progress, signoff_statuses_for

# column key -> (label, sort key function). Provided columns are appended from the registry.
SORTS = {
    "customer": lambda o: o.engagement.organization.name.casefold(),
    "engagement": lambda o: o.engagement.name.casefold(),
    "phase": lambda o: (o.current_phase.number if o.current_phase else 9, o.current_subphase),
    "days": lambda o: o.days_in_phase if o.days_in_phase is not None else -1,
    "blockers": lambda o: sum(b.count for b in o.blockers),
    "assumed": lambda o: o.assumed,
    "signoffs": lambda o: len(o.pending_signoffs),
    "hours": lambda o: o.projection.hours_pct,
    "finish": lambda o: o.projection.planned_finish,
    "progress": lambda o: o.progress,
}
COLUMNS = [
    ("customer", "Customer"),
    ("engagement", "Engagement"),
    ("phase", "Phase · sub-phase"),
    ("days", "Days in phase"),
    ("blockers", "Next gate · blocked by"),
    ("assumed", "ASSUMED"),
    ("signoffs", "Pending sign-offs"),
    ("hours", "Hours used / budget"),
    ("finish", "Calendar projection"),
]
NUMERIC = {"days", "assumed", "signoffs", "hours"}
FEEDBACK_PER_ENGAGEMENT = 5
# Rows per page of the manager/ops table. Filters, sorting, the counts and the CSV cover every
# engagement; only the rendering is paged (200 rows of HTML cost as much as computing them).
DASHBOARD_PAGE_SIZE = 50
CSV_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _provided_sort(key: str):
    def sort(overview):
        cell = overview.cell(key)
        if cell is None or cell.sort is None:
            return (1, "")
        return (0, cell.sort)

    return sort


def _filtered(rows, params):
    q = params.get("q", "").strip().casefold()
    if q:
        rows = [
            r
            for r in rows
            if q in r.engagement.name.casefold() or q in r.engagement.organization.name.casefold()
        ]
    phase = params.get("phase", "")
    if phase == "done":
        rows = [r for r in rows if r.current_phase is None]
    elif phase.isdigit():
        rows = [r for r in rows if r.current_phase and r.current_phase.number == int(phase)]
    kind = params.get("type", "")
    if kind:
        rows = [r for r in rows if r.engagement.type == kind]
    gate = params.get("gate", "")
    if gate == "ready":
        rows = [r for r in rows if r.gate_open]
    elif gate == "blocked":
        rows = [r for r in rows if r.current_phase and not r.gate_open]
    if params.get("risk") == "1":
        rows = [r for r in rows if r.projection.at_risk]
    return rows


def _sorted(rows, params):
    key = params.get("sort", "customer")
    sorts = dict(SORTS)
    for column in dashboard.PROVIDED_COLUMNS:
        sorts[column.key] = _provided_sort(column.key)
    if key not in sorts:
        key = "customer"
    reverse = params.get("dir") == "desc"
    return sorted(rows, key=sorts[key], reverse=reverse), key, reverse


def _csv_cell(value) -> str:
    """Neutralise spreadsheet formulas (SPEC §8): a leading = + - @ becomes text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_DANGEROUS) else text


def _csv(rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="engagements-{timezone.localdate():%Y-%m-%d}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(
        [
            "Customer",
            "Engagement",
            "Type",
            "Phase",
            "Sub-phase",
            "Days in phase",
            "Next gate",
            "Blocked by",
            "ASSUMED",
            "Pending sign-offs",
            "Hours used",
            "Hour budget",
            "Planned finish",
            "Forecast finish",
            "Closed on",
            "Fiscal year start",
            "At risk",
            *[c.label for c in dashboard.PROVIDED_COLUMNS],
        ]
    )
    for r in rows:
        e = r.engagement
        writer.writerow(
            [
                _csv_cell(v)
                for v in [
                    e.organization.name,
                    e.name,
                    e.get_type_display(),
                    r.current_phase.name if r.current_phase else "Closed",
                    f"{r.current_subphase} {r.current_subphase_name}".strip(),
                    r.days_in_phase if r.days_in_phase is not None else "",
                    r.gate_name,
                    r.blockers_summary,
                    r.assumed,
                    "; ".join(r.pending_signoffs),
                    f"{r.hours_used:g}",
                    e.hour_budget,
                    r.projection.planned_finish.isoformat(),
                    r.projection.forecast_finish.isoformat()
                    if r.projection.forecast_finish
                    else "",
                    r.projection.closed_on.isoformat() if r.projection.closed_on else "",
                    e.fiscal_year_start.isoformat() if e.fiscal_year_start else "",
                    "yes" if r.projection.at_risk else "no",
                    *[
                        (r.cell(c.key).text if r.cell(c.key) else "")
                        for c in dashboard.PROVIDED_COLUMNS
                    ],
                ]
            ]
        )
    return response


def _all_overviews(user):
    return dashboard.engagement_overviews_reused(list(engagements_for(user)))


def _manager(request: HttpRequest, heading: str, template: str) -> HttpResponse:
    rows = _filtered(_all_overviews(request.user), request.GET)
    rows, sort, reverse = _sorted(rows, request.GET)
    if request.GET.get("format") == "csv":
        return _csv(rows)
    query = request.GET.copy()
    query.pop("sort", None)
    query.pop("dir", None)
    query.pop("format", None)
    query.pop("page", None)
    page = Paginator(rows, DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    paging = query.copy()
    if sort != "customer" or reverse:
        paging["sort"], paging["dir"] = sort, "desc" if reverse else "asc"
    return render(
        request,
        template,
        {
            "heading": heading,
            "rows": page.object_list,
            "page": page,
            "querystring": paging.urlencode(),
            "total": len(rows),
            "sort": sort,
            "reverse": reverse,
            "columns": dashboard.PROVIDED_COLUMNS,
            "sortable_columns": COLUMNS + [(c.key, c.label) for c in dashboard.PROVIDED_COLUMNS],
            "numeric_columns": NUMERIC,
            "params": request.GET,
            "base_query": query.urlencode(),
            "at_risk": sum(1 for r in rows if r.projection.at_risk),
        },
    )


def _architect(request: HttpRequest) -> HttpResponse:
    user = request.user
    memberships = dict(Membership.objects.filter(user=user).values_list("engagement_id", "role"))
    engagements = list(engagements_for(user).filter(pk__in=list(memberships)))
    rows = dashboard.engagement_overviews(engagements, with_cells=False)
    ids = [e.pk for e in engagements]
    now = timezone.now()
    by_id = {e.pk: e for e in engagements}
    meetings = list(
        Meeting.objects.filter(
            engagement_id__in=ids,
            status=Meeting.Status.PLANNED,
            scheduled_at__lt=now + timedelta(days=14),
        ).order_by("scheduled_at")
    )
    feedback = list(
        FeedbackItem.objects.filter(
            engagement_id__in=ids, status=FeedbackItem.Status.OPEN, owner=user
        )
        .select_related("meeting")
        .order_by("created_at")
    )
    intakes = {i.engagement_id: i for i in IntakeForm.objects.filter(engagement_id__in=ids)}
    uploads = set(
        IntakeUpload.objects.filter(engagement_id__in=ids).values_list("engagement_id", flat=True)
    )
    due = []
    for row in rows:
        e = row.engagement
        e.my_role = Role(memberships[e.pk]).label
        if row.current_phase and row.gate_open:
            due.append((e, "gate", f"{row.gate_name} is open: decide proceed or hold"))
        elif row.current_phase:
            due.append(
                (
                    e,
                    "phase",
                    f"{row.current_subphase} {row.current_subphase_name}: {row.blockers_summary}",
                )
            )
        for subject in row.declined_signoffs:
            due.append((e, "declined", f"The customer declined “{subject}”: revise and republish"))
        intake = intakes.get(e.pk)
        if intake and not intake.is_submitted:
            progress = intake_progress(intake=intake, has_upload=e.pk in uploads)
            due.append((e, "intake", f"Intake form {progress.percent}% complete, not submitted"))
        if row.projection.late_for_fiscal_year:
            due.append(
                (
                    e,
                    "risk",
                    f"Planned finish {row.projection.planned_finish:%d %b %Y} is after the fiscal-year start",
                )
            )
    for meeting in meetings:
        overdue = meeting.scheduled_at < now
        due.append(
            (
                by_id[meeting.engagement_id],
                "meeting",
                f"{'Overdue: record the outcome of' if overdue else 'Upcoming:'} {meeting.title}, "
                f"{timezone.localtime(meeting.scheduled_at):%a %d %b %H:%M}",
            )
        )
    # At most a few feedback lines per engagement: the list is a to-do, not an archive.
    shown: dict[int, int] = {}
    hidden: dict[int, int] = {}
    for item in feedback:
        if shown.get(item.engagement_id, 0) >= FEEDBACK_PER_ENGAGEMENT:
            hidden[item.engagement_id] = hidden.get(item.engagement_id, 0) + 1
            continue
        shown[item.engagement_id] = shown.get(item.engagement_id, 0) + 1
        due.append(
            (
                by_id[item.engagement_id],
                "feedback",
                f"Feedback for you ({item.meeting.title}): {item.text[:120]}",
            )
        )
    for engagement_id, count in hidden.items():
        due.append(
            (by_id[engagement_id], "feedback", f"…and {count} more open feedback items for you")
        )
    for engagement_id, kind, text in dashboard.due_for(engagements, memberships):
        due.append((by_id[engagement_id], kind, text))
    return render(
        request,
        "engagements/home_consultant.html",
        {
            "heading": "My engagements",
            "rows": rows,
            "due": due,
            "meetings": meetings,
            "can_create": can_create_engagement(user, membership_roles=memberships.values()),
        },
    )


def _customer(request: HttpRequest) -> HttpResponse:
    user = request.user
    engagements = list(engagements_for(user))
    rows = dashboard.engagement_overviews(engagements, with_cells=False)
    roles = dict(Membership.objects.filter(user=user).values_list("engagement_id", "role"))
    ids = [e.pk for e in engagements]
    intakes = {i.engagement_id: i for i in IntakeForm.objects.filter(engagement_id__in=ids)}
    uploads: dict[int, list[IntakeUpload]] = {}
    for upload in IntakeUpload.objects.filter(engagement_id__in=ids).order_by("-uploaded_at"):
        uploads.setdefault(upload.engagement_id, []).append(upload)
    homework = list(
        ChecklistItem.objects.filter(
            engagement_id__in=ids, owner=ChecklistItem.Owner.CUSTOMER, done=False, required=True
        )
        .exclude(subphase__phase__status="closed")
        .select_related("subphase")
        .order_by("subphase__position", "position")
    )
    feedback = list(
        FeedbackItem.objects.filter(
            engagement_id__in=ids, status=FeedbackItem.Status.OPEN, owner=user
        ).select_related("meeting")
    )
    certificates = list(
        SignoffRecord.objects.filter(engagement_id__in=ids)
        .filter(decision=SignoffRecord.Decision.APPROVED)
        .order_by("-sequence")[:50]
    )
    statuses_by_engagement = signoff_statuses_for(engagement_ids=ids)
    cards = []
    for row in rows:
        e = row.engagement
        role = roles.get(e.pk)
        e.my_role = Role(role).label if role else ""
        can_sign = role == Role.CUSTOMER_APPROVER
        statuses = statuses_by_engagement.get(e.pk, {})
        to_sign = sorted(
            (s for s in statuses.values() if s.state in ("pending", "declined")),
            key=lambda s: s.latest.title.casefold(),
        )
        intake = intakes.get(e.pk)
        cards.append(
            {
                "row": row,
                "engagement": e,
                "can_sign": can_sign,
                "can_input": role == Role.CUSTOMER_APPROVER,
                "to_sign": to_sign,
                "intake": intake,
                "intake_progress": intake_progress(intake=intake, has_upload=e.pk in uploads)
                if intake
                else None,
                "homework": [i for i in homework if i.engagement_id == e.pk and i.applies_to(e)],
                "feedback": [f for f in feedback if f.engagement_id == e.pk],
                "certificates": [c for c in certificates if c.engagement_id == e.pk],
                "uploads": uploads.get(e.pk, []),
                "downloads": dashboard.downloads_for(e, user),
            }
        )
    return render(
        request,
        "engagements/home_customer.html",
        {"heading": "Customer portal", "cards": cards},
    )


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    role = global_role(user)
    if user.is_customer:
        return _customer(request)
    if role == Role.MANAGER:
        return _manager(request, "Manager dashboard", "engagements/home_manager.html")
    if role == Role.OPS:
        return _manager(request, "Operations", "engagements/home_ops.html")
    return _architect(request)
