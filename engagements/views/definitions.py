"""The Definition Alignment Document: terms with recommended definitions filled with the
engagement's thresholds, published term by term for the customer approver's sign-off."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from engagements import services
from engagements.access import Capability, engagement_view
from engagements.forms import DefinitionTermForm
from engagements.models import Engagement


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def definitions(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    if request.method == "POST":
        slugs = request.POST.getlist("term") or None
        try:
            created = services.definitions_publish(
                engagement=engagement, actor=request.user, slugs=slugs
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if created:
                messages.success(
                    request,
                    f"Published {len(created)} term{'s' if len(created) != 1 else ''} for the customer's sign-off.",
                )
            else:
                messages.info(request, "Nothing changed since the last publication.")
        return redirect("engagements:definitions", engagement_pk=engagement.pk)
    terms = services.definitions_overview(engagement=engagement)
    playbook = services.playbook_for(engagement)
    placeholders = [
        (p, services.definition_values(engagement=engagement).get(p.name))
        for p in playbook.definition_placeholders.values()
    ]
    assumption_ids = dict(
        engagement.assumptions.filter(key__in=[p.assumption for p, _ in placeholders]).values_list(
            "key", "pk"
        )
    )
    return render(
        request,
        "engagements/definitions.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "terms": terms,
            "changed": sum(1 for t in terms if t.changed),
            "approved": sum(1 for t in terms if t.state == "approved"),
            "placeholders": [
                (p, value, assumption_ids.get(p.assumption)) for p, value in placeholders
            ],
            "design_blockers": services.territory_design_blockers(engagement=engagement),
            "design_description": playbook.design_gate_description,
        },
    )


@engagement_view(Capability.EDIT)
@require_http_methods(["GET", "POST"])
def definition_edit(request: HttpRequest, engagement: Engagement, term_pk: int) -> HttpResponse:
    term = get_object_or_404(engagement.definition_terms, pk=term_pk)
    form = DefinitionTermForm(
        request.POST or None, initial={"term": term.term, "definition": term.definition}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.definition_term_update(
                term=term,
                name=form.cleaned_data["term"],
                definition=form.cleaned_data["definition"],
                actor=request.user,
            )
        except ValidationError as exc:
            form.add_error("definition", exc)
        else:
            messages.success(
                request, f"“{term.term}” saved as a draft: publish it to ask for sign-off."
            )
            return redirect("engagements:definitions", engagement_pk=engagement.pk)
    return render(
        request,
        "engagements/definition_edit.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "term": term,
            "form": form,
            "placeholders": services.playbook_for(engagement).definition_placeholders,
        },
    )


@engagement_view(Capability.VIEW)
@require_GET
def definitions_print(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The document as the customer signed it: each term's latest text and its evidence."""
    return render(
        request,
        "engagements/definitions_print.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "terms": services.definitions_overview(engagement=engagement),
        },
    )
