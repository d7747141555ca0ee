"""The assumptions register: filter by state and category; confirm, correct or reject each
assumption in the context of a meeting; full history."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from engagements import services
from engagements.access import Capability, engagement_view
from engagements.forms import AssumptionCreateForm, AssumptionDecisionForm
from engagements.models import Assumption, Engagement


def _filters(request: HttpRequest) -> dict[str, str]:
    return {
        "state": request.GET.get("state", "")
        if request.GET.get("state", "") in Assumption.State.values
        else "",
        "category": request.GET.get("category", "")
        if request.GET.get("category", "") in Assumption.Category.values
        else "",
        "blocking": "1" if request.GET.get("blocking") == "1" else "",
    }


def _new_key(engagement: Engagement, category: str, statement: str) -> str:
    base = f"{category}.{slugify(statement)[:60] or 'assumption'}"
    key, n = base, 1
    while engagement.assumptions.filter(key=key).exists():
        n += 1
        key = f"{base}-{n}"
    return key


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def assumption_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = AssumptionCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        key = data["key"] or _new_key(engagement, data["category"], data["statement"])
        if engagement.assumptions.filter(key=key).exists():
            form.add_error("key", f"An assumption with key “{key}” exists already.")
        else:
            try:
                services.assumption_register(
                    engagement=engagement,
                    key=key,
                    category=data["category"],
                    statement=data["statement"],
                    value=data["value"],
                    blocking=data["blocking"],
                    source="",
                    actor=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Assumption added as ASSUMED.")
                return redirect("engagements:assumption_list", engagement_pk=engagement.pk)
    filters = _filters(request)
    rows = engagement.assumptions.select_related("meeting")
    if filters["state"]:
        rows = rows.filter(state=filters["state"])
    if filters["category"]:
        rows = rows.filter(category=filters["category"])
    if filters["blocking"]:
        rows = rows.filter(blocking=True)
    counts = dict.fromkeys(Assumption.State.values, 0)
    for state in engagement.assumptions.values_list("state", flat=True):
        counts[state] += 1
    return render(
        request,
        "engagements/assumption_list.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "rows": rows.order_by("category", "key"),
            "filters": filters,
            "states": Assumption.State.choices,
            "categories": Assumption.Category.choices,
            "counts": counts,
            "form": form,
        },
    )


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def assumption_detail(
    request: HttpRequest, engagement: Engagement, assumption_pk: int
) -> HttpResponse:
    assumption = get_object_or_404(
        engagement.assumptions.select_related("meeting"), pk=assumption_pk
    )
    form = AssumptionDecisionForm(request.POST or None, assumption=assumption)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kwargs = {"value": data["parsed_value"]} if data["decision"] == "correct" else {}
        try:
            services.assumption_decide(
                assumption=assumption,
                decision=data["decision"],
                meeting=data.get("meeting"),
                actor=request.user,
                note=data.get("note", ""),
                **kwargs,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            assumption.refresh_from_db()
            messages.success(
                request, f"Now {assumption.get_state_display().upper()}: {assumption.statement}"
            )
            return redirect(
                "engagements:assumption_detail",
                engagement_pk=engagement.pk,
                assumption_pk=assumption.pk,
            )
    return render(
        request,
        "engagements/assumption_detail.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "assumption": assumption,
            "history": assumption.history.select_related("actor", "meeting"),
            "feedback": assumption.feedback.select_related("meeting", "owner"),
            "form": form,
        },
    )


@engagement_view(Capability.EDIT)
@require_POST
def assumption_blocking(
    request: HttpRequest, engagement: Engagement, assumption_pk: int
) -> HttpResponse:
    assumption = get_object_or_404(engagement.assumptions, pk=assumption_pk)
    services.assumption_set_blocking(
        assumption=assumption, blocking=request.POST.get("blocking") == "1", actor=request.user
    )
    if request.htmx:
        return render(
            request,
            "engagements/_assumption_blocking.html",
            {"engagement": engagement, "access": engagement.access, "a": assumption},
        )
    return redirect(
        "engagements:assumption_detail", engagement_pk=engagement.pk, assumption_pk=assumption.pk
    )
