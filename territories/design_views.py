"""Pages of territory design: the segmentation hierarchy, balancing runs (results, manual
moves and locks, approval, comparison), the territory map, the growth-ready plan, quota and
equity. Every view goes through ``engagement_view``; objects are looked up through the
engagement, so another engagement's run answers 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from engagements.access import Capability, engagement_view
from engagements.exports import csv_response
from engagements.models import Engagement
from engagements.services import territory_design_blockers
from territories import design, design_forms
from territories.models import BalancingRun, RunAtom, RunEdit, RunMap, RunPod, RunTerritory

ATOMS_PER_PAGE = 25


def _page(engagement: Engagement, **extra) -> dict:
    return {"engagement": engagement, "access": engagement.access, **extra}


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


def _run(engagement: Engagement, run_pk: int) -> BalancingRun:
    run = get_object_or_404(
        engagement.balancing_runs.select_related("job", "created_by", "approved_by"), pk=run_pk
    )
    run.engagement = engagement
    run.mirror_job()
    return run


# --- The hierarchy ---------------------------------------------------------------------------------


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def hierarchy(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    row = design.hierarchy_get(engagement=engagement)
    spec = design.hierarchy_spec(engagement=engagement, hierarchy=row)
    team = [r.name for r in design.roster(engagement=engagement)]
    kwargs = {"segments": spec.segment_labels, "reps": team}
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        form = design_forms.HierarchyForm(request.POST, cuts=spec.cuts)
        pods = design_forms.PodFormSet(request.POST, prefix="pods", form_kwargs=kwargs)
        if form.is_valid() and pods.is_valid():
            chosen = [
                (f.cleaned_data.get("position") or 999, i, f.pod())
                for i, f in enumerate(pods.forms)
                if f.cleaned_data and not f.cleaned_data.get("DELETE") and not f.is_blank()
            ]
            new = spec.__class__(
                cuts=form.cuts(),
                segment_basis=spec.segment_basis,
                bands=spec.bands,
                pods=tuple(p for _, _, p in sorted(chosen, key=lambda x: (x[0], x[1]))),
            )
            try:
                design.hierarchy_save(
                    engagement=engagement,
                    spec=new,
                    named_accounts=form.cleaned_data["named_accounts"],
                    split_share=form.cleaned_data["split_share"] / 100,
                    actor=request.user,
                )
            except ValidationError as exc:
                problems = _errors(exc)
            else:
                messages.success(request, "Hierarchy saved.")
                return redirect("design:hierarchy", engagement.pk)
        status = 400
    else:
        form = design_forms.HierarchyForm(
            cuts=spec.cuts,
            initial={
                "named_accounts": design.named_rules_text(row.named_accounts),
                "split_share": round(100 * row.split_share, 1),
            },
        )
        pods = design_forms.PodFormSet(
            prefix="pods",
            form_kwargs=kwargs,
            initial=[
                design_forms.PodForm.initial_for(p, i) for i, p in enumerate(spec.pods, start=1)
            ],
        )
    overview = design.hierarchy_overview(
        engagement=engagement, spec=spec, named=row.named_accounts, share=row.split_share
    )
    from territories.diagrams import hierarchy_diagram_svg

    diagram = hierarchy_diagram_svg(
        spec,
        pod_stats={p.pod.key: (p.accounts, p.value) for p in overview["pods"]},
        named=overview["named"],
    )
    return render(
        request,
        "territories/design/hierarchy.html",
        _page(
            engagement,
            hierarchy=row,
            saved=row.pk is not None,
            spec=spec,
            spec_problems=spec.problems() if row.pk else [],
            form=form,
            pods=pods,
            problems=problems,
            overview=overview,
            diagram=mark_safe(diagram),  # built from escaped text by territories.diagrams
            blockers=territory_design_blockers(engagement=engagement),
            changed=design.hierarchy_changed(engagement=engagement, hierarchy=row)
            if row.pk
            else None,
            assumptions=_assumptions(engagement),
            granularities=("county", "zip3", "city"),
            hierarchy_publish_url=reverse("design:hierarchy_publish", args=[engagement.pk]),
        ),
        status=status,
    )


def _assumptions(engagement: Engagement) -> dict:
    keys = (design.CUT_ORDER_KEY, design.PODS_KEY, design.GRANULARITY_KEY)
    return {a.key.replace(".", "_"): a for a in engagement.assumptions.filter(key__in=keys)}


@engagement_view(Capability.EDIT)
@require_POST
def hierarchy_roster(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    try:
        design.hierarchy_seats_from_roster(engagement=engagement, actor=request.user)
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(request, "Every pod now has the roster members of its segment and region.")
    return redirect("design:hierarchy", engagement.pk)


@engagement_view(Capability.EDIT)
@require_POST
def hierarchy_split(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    try:
        design.split_accept(
            engagement=engagement,
            pod_key=request.POST.get("pod", ""),
            state=request.POST.get("state", ""),
            granularity=request.POST.get("granularity", "county"),
            actor=request.user,
        )
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(
            request,
            "Split accepted. The geography assumption is ASSUMED again until the customer confirms it.",
        )
    return redirect("design:hierarchy", engagement.pk)


@engagement_view(Capability.EDIT)
@require_POST
def hierarchy_publish(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    try:
        version = design.hierarchy_publish(engagement=engagement, actor=request.user)
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(request, f"Hierarchy published for sign-off (version {version.version}).")
    return redirect("design:hierarchy", engagement.pk)


@engagement_view(Capability.VIEW)
@require_GET
def hierarchy_diagram(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    svg = design.hierarchy_diagram(engagement=engagement)
    return HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")


# --- Runs ----------------------------------------------------------------------------------------


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        form = design_forms.RunForm(request.POST)
        if form.is_valid():
            try:
                run = design.balancing_run_start(
                    engagement=engagement,
                    user=request.user,
                    params=form.params(),
                    name=form.cleaned_data["name"],
                )
            except ValidationError as exc:
                problems = _errors(exc)
            else:
                return redirect("design:run_detail", engagement.pk, run.pk)
        status = 400
    else:
        form = design_forms.RunForm()
    runs = list(
        engagement.balancing_runs.select_related("job", "created_by").defer("summary")[:100]
    )
    for run in runs:
        run.engagement = engagement
    return render(
        request,
        "territories/design/run_list.html",
        _page(
            engagement,
            form=form,
            problems=problems,
            runs=runs,
            blockers=territory_design_blockers(engagement=engagement),
            hierarchy_saved=engagement_has_hierarchy(engagement),
        ),
        status=status,
    )


def engagement_has_hierarchy(engagement: Engagement) -> bool:
    from territories.models import Hierarchy

    return Hierarchy.objects.filter(engagement=engagement).exists()


def _results_context(request: HttpRequest, engagement: Engagement, run: BalancingRun) -> dict:
    """What the results fragment shows: stored figures only (a fixed number of queries)."""
    pods = list(RunPod.objects.filter(run=run).defer("data").order_by("position"))
    territories = list(RunTerritory.objects.filter(run=run).order_by("pod__position", "index"))
    flags = design.run_flags(run=run, territories=territories, pods=pods)
    pod_of = {p.pk: p for p in pods}
    for territory in territories:
        territory.flags = flags["territories"][territory.pk]
        territory.pod = pod_of[territory.pod_id]  # no query: the pods are loaded
    for pod in pods:
        pod.flags = flags["pods"][pod.pk]
        pod.rows = [t for t in territories if t.pod_id == pod.pk]
    selected = None
    atoms_page = None
    raw = request.GET.get("territory") or request.POST.get("territory_open") or ""
    if raw.isdigit():
        selected = next((t for t in territories if t.pk == int(raw)), None)
    if selected is not None:
        atoms = RunAtom.objects.filter(territory=selected).order_by("-value", "atom")
        atoms_page = Paginator(atoms, ATOMS_PER_PAGE).get_page(request.GET.get("page"))
        selected.siblings = [
            t for t in territories if t.pod_id == selected.pod_id and t.pk != selected.pk
        ]
    return {
        "run": run,
        "pods": pods,
        "territories": territories,
        "maps": list(RunMap.objects.filter(run=run).order_by("position")),
        "selected": selected,
        "atoms_page": atoms_page,
        "edits": list(RunEdit.objects.filter(run=run).select_related("actor", "atom")[:15]),
        "editable": "edit" in engagement.access.caps
        and run.status == BalancingRun.Status.SUCCEEDED
        and not run.is_approved,
    }


@engagement_view(Capability.VIEW)
@require_GET
def run_detail(request: HttpRequest, engagement: Engagement, run_pk: int) -> HttpResponse:
    run = _run(engagement, run_pk)
    context = _page(engagement, **_results_context(request, engagement, run))
    if request.htmx and request.GET.get("fragment") == "results":
        return render(request, "territories/design/_run_results.html", context)
    context.update(
        job=run.job if run.job and not run.is_finished else None,
        meetings=list(run.shown_in.order_by("scheduled_at")),
        reviews=list(engagement.meetings.filter(kind="balancing_review").order_by("scheduled_at"))
        if "edit" in engagement.access.caps
        else [],
        others=list(
            engagement.balancing_runs.filter(status=BalancingRun.Status.SUCCEEDED)
            .exclude(pk=run.pk)
            .values_list("pk", "number", "name")[:50]
        ),
        stale=run.is_finished
        and run.data_version
        and run.data_version != design.data_version(engagement=engagement),
    )
    return render(request, "territories/design/run_detail.html", context)


def _rebalance_fields(run: BalancingRun) -> dict[str, object]:
    """The run form's fields for "rebalance around the locks": this run's parameters, from
    its assignment (continuity) with its locks kept."""
    params = design.RunParams.from_dict(run.params)
    fields: dict[str, object] = {
        "name": f"from {run.title}"[:120],
        "tolerance": round(100 * params.tolerance, 4),
        "max_share": "" if params.max_share is None else round(100 * params.max_share, 4),
        "seed": params.seed,
        "continuity": "on",
        "time_limit": params.time_limit,
        "base_run": run.pk,
    }
    if params.contiguous:
        fields["contiguous"] = "on"
    return fields


def _after_edit(
    request: HttpRequest,
    engagement: Engagement,
    run: BalancingRun,
    territory_pk: int | None,
    error: str = "",
):
    if request.htmx:
        context = _page(engagement, **_results_context(request, engagement, run), error=error)
        return render(request, "territories/design/_run_results.html", context)
    if error:
        messages.error(request, error)
    url = reverse("design:run_detail", args=[engagement.pk, run.pk])
    if territory_pk:
        url += f"?territory={territory_pk}#territory-atoms"
    return redirect(url)


@engagement_view(Capability.EDIT)
@require_POST
def atom_move(
    request: HttpRequest, engagement: Engagement, run_pk: int, atom_pk: int
) -> HttpResponse:
    run = _run(engagement, run_pk)
    atom = get_object_or_404(run.atoms.select_related("territory"), pk=atom_pk)
    target = request.POST.get("territory", "")
    if not target.isdigit():
        return _after_edit(
            request, engagement, run, atom.territory_id, "Choose the territory to move it to."
        )
    territory = get_object_or_404(run.territories, pk=int(target))
    error = ""
    try:
        design.run_atom_move(run=run, atom=atom, territory=territory, actor=request.user)
    except ValidationError as exc:
        error = " ".join(_errors(exc))
    run.refresh_from_db()
    return _after_edit(request, engagement, run, atom.territory_id, error)


@engagement_view(Capability.EDIT)
@require_POST
def atom_lock(
    request: HttpRequest, engagement: Engagement, run_pk: int, atom_pk: int
) -> HttpResponse:
    run = _run(engagement, run_pk)
    atom = get_object_or_404(run.atoms, pk=atom_pk)
    error = ""
    try:
        design.run_atom_lock(
            run=run, atom=atom, locked=request.POST.get("locked") == "1", actor=request.user
        )
    except ValidationError as exc:
        error = " ".join(_errors(exc))
    run.refresh_from_db()
    return _after_edit(request, engagement, run, atom.territory_id, error)


@engagement_view(Capability.EDIT)
@require_POST
def run_approve(request: HttpRequest, engagement: Engagement, run_pk: int) -> HttpResponse:
    run = _run(engagement, run_pk)
    try:
        version = design.run_approve(run=run, actor=request.user)
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(
            request,
            f"{run.title} is the territory map; version {version.version} awaits the customer's sign-off.",
        )
    url = reverse("design:run_detail", args=[engagement.pk, run.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@engagement_view(Capability.EDIT)
@require_POST
def run_withdraw(request: HttpRequest, engagement: Engagement, run_pk: int) -> HttpResponse:
    run = _run(engagement, run_pk)
    design.run_withdraw(run=run, actor=request.user)
    messages.info(request, f"{run.title} is no longer the approved territory map.")
    return redirect("design:run_detail", engagement.pk, run.pk)


@engagement_view(Capability.EDIT)
@require_POST
def run_meeting(request: HttpRequest, engagement: Engagement, run_pk: int) -> HttpResponse:
    run = _run(engagement, run_pk)
    raw = request.POST.get("meeting", "")
    meeting = get_object_or_404(engagement.meetings, pk=int(raw)) if raw.isdigit() else None
    if meeting is None:
        messages.error(request, "Choose the balancing review that showed this run.")
    else:
        try:
            design.run_link_meeting(
                run=run,
                meeting=meeting,
                shown=request.POST.get("shown", "1") == "1",
                actor=request.user,
            )
        except ValidationError as exc:
            for message in _errors(exc):
                messages.error(request, message)
    return redirect("design:run_detail", engagement.pk, run.pk)


@engagement_view(Capability.VIEW)
@require_GET
def run_map_svg(request: HttpRequest, engagement: Engagement, run_pk: int) -> HttpResponse:
    run = _run(engagement, run_pk)
    position = request.GET.get("map", "0")
    item = get_object_or_404(RunMap, run=run, position=int(position) if position.isdigit() else -1)
    response = HttpResponse(item.svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="run-{run.number}-map-{item.position + 1}.svg"'
    )
    return response


@engagement_view(Capability.VIEW)
@require_GET
def run_assignment_csv(request: HttpRequest, engagement: Engagement, run_pk: int) -> HttpResponse:
    """Every atom with its territory and rep (the territory assignment), as CSV."""
    run = _run(engagement, run_pk)
    if run.status != BalancingRun.Status.SUCCEEDED:
        raise Http404("The run has no results.")
    header = [
        "Pod",
        "Territory key",
        "Territory",
        "Rep",
        "Kind",
        "Atom",
        "Name",
        "Accounts",
        "Value (USD)",
        "Locked",
        "Moved by hand",
    ]
    rows = (
        RunAtom.objects.filter(run=run)
        .order_by("pod__position", "territory__index", "-value", "atom")
        .values_list(
            "pod__label",
            "territory__key",
            "territory__label",
            "territory__rep",
            "kind",
            "atom",
            "label",
            "count",
            "value",
            "locked",
            "moved_from_id",
        )
        .iterator(chunk_size=5000)
    )
    return csv_response(
        f"territory-assignment-run-{run.number}.csv",
        header,
        ([*row[:9], "yes" if row[9] else "", "yes" if row[10] else ""] for row in rows),
    )


@engagement_view(Capability.VIEW)
@require_GET
def runs_compare(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    finished = engagement.balancing_runs.filter(status=BalancingRun.Status.SUCCEEDED)
    choices = list(finished.values_list("pk", "number", "name")[:100])
    left_pk, right_pk = request.GET.get("left", ""), request.GET.get("right", "")
    comparison = None
    left = right = None
    if left_pk.isdigit() and right_pk.isdigit():
        left = get_object_or_404(finished, pk=int(left_pk))
        right = get_object_or_404(finished, pk=int(right_pk))
        comparison = design.runs_compare(left=left, right=right)
        comparison["maps"] = [
            (a, b)
            for a, b in _pairs(
                list(RunMap.objects.filter(run=left).order_by("position")),
                list(RunMap.objects.filter(run=right).order_by("position")),
            )
        ]
    return render(
        request,
        "territories/design/compare.html",
        _page(engagement, choices=choices, left=left, right=right, comparison=comparison),
    )


def _pairs(a: list, b: list) -> list[tuple]:
    size = max(len(a), len(b))
    return [(a[i] if i < len(a) else None, b[i] if i < len(b) else None) for i in range(size)]


# --- The approved map, the growth plan, quota and equity ------------------------------------------


@engagement_view(Capability.VIEW)
@require_GET
def approved_map(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The approved territory map (the customer portal links here)."""
    run = design.approved_run(engagement=engagement)
    context = _page(engagement, run=run)
    if run is not None:
        run.engagement = engagement
        context.update(_results_context(request, engagement, run), editable=False)
        if request.htmx and request.GET.get("fragment") == "results":
            return render(request, "territories/design/_run_results.html", context)
    return render(request, "territories/design/map.html", context)


