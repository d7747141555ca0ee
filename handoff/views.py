"""Pages of the handoff app: enablement, hypercare, the maintenance schedule and its calendar
feed, refinement triggers, and the handoff page (sensitive territories, notes, close, debrief,
retention). Every page goes through ``engagements.access``; the calendar feed is the one path
without a session: its secret token is the credential (``services.engagement_for_feed_token``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from engagements import services as engagement_services
from engagements.access import Capability, engagement_view, maintenance_capabilities, require
from engagements.models import Engagement
from handoff import forms, services
from handoff.models import CalendarFeed, Debrief, HandoffNotes, Hypercare, TrainingSession


def _page(engagement: Engagement, **extra) -> dict:
    return {"engagement": engagement, "access": engagement.access, **extra}


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- Enablement -------------------------------------------------------------------------------


def _signoff_context(engagement: Engagement, signoff: services.GateSignoff) -> dict:
    """What the sign-off section of a handoff page shows: the text as it stands, why it cannot
    be published yet, and whether it differs from the latest published version."""
    return {
        "signoff": signoff,
        "signoff_changed": services.gate_signoff_changed(engagement=engagement, signoff=signoff),
    }


def _enablement_page(request, engagement, *, bound=None, status=200) -> HttpResponse:
    sessions = list(engagement.training_sessions.all())
    can_edit = engagement.access.can(Capability.EDIT)
    for s in sessions:
        # One inline form per session (prefixed so field ids stay unique); a refused save
        # comes back bound, with its errors, and opened.
        s.form = (
            bound
            if bound is not None and bound.instance.pk == s.pk
            else (forms.TrainingForm(instance=s, prefix=f"t{s.pk}") if can_edit else None)
        )
    return render(
        request,
        "handoff/enablement.html",
        _page(
            engagement,
            sessions=sessions,
            delivered=sum(1 for s in sessions if s.state == TrainingSession.State.DELIVERED),
            assets=services.training_assets(engagement=engagement),
            missing=[
                t.audience
                for t in engagement_services.playbook_for(engagement).training_types
                if t.slug not in {s.audience_slug for s in sessions}
            ],
            bound_pk=bound.instance.pk if bound is not None else None,
            **_signoff_context(engagement, services.enablement_signoff(engagement=engagement)),
        ),
        status=status,
    )


@engagement_view(Capability.VIEW, post=Capability.EDIT)
def enablement(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Training sessions per audience and the training-assets checklist; POST plans the
    playbook's standard set of sessions (idempotent)."""
    if request.method == "POST":
        created = services.trainings_generate(engagement=engagement, actor=request.user)
        if created:
            messages.success(request, f"{created} training sessions planned from the playbook.")
        else:
            messages.info(request, "Every audience of the playbook already has its session.")
        return redirect("handoff:enablement", engagement.pk)
    return _enablement_page(request, engagement)


@engagement_view(Capability.EDIT)
@require_POST
def training_save(request: HttpRequest, engagement: Engagement, training_pk: int) -> HttpResponse:
    session = get_object_or_404(engagement.training_sessions, pk=training_pk)
    form = forms.TrainingForm(request.POST, instance=session, prefix=f"t{session.pk}")
    if form.is_valid():
        try:
            services.training_update(
                session=TrainingSession.objects.get(pk=session.pk),
                values=form.cleaned_data,
                actor=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"{session.audience} training saved.")
            return redirect(
                reverse("handoff:enablement", args=[engagement.pk]) + f"#training-{session.pk}"
            )
    return _enablement_page(request, engagement, bound=form, status=400)


@engagement_view(Capability.EDIT)
@require_POST
def asset_toggle(request: HttpRequest, engagement: Engagement, item_pk: int) -> HttpResponse:
    item = get_object_or_404(
        engagement.checklist_items, pk=item_pk, key__startswith=services.ASSET_PREFIX
    )
    try:
        engagement_services.checklist_toggle(
            item=item, done=request.POST.get("done") == "1", actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("handoff:enablement", args=[engagement.pk]) + "#assets")


