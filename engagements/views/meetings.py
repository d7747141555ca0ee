"""Meetings created from the playbook's types, their feedback, and "after the meeting"."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagements import related, services
from engagements.access import Capability, engagement_view
from engagements.forms import FeedbackForm, MeetingCreateForm, MeetingForm
from engagements.models import Engagement, FeedbackItem, Meeting


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def meeting_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    playbook = services.playbook_for(engagement)
    form = MeetingCreateForm(request.POST or None, playbook=playbook)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = services.meeting_create(
                engagement=engagement,
                kind=form.cleaned_data["kind"],
                scheduled_at=form.cleaned_data["scheduled_at"],
                title=form.cleaned_data["title"],
                actor=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, f"{meeting.title} planned; its agenda is filled in from the playbook."
            )
            return redirect(
                "engagements:meeting_detail", engagement_pk=engagement.pk, meeting_pk=meeting.pk
            )
    meetings = engagement.meetings.annotate(
        open_feedback=Count(
            "feedback", filter=Q(feedback__status=FeedbackItem.Status.OPEN), distinct=True
        ),
        moved=Count("assumption_changes", distinct=True),
    ).order_by("-scheduled_at")
    return render(
        request,
        "engagements/meeting_list.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "meetings": meetings,
            "form": form,
            "types": playbook.meeting_types,
        },
    )


def _meeting_form(engagement: Engagement, meeting: Meeting, data=None) -> MeetingForm:
    return MeetingForm(
        data,
        engagement=engagement,
        initial={
            "title": meeting.title,
            "scheduled_at": timezone.localtime(meeting.scheduled_at),
            "status": meeting.status,
            "attendees": list(meeting.attendees.all()),
            "other_attendees": meeting.other_attendees,
            "agenda": meeting.agenda,
            "notes": meeting.notes,
        },
    )


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def meeting_detail(request: HttpRequest, engagement: Engagement, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(engagement.meetings, pk=meeting_pk)
    playbook = services.playbook_for(engagement)
    form = _meeting_form(engagement, meeting, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.meeting_update(
                meeting=meeting,
                actor=request.user,
                changes={
                    k: data[k]
                    for k in (
                        "title",
                        "scheduled_at",
                        "status",
                        "other_attendees",
                        "agenda",
                        "notes",
                    )
                },
                attendees=data["attendees"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Meeting saved.")
            return redirect(
                "engagements:meeting_detail", engagement_pk=engagement.pk, meeting_pk=meeting.pk
            )
    return render(
        request,
        "engagements/meeting_detail.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "meeting": meeting,
            "meeting_type": playbook.meeting_type(meeting.kind),
            "routine": playbook.meeting_routine,
            "form": form,
            "feedback": meeting.feedback.select_related("owner", "assumption").order_by(
                "status", "created_at"
            ),
            "feedback_form": FeedbackForm(engagement=engagement, playbook=playbook),
            "documents": {d.slug: d.name for d in playbook.documents},
            "attendees": meeting.attendees.all(),
            # What later apps link to this meeting (a balancing review's runs), through the
            # registry: engagements never imports them.
            "related": related.meeting_links(meeting),
        },
    )


@engagement_view(Capability.VIEW)
@require_GET
def meeting_recap(request: HttpRequest, engagement: Engagement, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(engagement.meetings, pk=meeting_pk)
    playbook = services.playbook_for(engagement)
    return render(
        request,
        "engagements/meeting_recap.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "meeting": meeting,
            "recap": services.meeting_recap(meeting=meeting),
            "routine": playbook.meeting_routine.get("after", ()),
            "documents": {d.slug: d.name for d in playbook.documents},
        },
    )


@engagement_view(Capability.EDIT)
@require_POST
def feedback_add(request: HttpRequest, engagement: Engagement, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(engagement.meetings, pk=meeting_pk)
    form = FeedbackForm(
        request.POST, engagement=engagement, playbook=services.playbook_for(engagement)
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.feedback_add(
                meeting=meeting,
                text=data["text"],
                actor=request.user,
                owner=data["owner"],
                assumption=data["assumption"],
                document=data["document"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Feedback item added.")
    else:
        messages.error(
            request,
            "Feedback not added: "
            + "; ".join(
                f"{form.fields[f].label or f}: {' '.join(e)}" for f, e in form.errors.items()
            ),
        )
    return redirect(
        "engagements:meeting_detail", engagement_pk=engagement.pk, meeting_pk=meeting.pk
    )


@engagement_view(Capability.EDIT)
@require_POST
def feedback_status(request: HttpRequest, engagement: Engagement, feedback_pk: int) -> HttpResponse:
    item = get_object_or_404(
        engagement.feedback.select_related("meeting", "owner", "assumption"), pk=feedback_pk
    )
    try:
        services.feedback_set_status(
            item=item, status=request.POST.get("status", ""), actor=request.user
        )
    except ValidationError as exc:
        if request.htmx:
            return HttpResponse(" ".join(exc.messages), status=422)
        messages.error(request, " ".join(exc.messages))
    if request.htmx:
        playbook = services.playbook_for(engagement)
        return render(
            request,
            "engagements/_feedback_item.html",
            {
                "engagement": engagement,
                "access": engagement.access,
                "f": item,
                "documents": {d.slug: d.name for d in playbook.documents},
            },
        )
    return redirect(
        "engagements:meeting_detail", engagement_pk=engagement.pk, meeting_pk=item.meeting_id
    )