def _run_or_approved(engagement: Engagement, run_pk: int) -> BalancingRun:
    run = _run(engagement, run_pk)
    if run.status != BalancingRun.Status.SUCCEEDED:
        raise Http404("The run has no results.")
    return run


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def growth(request: HttpRequest, engagement: Engagement, run_pk: int) -> HttpResponse:
    run = _run_or_approved(engagement, run_pk)
    if request.method == "POST":
        job = design.growth_plan_start(run=run, user=request.user)
        return redirect(f"{reverse('design:growth', args=[engagement.pk, run.pk])}?job={job.pk}")
    job_pk = request.GET.get("job", "")
    job = engagement.jobs.filter(pk=int(job_pk)).first() if job_pk.isdigit() else None
    return render(
        request,
        "territories/design/growth.html",
        _page(
            engagement, run=run, plan=design.growth_plan(run=run), job=job, **_plan_form(engagement)
        ),
    )


def _plan_form(engagement: Engagement, form=None, inputs: dict | None = None) -> dict:
    inputs = inputs if inputs is not None else design.plan_inputs(engagement=engagement)
    settings_row = inputs["settings"]
    segments = list(settings_row.conversion_rates)
    if form is None:
        initial = {
            "quota_share": round(100 * settings_row.quota_share, 2),
            "account_growth": round(100 * settings_row.account_growth, 2),
            "new_hire_months": settings_row.new_hire_months,
            "ramping_months": settings_row.ramping_months,
            **{
                f"rate_{i}": round(100 * settings_row.conversion_rates[s], 2)
                for i, s in enumerate(segments)
            },
        }
        form = design_forms.PlanSettingsForm(initial=initial, segments=segments)
    return {"plan_form": form, "plan_inputs": inputs}


