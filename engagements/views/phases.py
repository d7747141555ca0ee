"""The phase board: sixteen sub-phases with their items, ticked in place, and the gates."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from engagements import services
from engagements.access import Capability, engagement_view, require, tick_capabilities
from engagements.forms import GateDecisionForm, ItemNoteForm, ReasonForm
from engagements.models import ChecklistItem, Engagement


def _board_url(engagement: Engagement, number: int) -> str:
    return (
        reverse("engagements:phase_board", kwargs={"engagement_pk": engagement.pk})
        + f"?phase={number}"
    )


@engagement_view(Capability.VIEW)
@require_GET
def phase_board(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    state = services.engagement_state(engagement=engagement)
    current = state.current or state.phases[-1]
    selected = current
    wanted = request.GET.get("phase", "")
    if wanted.isdigit():
        selected = state.phase(int(wanted)) or current
    return render(
        request,
        "engagements/phase_board.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "state": state,
            "selected": selected,
            "decision_form": GateDecisionForm(decisions=selected.phase.gate_decisions),
            "design_blockers": services.territory_design_blockers(engagement=engagement)
            if selected.phase.number == 1
            else None,
            "conditions": services.playbook_for(engagement).conditions,
        },
    )


def _item_response(
    request: HttpRequest, engagement: Engagement, item: ChecklistItem
) -> HttpResponse:
    """The item's fragment, and (out of band) the gate panel and sub-phase counter it changes."""
    state = services.engagement_state(engagement=engagement)
    phase_view = next(p for p in state.phases if p.phase.pk == item.subphase.phase_id)
    sub_view = next(s for s in phase_view.subphases if s.subphase.pk == item.subphase_id)
    view = next(v for v in sub_view.items if v.item.pk == item.pk)
    return render(
        request,
        "engagements/_item_toggle_response.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "view": view,
            "sub": sub_view,
            "selected": phase_view,
            "state": state,
            "phase_closed": phase_view.phase.is_closed,
            "decision_form": GateDecisionForm(decisions=phase_view.phase.gate_decisions),
            "conditions": services.playbook_for(engagement).conditions,
        },
    )


@engagement_view(Capability.VIEW)
@require_POST
def item_toggle(request: HttpRequest, engagement: Engagement, item_pk: int) -> HttpResponse:
    item = get_object_or_404(
        engagement.checklist_items.select_related("subphase__phase"), pk=item_pk
    )
    require(engagement, tick_capabilities(item))
    done = request.POST.get("done") == "1"
    try:
        services.checklist_toggle(item=item, done=done, actor=request.user)
    except ValidationError as exc:
        if request.htmx:
            return HttpResponse(" ".join(exc.messages), status=422)
        messages.error(request, " ".join(exc.messages))
        return redirect(_board_url(engagement, item.subphase.phase.number))
    if request.htmx:
        item.refresh_from_db()
        return _item_response(request, engagement, item)
    return redirect(_board_url(engagement, item.subphase.phase.number) + f"#item-{item.pk}")


@engagement_view(Capability.VIEW)
@require_POST
def item_note(request: HttpRequest, engagement: Engagement, item_pk: int) -> HttpResponse:
    item = get_object_or_404(
        engagement.checklist_items.select_related("subphase__phase"), pk=item_pk
    )
    require(engagement, tick_capabilities(item))
    form = ItemNoteForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.checklist_toggle(
                item=item,
                done=item.done,
                actor=request.user,
                note=form.cleaned_data["note"],
                evidence_url=form.cleaned_data["evidence_url"],
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = "; ".join(f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items())
    if request.htmx:
        if error:
            return HttpResponse(error, status=422)
        item.refresh_from_db()
        return _item_response(request, engagement, item)
    if error:
        messages.error(request, error)
    return redirect(_board_url(engagement, item.subphase.phase.number) + f"#item-{item.pk}")


@engagement_view(Capability.VIEW)
@require_GET
def item_history(request: HttpRequest, engagement: Engagement, item_pk: int) -> HttpResponse:
    item = get_object_or_404(engagement.checklist_items.select_related("subphase"), pk=item_pk)
    return render(
        request,
        "engagements/_item_history.html",
        {"engagement": engagement, "item": item, "toggles": item.toggles.select_related("actor")},
    )


@engagement_view(Capability.EDIT)
@require_POST
def gate_decide(request: HttpRequest, engagement: Engagement, phase_number: int) -> HttpResponse:
    phase = get_object_or_404(engagement.phases, number=phase_number)
    form = GateDecisionForm(request.POST, decisions=phase.gate_decisions)
    if not form.is_valid():
        messages.error(request, "Choose a decision: " + " ".join(form.errors.get("decision", [])))
        return redirect(_board_url(engagement, phase.number))
    try:
        record = services.gate_decide(
            phase=phase,
            decision=form.cleaned_data["decision"],
            actor=request.user,
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_board_url(engagement, phase.number))
    messages.success(request, f"{phase.name} gate: {record.get_decision_display()}.")
    following = phase.number + 1 if record.decision == "proceed" else phase.number
    return redirect(_board_url(engagement, min(following, engagement.phases.count())))


@engagement_view(Capability.EDIT)
@require_POST
def phase_reopen(request: HttpRequest, engagement: Engagement, phase_number: int) -> HttpResponse:
    phase = get_object_or_404(engagement.phases, number=phase_number)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the phase is reopened.")
        return redirect(_board_url(engagement, phase.number))
    try:
        services.phase_reopen(phase=phase, actor=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{phase.name} reopened.")
    return redirect(_board_url(engagement, phase.number))
