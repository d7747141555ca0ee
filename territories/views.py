"""Pages of an engagement's account universe: imports, data quality, the ICP tier matrix,
segments, valuation, coverage and the team roster, and the Valued Account List exports."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagements.access import Capability, engagement_view
from engagements.exports import csv_response
from engagements.models import Engagement, Job
from engagements.services import intake_customer_list
from engagements.tracking import job_start
from engagements.units import megabytes
from territories import forms, jobs, services, tiers, valuation
from territories.models import (
    Account,
    DataQualitySummary,
    PlannedHire,
    Rep,
    TierRule,
    ValuationSummary,
)

EXPORT_KIND = f"{jobs.valued_accounts_export.__module__}.{jobs.valued_accounts_export.__name__}"


def _page(engagement: Engagement, **extra) -> dict:
    return {"engagement": engagement, "access": engagement.access, **extra}


def _job_from_query(request: HttpRequest, engagement: Engagement) -> Job | None:
    job_pk = request.GET.get("job", "")
    return engagement.jobs.filter(pk=int(job_pk)).first() if job_pk.isdigit() else None


def _after_change(request: HttpRequest, engagement: Engagement, url: str, reason: str):
    """Every parameter change re-values the universe as a job; the page shows its progress."""
    job = services.revalue_start(engagement=engagement, user=request.user, reason=reason)
    return redirect(f"{url}?job={job.pk}")


# --- The Valued Account List -------------------------------------------------------------------

PAGE_SIZE = 50


@engagement_view(Capability.VIEW)
@require_GET
def account_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    accounts = engagement.accounts.all()
    segment = request.GET.get("segment", "")
    tier = request.GET.get("tier", "")
    kind = request.GET.get("kind", "")
    query = request.GET.get("q", "").strip()
    if segment:
        accounts = accounts.filter(segment=segment)
    if tier in Account.Tier.values:
        accounts = accounts.filter(tier=tier)
    if kind in ("customer", "prospect"):
        accounts = accounts.filter(is_customer=kind == "customer")
    if query:
        accounts = accounts.filter(
            Q(name__icontains=query) | Q(external_id__iexact=query) | Q(domain__icontains=query)
        )
    accounts = accounts.order_by(F("value").desc(nulls_last=True), "name", "pk").only(
        "engagement_id",  # the related manager's queryset reads it back on every row
        "external_id",
        "name",
        "name",
        "industry",
        "state",
        "is_customer",
        "contract_value",
        "segment",
        "tier",
        "value",
        "value_explanation",
    )
    page = Paginator(accounts, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    summary = ValuationSummary.objects.filter(engagement=engagement).first()
    exports = engagement.jobs.filter(kind=EXPORT_KIND).order_by("-created_at")[:3]
    return render(
        request,
        "territories/account_list.html",
        _page(
            engagement,
            page=page,
            summary=summary,
            segments=services.segment_definition_get(engagement=engagement).scheme().labels,
            tiers=Account.Tier.choices,
            filters={"segment": segment, "tier": tier, "kind": kind, "q": query},
            querystring=params.urlencode(),
            exports=exports,
            job=_job_from_query(request, engagement),
        ),
    )


@engagement_view(Capability.VIEW)
@require_GET
def account_export_csv(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    header, rows, _ = services.valued_accounts_table(engagement=engagement)
    return csv_response(f"valued-accounts-{engagement.pk}.csv", header, rows)


@engagement_view(Capability.VIEW)
@require_POST
def account_export_xlsx(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    job = job_start(
        engagement=engagement,
        func=jobs.valued_accounts_export,
        title="Export the Valued Account List (XLSX)",
        user=request.user,
        dedupe_key="territories.export_xlsx",
    )
    return redirect(f"{reverse('territories:account_list', args=[engagement.pk])}?job={job.pk}")


@engagement_view(Capability.VIEW)
@require_GET
def account_export_download(request: HttpRequest, engagement: Engagement, export_pk: int):
    job = get_object_or_404(
        engagement.jobs, pk=export_pk, kind=EXPORT_KIND, status=Job.Status.SUCCEEDED
    )
    media = Path(settings.MEDIA_ROOT).resolve()
    path = (media / job.result.get("path", "")).resolve()
    folder = (media / "exports" / str(engagement.pk)).resolve()
    if folder not in path.parents or not path.is_file():
        raise Http404("The export file is gone; export again.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


# --- Imports -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.CUSTOMER_INPUT)
def import_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = forms.AccountUploadForm()
    status = 200
    too_big = ""
    if request.method == "POST":
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        # Checked before Django reads the body, so an oversized upload is never written to disk.
        if declared > settings.MAX_UPLOAD_BYTES + 64 * 1024:
            too_big = (
                f"The upload is {megabytes(declared)} MB, over the "
                f"{megabytes(settings.MAX_UPLOAD_BYTES)} MB limit."
            )
            status = 413
        else:
            form = forms.AccountUploadForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    record = services.account_import_create(
                        engagement=engagement, upload=form.cleaned_data["file"], user=request.user
                    )
                except ValidationError as exc:
                    form.add_error("file", exc)
                else:
                    return redirect("territories:import_detail", engagement.pk, record.pk)
            status = 400
    imports = engagement.imports.select_related("uploaded_by").defer("errors", "preview")[:50]
    return render(
        request,
        "territories/import_list.html",
        _page(
            engagement,
            form=form,
            too_big=too_big,
            imports=imports,
            max_mb=megabytes(settings.MAX_UPLOAD_BYTES),
            intake_list=intake_customer_list(engagement=engagement),
        ),
        status=status,
    )


@engagement_view(Capability.EDIT)
@require_POST
def import_from_intake(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """One click: the intake form's customer list becomes an import awaiting its mapping."""
    try:
        record = services.account_import_from_intake(engagement=engagement, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("territories:import_list", engagement.pk)
    return redirect("territories:import_detail", engagement.pk, record.pk)


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.EDIT)
def import_detail(request: HttpRequest, engagement: Engagement, import_pk: int) -> HttpResponse:
    record = get_object_or_404(
        engagement.imports.select_related("job", "uploaded_by"), pk=import_pk
    )
    record.reconcile()
    table = record.table()
    form = forms.ImportMappingForm(
        request.POST or None,
        headers=table.headers,
        mapping=record.mapping,
        initial={"strict": record.strict},
    )
    if request.method == "POST":
        if not record.can_run:
            messages.error(request, "This import is already queued or done.")
            return redirect("territories:import_detail", engagement.pk, record.pk)
        if form.is_valid():
            services.account_import_start(
                account_import=record,
                mapping=form.mapping(),
                strict=form.cleaned_data["strict"],
                user=request.user,
            )
            return redirect("territories:import_detail", engagement.pk, record.pk)
    return render(
        request,
        "territories/import_detail.html",
        _page(
            engagement,
            record=record,
            table=table,
            form=form,
            preview=record.preview,
            job=record.job,
            # In the file's column order (a PostgreSQL jsonb mapping comes back sorted by key).
            mapping_rows=[(h, record.mapping[h]) for h in table.headers if h in record.mapping]
            + [(h, t) for h, t in record.mapping.items() if h not in table.headers],
            field_labels={
                **forms.ingest.FIELD_LABELS,
                forms.ingest.CUSTOM: "custom attribute",
                forms.ingest.IGNORE: "ignored",
            },
        ),
        status=400 if request.method == "POST" else 200,
    )