@engagement_view(Capability.EDIT)
@require_POST
def enablement_publish(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Publish the enablement sign-off (the Enablement gate's) for the customer approver."""
    _publish(
        request,
        engagement,
        subject=services.ENABLEMENT_SUBJECT,
        publish=services.enablement_publish,
    )
    return redirect(reverse("handoff:enablement", args=[engagement.pk]) + "#enablement-signoff")


def _publish(request: HttpRequest, engagement: Engagement, *, subject: str, publish) -> None:
    """Publish through ``publish`` and say what happened: a new version, the current one
    unchanged, or what must happen first."""
    before = engagement_services.signoff_latest(engagement=engagement, subject=subject)
    try:
        version = publish(engagement=engagement, actor=request.user)
    except ValidationError as exc:
        messages.error(request, "Not published: " + " ".join(exc.messages))
        return
    if before is not None and before.pk == version.pk:
        messages.info(request, f"Version {version.version} is current: the text has not changed.")
    else:
        messages.success(
            request,
            f"“{version.title}” version {version.version} is waiting for the customer approver.",
        )


# --- Hypercare --------------------------------------------------------------------------------


def _hypercare_page(request, engagement, status=200, **forms_given) -> HttpResponse:
    state = services.hypercare_status(engagement=engagement)
    # Read, never create: a page view stores nothing (the row is made by the first change).
    row = Hypercare.objects.filter(engagement=engagement).first() or Hypercare()
    checks = services.accuracy_checks(engagement=engagement)
    context = _page(
        engagement,
        status=state,
        own_rollout=row.rollout_date,
        office_hours=list(engagement.office_hours.select_related("created_by")),
        issues=list(engagement.hypercare_issues.select_related("reported_by", "resolved_by")),
        checks=list(reversed(checks)),
        rollout_form=forms_given.get("rollout_form")
        or forms.RolloutForm(initial={"rollout_date": row.rollout_date}),
        hours_form=forms_given.get("hours_form") or forms.OfficeHoursForm(),
        issue_form=forms_given.get("issue_form") or forms.IssueForm(),
        check_form=forms_given.get("check_form") or forms.AccuracyCheckForm(),
        can_report=engagement.access.can(Capability.EDIT)
        or engagement.access.can(Capability.CUSTOMER_INPUT),
        gate=engagement.phases.filter(number=3).first(),
    )
    return render(request, "handoff/hypercare.html", context, status=status)


@engagement_view(Capability.VIEW)
@require_GET
def hypercare(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    return _hypercare_page(request, engagement)


@engagement_view(Capability.EDIT)
@require_POST
def hypercare_rollout(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = forms.RolloutForm(request.POST)
    if not form.is_valid():
        return _hypercare_page(request, engagement, status=400, rollout_form=form)
    services.hypercare_rollout_set(
        engagement=engagement, rollout=form.cleaned_data["rollout_date"], actor=request.user
    )
    messages.success(request, "Rollout date saved.")
    return redirect("handoff:hypercare", engagement.pk)


@engagement_view(Capability.EDIT)
@require_POST
def office_hours_add(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = forms.OfficeHoursForm(request.POST)
    if not form.is_valid():
        return _hypercare_page(request, engagement, status=400, hours_form=form)
    services.office_hours_add(engagement=engagement, values=form.cleaned_data, actor=request.user)
    messages.success(request, "Office hours logged.")
    return redirect(reverse("handoff:hypercare", args=[engagement.pk]) + "#office-hours")


@engagement_view(Capability.VIEW)
@require_POST
def issue_add(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The architect logs an issue; so may the customer (seed 000: anyone can flag routing
    issues, misassigned accounts or questions during hypercare)."""
    if not (
        engagement.access.can(Capability.EDIT) or engagement.access.can(Capability.CUSTOMER_INPUT)
    ):
        raise PermissionDenied("Your role cannot report issues.")
    form = forms.IssueForm(request.POST)
    if form.is_valid():
        try:
            services.issue_report(
                engagement=engagement, values=form.cleaned_data, actor=request.user
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Issue reported.")
            return redirect(reverse("handoff:hypercare", args=[engagement.pk]) + "#issues")
    return _hypercare_page(request, engagement, status=400, issue_form=form)


@engagement_view(Capability.EDIT)
@require_POST
def issue_resolve(request: HttpRequest, engagement: Engagement, issue_pk: int) -> HttpResponse:
    issue = get_object_or_404(engagement.hypercare_issues, pk=issue_pk)
    form = forms.ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Resolution: say how the issue was resolved.")
    else:
        try:
            services.issue_resolve(
                issue=issue, resolution=form.cleaned_data["resolution"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Issue resolved.")
    return redirect(reverse("handoff:hypercare", args=[engagement.pk]) + "#issues")


@engagement_view(Capability.AUDIT)
@require_POST
def accuracy_add(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = forms.AccuracyCheckForm(request.POST)
    if form.is_valid():
        try:
            services.accuracy_check_add(
                engagement=engagement, values=form.cleaned_data, actor=request.user
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Accuracy check recorded.")
            return redirect(reverse("handoff:hypercare", args=[engagement.pk]) + "#accuracy")
    return _hypercare_page(request, engagement, status=400, check_form=form)


# --- Maintenance schedule ---------------------------------------------------------------------


@engagement_view(Capability.VIEW, post=Capability.EDIT)
def maintenance(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The dated schedule for 12 months from rollout; POST (re)generates it."""
    if request.method == "POST":
        try:
            result = services.maintenance_generate(engagement=engagement, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"Schedule: {result.total} occurrences ({result.created} added, "
                f"{result.removed} removed, {result.kept_done} done kept).",
            )
        return redirect("handoff:maintenance", engagement.pk)
    occurrences = list(engagement.maintenance_occurrences.select_related("done_by"))
    # The secret link is made with the schedule (or by "make a new link"), not by a page view.
    feed = CalendarFeed.objects.filter(engagement=engagement).first()
    owner = engagement_services.playbook_for(engagement).maintenance_owner_for(engagement.type)
    return render(
        request,
        "handoff/maintenance.html",
        _page(
            engagement,
            occurrences=occurrences,
            today=timezone.localdate(),
            rollout=services.rollout_date(engagement=engagement),
            owner=owner,
            can_mark_done=engagement.access.can_any(maintenance_capabilities(owner)),
            feed_url=request.build_absolute_uri(reverse("handoff_calendar_feed", args=[feed.token]))
            if feed is not None
            else None,
            retention=services.retention(engagement=engagement),
            done_form=forms.MaintenanceDoneForm(),
        ),
    )


@engagement_view(Capability.VIEW)
@require_POST
def occurrence_done(
    request: HttpRequest, engagement: Engagement, occurrence_pk: int
) -> HttpResponse:
    occurrence = get_object_or_404(engagement.maintenance_occurrences, pk=occurrence_pk)
    owner = engagement_services.playbook_for(engagement).maintenance_owner_for(engagement.type)
    require(engagement, maintenance_capabilities(owner))
    form = forms.MaintenanceDoneForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{occurrence.task}: findings — write down what the check found.")
    else:
        services.maintenance_done(
            occurrence=occurrence,
            findings=form.cleaned_data["findings"],
            red_flag_hit=form.cleaned_data["red_flag_hit"],
            actor=request.user,
        )
        messages.success(request, f"{occurrence.task} ({occurrence.due:%d %b %Y}) marked done.")
    return redirect(reverse("handoff:maintenance", args=[engagement.pk]) + f"#occ-{occurrence_pk}")


@engagement_view(Capability.EDIT)
@require_POST
def calendar_regenerate(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    services.calendar_feed_regenerate(engagement=engagement, actor=request.user)
    messages.success(request, "New calendar link made; the old one no longer works.")
    return redirect(reverse("handoff:maintenance", args=[engagement.pk]) + "#calendar")


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The maintenance calendar (.ics) at its secret URL; any wrong token is 404."""
    engagement = services.engagement_for_feed_token(token)
    if engagement is None:
        raise Http404("No such calendar.")
    response = HttpResponse(
        services.calendar_ics(engagement=engagement), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'inline; filename="maintenance-{engagement.pk}.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


# --- Refinement triggers ----------------------------------------------------------------------


@engagement_view(Capability.VIEW, post=Capability.INTERNAL)
def trigger_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    if request.method == "POST":
        rows = services.triggers_check(engagement=engagement)
        fired = [r.name for r in rows if r.fired]
        if fired:
            messages.warning(request, f"Fired: {', '.join(fired)}.")
        else:
            messages.success(request, "Checked: no refinement trigger fired.")
        return redirect("handoff:trigger_list", engagement.pk)
    playbook = engagement_services.playbook_for(engagement)
    return render(
        request,
        "handoff/triggers.html",
        _page(
            engagement,
            evaluations=services.triggers_latest(engagement=engagement),
            playbook_triggers=playbook.refinement_triggers,
        ),
    )


# --- Handoff and close ------------------------------------------------------------------------


@engagement_view(Capability.INTERNAL)
@require_GET
def handoff_page(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Internal handoff: sensitive territories, escalation guidelines, notes; the external
    handoff and close checklists (links to the phase board); debrief; retention path."""
    notes = HandoffNotes.objects.filter(engagement=engagement).select_related("updated_by").first()
    debrief = Debrief.objects.filter(engagement=engagement).select_related("updated_by").first()
    return render(
        request,
        "handoff/handoff.html",
        _page(
            engagement,
            sensitive=services.sensitive_territories(engagement=engagement),
            escalation=engagement_services.playbook_for(engagement).escalation_guidelines,
            notes=notes,
            notes_form=forms.NotesForm(initial={"text": notes.text if notes else ""}),
            debrief=debrief,
            debrief_form=forms.DebriefForm(
                initial={
                    "went_well": debrief.went_well if debrief else "",
                    "improve": debrief.improve if debrief else "",
                    "lessons": debrief.lessons if debrief else "",
                }
            ),
            checklists=services.handoff_checklists(engagement=engagement),
            retention=services.retention(engagement=engagement),
            today=timezone.localdate(),
            **_signoff_context(engagement, services.project_close_signoff(engagement=engagement)),
        ),
    )


@engagement_view(Capability.EDIT)
@require_POST
def project_close_publish(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Publish the project-close sign-off (the Handoff gate's) for the customer approver."""
    _publish(
        request,
        engagement,
        subject=services.PROJECT_CLOSE_SUBJECT,
        publish=services.project_close_publish,
    )
    return redirect(reverse("handoff:handoff", args=[engagement.pk]) + "#close-signoff")


@engagement_view(Capability.EDIT)
@require_POST
def notes_save(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = forms.NotesForm(request.POST)
    if form.is_valid():
        services.handoff_notes_save(
            engagement=engagement, text=form.cleaned_data["text"], actor=request.user
        )
        messages.success(request, "Handoff notes saved.")
    else:
        messages.error(request, "Internal notes: " + " ".join(form.errors.get("text", [])))
    return redirect(reverse("handoff:handoff", args=[engagement.pk]) + "#notes")


@engagement_view(Capability.EDIT)
@require_POST
def debrief_save(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = forms.DebriefForm(request.POST)
    if form.is_valid():
        try:
            services.debrief_save(
                engagement=engagement, values=form.cleaned_data, actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, "Debrief: " + " ".join(exc.messages))
        else:
            messages.success(request, "Debrief saved.")
    else:
        messages.error(
            request,
            "Debrief: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()),
        )
    return redirect(reverse("handoff:handoff", args=[engagement.pk]) + "#debrief")