@engagement_view(Capability.EDIT)
@require_POST
def plan_settings(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The quota and growth parameters (assumptions); back to the page that posted them."""
    back = request.POST.get("next", "")
    if not back.startswith(f"/engagements/{engagement.pk}/"):
        back = reverse("design:run_list", args=[engagement.pk])
    segments = list(design.plan_settings_get(engagement=engagement).conversion_rates)
    form = design_forms.PlanSettingsForm(request.POST, segments=segments)
    if form.is_valid():
        try:
            design.plan_settings_update(
                engagement=engagement,
                conversion_rates=form.rates(),
                quota_share=form.cleaned_data["quota_share"] / 100,
                account_growth=form.cleaned_data["account_growth"] / 100,
                new_hire_months=form.cleaned_data["new_hire_months"],
                ramping_months=form.cleaned_data["ramping_months"],
                actor=request.user,
            )
        except ValidationError as exc:
            for message in _errors(exc):
                messages.error(request, message)
        else:
            messages.success(
                request, "Quota and growth parameters saved (ASSUMED until confirmed)."
            )
    else:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else field
            for error in errors:
                messages.error(request, f"{label}: {error}")
    return redirect(back)


@engagement_view(Capability.VIEW, post=Capability.EDIT)
@require_http_methods(["GET", "POST"])
def equity(request: HttpRequest, engagement: Engagement, run_pk: int) -> HttpResponse:
    """The equity report reads stored figures only; its suggested moves come from the
    rebalancing job, which a POST here (the "compute the moves" button) queues."""
    run = _run_or_approved(engagement, run_pk)
    if request.method == "POST":
        design.rebalancing_plan_start(run=run, user=request.user)
        messages.info(
            request, "Computing the suggested moves: this page updates when they are ready."
        )
        return redirect("design:equity", engagement.pk, run.pk)
    report = design.equity_report(run=run)
    job = report["moves"]["job"]
    plan = report["moves"]["plan"]
    show_job = job is not None and (
        job.is_active
        or (job.status == job.Status.FAILED and (plan is None or job.created_at > plan.computed_at))
    )
    return render(
        request,
        "territories/design/equity.html",
        _page(
            engagement,
            run=run,
            report=report,
            job=job if show_job else None,
            **_plan_form(engagement, inputs=report["inputs"]),
        ),
    )