@engagement_view(Capability.VIEW)
@require_GET
def import_errors_csv(request: HttpRequest, engagement: Engagement, import_pk: int):
    record = get_object_or_404(engagement.imports.defer("errors", "preview"), pk=import_pk)
    if not record.errors_file:
        raise Http404("This import has no row errors.")
    return FileResponse(
        record.errors_file.open("rb"),
        as_attachment=True,
        filename=f"import-{record.pk}-errors.csv",
        content_type="text/csv; charset=utf-8",
    )


# --- Data quality ------------------------------------------------------------------------------


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
    return render(
        request,
        "territories/data_quality.html",
        _page(
            engagement,
            summary=summary,
            report=summary.report if summary else None,
            job=_job_from_query(request, engagement),
        ),
    )


# --- ICP tier matrix ---------------------------------------------------------------------------


@engagement_view(Capability.VIEW)
@require_GET
def tier_matrix(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    rules = services.tier_rules_ordered(engagement=engagement)
    summary = ValuationSummary.objects.filter(engagement=engagement).first()
    inputs = services.model_inputs(engagement=engagement)
    stale = services.valuation_is_stale(engagement=engagement, summary=summary, inputs=inputs)
    matches = summary.inputs.get("rule_matches", []) if summary and not stale else []
    groups = []
    for tier in tiers.TIERS:
        own = [r for r in rules if r.tier == tier]
        groups.append({"tier": tier, "label": tiers.TIER_LABELS[tier], "rules": own})
    for index, rule in enumerate(rules):
        rule.matches = matches[index] if index < len(matches) else None
    distribution = summary.tier_distribution if summary else []
    register = services.assumption_states(engagement=engagement)
    for group in groups:
        group["assumption"] = register.get(services.TIER_KEYS[group["tier"]])
    return render(
        request,
        "territories/tier_matrix.html",
        _page(
            engagement,
            groups=groups,
            corrections=[c for c in inputs["corrections"] if c[:2] in tiers.TIERS],
            register_warnings=inputs["warnings"],
            changed=services.signoff_changed(
                engagement=engagement, subject=services.ICP_SUBJECT, inputs=inputs
            ),
            summary=summary,
            stale=stale,
            distribution=distribution,
            warnings=tiers.matrix_warnings(distribution) if distribution else [],
            matrix_lines=tiers.matrix_lines([r.rule() for r in rules]),
            job=_job_from_query(request, engagement),
        ),
    )


def _rule_forms(request: HttpRequest, engagement: Engagement, rule: TierRule | None):
    field_choices = services.rule_fields(engagement=engagement)
    if request.method == "POST":
        form = forms.TierRuleForm(request.POST)
        conditions = forms.condition_formset(request.POST, field_choices=field_choices)
    else:
        initial = (
            {"tier": rule.tier, "name": rule.name}
            if rule
            else {"tier": request.GET.get("tier", "T1")}
        )
        form = forms.TierRuleForm(initial=initial)
        conditions = forms.condition_formset(
            initial=[
                {
                    "field": c["field"],
                    "op": c["op"],
                    "value": _condition_text(c),
                }
                for c in (rule.conditions if rule else [])
            ],
            field_choices=field_choices,
        )
    return form, conditions


def _condition_text(condition: dict) -> str:
    value = condition.get("value")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if condition["op"] == "between":
        low, high = value
        return f"{low:g} - {high:g}"
    if isinstance(value, list):
        return ", ".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _draft(form, conditions) -> tuple[tiers.Rule | None, list[str]]:
    """The rule the forms describe, or the reasons it is not valid yet."""
    form_ok, conditions_ok = form.is_valid(), conditions.is_valid()
    problems = [str(e) for e in form.non_field_errors()]
    for sub in conditions:
        problems += [str(e) for e in sub.non_field_errors()]
    if not (form_ok and conditions_ok):
        return None, problems or ["Check the highlighted fields."]
    parsed = tuple(
        sub.cleaned_data["condition"]
        for sub in conditions
        if sub.cleaned_data and sub.cleaned_data.get("condition") is not None
    )
    if not parsed:
        return None, ["Add at least one condition."]
    return tiers.Rule(form.cleaned_data["tier"], parsed, form.cleaned_data["name"]), []


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.EDIT)
def tier_rule_edit(
    request: HttpRequest, engagement: Engagement, rule_pk: int | None = None
) -> HttpResponse:
    rule = get_object_or_404(engagement.tier_rules, pk=rule_pk) if rule_pk else None
    form, conditions = _rule_forms(request, engagement, rule)
    problems: list[str] = []
    if request.method == "POST":
        draft, problems = _draft(form, conditions)
        if draft is not None:
            services.tier_rule_save(
                engagement=engagement,
                rule=rule,
                tier=draft.tier,
                name=draft.name,
                conditions=draft.conditions,
                actor=request.user,
            )
            return _after_change(
                request,
                engagement,
                reverse("territories:tier_matrix", args=[engagement.pk]),
                "ICP matrix changed",
            )
    return render(
        request,
        "territories/tier_rule_form.html",
        _page(engagement, rule=rule, form=form, conditions=conditions, problems=problems),
        status=400 if problems else 200,
    )


@engagement_view(Capability.EDIT)
@require_POST
def tier_rule_preview(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The live preview: the tier distribution if the draft rule were saved (nothing is)."""
    rule_pk = request.POST.get("rule_pk", "")
    rule = get_object_or_404(engagement.tier_rules, pk=int(rule_pk)) if rule_pk.isdigit() else None
    form, conditions = _rule_forms(request, engagement, rule)
    draft, problems = _draft(form, conditions)
    preview = None
    if draft is not None:
        current = services.tier_rules_ordered(engagement=engagement)
        entries = []
        for position, existing in enumerate(current):
            if rule is not None and existing.pk == rule.pk:
                continue
            entries.append((existing.tier, (existing.position, position), existing.rule()))
        # A new rule (or a rule moved to another tier) goes last in its tier, as saving does.
        keep_place = rule is not None and rule.tier == draft.tier
        entries.append((draft.tier, (rule.position, -1) if keep_place else (10**9, 0), draft))
        ordered = tiers.ordered(entries)
        preview = services.tier_preview(engagement=engagement, rules=ordered)
        preview["draft_index"] = ordered.index(draft)
        preview["draft_matches"] = preview["matches"][preview["draft_index"]]
    return render(
        request,
        "territories/_tier_preview.html",
        _page(engagement, preview=preview, problems=problems, draft=draft),
    )


@engagement_view(Capability.EDIT)
@require_POST
def tier_rule_delete(request: HttpRequest, engagement: Engagement, rule_pk: int):
    rule = get_object_or_404(engagement.tier_rules, pk=rule_pk)
    services.tier_rule_delete(rule=rule, actor=request.user)
    return _after_change(
        request,
        engagement,
        reverse("territories:tier_matrix", args=[engagement.pk]),
        "ICP rule removed",
    )


@engagement_view(Capability.EDIT)
@require_POST
def tier_rule_move(request: HttpRequest, engagement: Engagement, rule_pk: int):
    rule = get_object_or_404(engagement.tier_rules, pk=rule_pk)
    services.tier_rule_move(
        rule=rule, up=request.POST.get("direction") != "down", actor=request.user
    )
    return _after_change(
        request,
        engagement,
        reverse("territories:tier_matrix", args=[engagement.pk]),
        "ICP rules reordered",
    )


@engagement_view(Capability.EDIT)
@require_POST
def signoff_publish(request: HttpRequest, engagement: Engagement, subject: str) -> HttpResponse:
    """Publish the ICP matrix or the valuation methodology for the customer's sign-off."""
    if subject not in services.SIGNOFF_TITLES:
        raise Http404("Nothing to publish here.")
    target = "tier_matrix" if subject == services.ICP_SUBJECT else "valuation_detail"
    try:
        version = services.territories_publish(
            engagement=engagement, subject=subject, actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"“{version.title}” version {version.version} is waiting for the customer approver.",
        )
    return redirect(f"territories:{target}", engagement.pk)


# --- Segments ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.EDIT)
def segment_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    definition = services.segment_definition_get(engagement=engagement)
    scheme = definition.scheme()
    initial = [
        {
            "label": band.label,
            "operator": "gte" if band.inclusive else "gt",
            "minimum": "" if band.minimum is None else f"{band.minimum:,.0f}",
        }
        for band in scheme.bands
    ]
    form = forms.SegmentsForm(request.POST or None, initial={"basis": scheme.basis})
    bands = forms.BandFormSet(request.POST or None, initial=initial, prefix="band")
    problems: list[str] = []
    if request.method == "POST":
        if form.is_valid() and bands.is_valid():
            try:
                services.segment_definition_update(
                    engagement=engagement, scheme=form.scheme(bands), actor=request.user
                )
            except ValidationError as exc:
                problems = exc.messages
            else:
                return _after_change(request, engagement, request.path, "segments changed")
        else:
            problems = ["Check the highlighted fields."]
    summary = ValuationSummary.objects.filter(engagement=engagement).first()
    stale = services.valuation_is_stale(engagement=engagement, summary=summary)
    return render(
        request,
        "territories/segment_list.html",
        _page(
            engagement,
            form=form,
            bands=bands,
            problems=problems,
            descriptions=scheme.describe(),
            warnings=services.segment_warnings(engagement=engagement, scheme=scheme),
            assumption=services.assumption_states(engagement=engagement).get(services.SEGMENTS_KEY),
            summary=summary,
            stale=stale,
            job=_job_from_query(request, engagement),
        ),
        status=400 if problems else 200,
    )


# --- Valuation ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.EDIT)
def valuation_detail(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    settings_row = services.valuation_settings_get(engagement=engagement)
    scheme = services.segment_definition_get(engagement=engagement).scheme()
    form = forms.ValuationSettingsForm(
        request.POST or None, instance=settings_row, segment_labels=scheme.labels
    )
    if request.method == "POST" and form.is_valid():
        services.valuation_settings_update(
            engagement=engagement, params=form.params(), actor=request.user
        )
        return _after_change(request, engagement, request.path, "valuation parameters changed")
    summary = ValuationSummary.objects.filter(engagement=engagement).first()
    inputs = services.model_inputs(engagement=engagement)
    params = inputs["params"]
    register = services.assumption_states(engagement=engagement)
    return render(
        request,
        "territories/valuation_detail.html",
        _page(
            engagement,
            form=form,
            summary=summary,
            stale=services.valuation_is_stale(
                engagement=engagement, summary=summary, inputs=inputs
            ),
            params=params,
            methodology=valuation.methodology_lines(inputs["params"], inputs["scheme"]),
            corrections=inputs["corrections"],
            register_warnings=inputs["warnings"],
            register=[
                (name.replace("_", " ").capitalize(), register.get(key))
                for name, key in services.VALUATION_KEYS.items()
            ],
            changed=services.signoff_changed(
                engagement=engagement, subject=services.METHODOLOGY_SUBJECT, inputs=inputs
            ),
            segments=inputs["scheme"].labels,
            job=_job_from_query(request, engagement),
        ),
        status=400 if request.method == "POST" else 200,
    )


@engagement_view(Capability.EDIT)
@require_POST
def valuation_revalue(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    return _after_change(
        request,
        engagement,
        reverse("territories:valuation_detail", args=[engagement.pk]),
        "requested",
    )


# --- Coverage and capacity ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.EDIT)
def coverage_detail(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    rules = services.coverage_rules_effective(engagement=engagement)
    capacity = services.capacity_settings_get(engagement=engagement)
    which = request.POST.get("form") if request.method == "POST" else None
    coverage_form = forms.CoverageForm(request.POST if which == "coverage" else None, rules=rules)
    capacity_form = forms.CapacityForm(
        request.POST if which == "capacity" else None, instance=capacity
    )
    if which == "coverage" and coverage_form.is_valid():
        try:
            services.coverage_rules_update(
                engagement=engagement, rules=coverage_form.coverage_rules(), actor=request.user
            )
        except ValidationError as exc:
            coverage_form.add_error(None, exc)
        else:
            messages.success(request, "Coverage model saved.")
            return redirect(request.path)
    if which == "capacity" and capacity_form.is_valid():
        services.capacity_update(
            engagement=engagement,
            by_state={s: capacity_form.cleaned_data[s] for s in forms.coverage.RAMP_STATES},
            actor=request.user,
        )
        messages.success(request, "Rep capacity saved.")
        return redirect(request.path)
    overview = services.coverage_overview(engagement=engagement)
    return render(
        request,
        "territories/coverage_detail.html",
        _page(
            engagement,
            overview=overview,
            coverage_form=coverage_form,
            capacity_form=capacity_form,
            ranges=forms.coverage.CAPACITY_RANGES,
            register=services.assumption_states(engagement=engagement),
            coverage_key=services.COVERAGE_KEY,
            capacity_key=services.CAPACITY_KEY,
        ),
        status=400 if which else 200,
    )


# --- Team roster -------------------------------------------------------------------------------


@engagement_view(Capability.VIEW)
@require_GET
def team(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    capacity = services.capacity_settings_get(engagement=engagement).by_state()
    reps = list(engagement.reps.all())
    for rep in reps:
        rep.capacity_used = rep.effective_capacity(capacity)
    hires = list(engagement.planned_hires.all())
    return render(
        request,
        "territories/team.html",
        _page(engagement, reps=reps, hires=hires, capacity=capacity),
    )


def _roster_edit(request: HttpRequest, engagement: Engagement, obj, form_class, save, kind: str):
    """Add or change one row of the roster (a rep or a planned hire) with its service."""
    labels = services.segment_definition_get(engagement=engagement).scheme().labels
    form = form_class(request.POST or None, instance=obj, segment_labels=labels)
    if request.method == "POST" and form.is_valid():
        try:
            save(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("territories:team", engagement.pk)
    return render(
        request,
        "territories/team_form.html",
        _page(engagement, form=form, obj=obj, kind=kind),
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.EDIT)
def rep_edit(request: HttpRequest, engagement: Engagement, rep_pk: int | None = None):
    rep = get_object_or_404(engagement.reps, pk=rep_pk) if rep_pk else Rep(engagement=engagement)
    return _roster_edit(
        request,
        engagement,
        rep,
        forms.RepForm,
        lambda r, actor: services.rep_save(rep=r, actor=actor),
        "rep",
    )


@engagement_view(Capability.EDIT)
@require_POST
def rep_delete(request: HttpRequest, engagement: Engagement, rep_pk: int):
    services.rep_delete(rep=get_object_or_404(engagement.reps, pk=rep_pk), actor=request.user)
    return redirect("territories:team", engagement.pk)


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.EDIT)
def hire_edit(request: HttpRequest, engagement: Engagement, hire_pk: int | None = None):
    hire = (
        get_object_or_404(engagement.planned_hires, pk=hire_pk)
        if hire_pk
        else PlannedHire(engagement=engagement)
    )
    return _roster_edit(
        request,
        engagement,
        hire,
        forms.PlannedHireForm,
        lambda h, actor: services.hire_save(hire=h, actor=actor),
        "hire",
    )


@engagement_view(Capability.EDIT)
@require_POST
def hire_delete(request: HttpRequest, engagement: Engagement, hire_pk: int):
    services.hire_delete(
        hire=get_object_or_404(engagement.planned_hires, pk=hire_pk), actor=request.user
    )
    return redirect("territories:team", engagement.pk)
