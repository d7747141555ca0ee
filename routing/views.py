"""Pages of the routing app: the territory object, named accounts, fallbacks, the change log,
"test a record", bulk routing, the QA suite, accuracy audits, API tokens and the exports."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagements.access import Capability, engagement_view, require
from engagements.exports import csv_response
from engagements.models import Engagement, Job
from engagements.tracking import job_start
from routing import access, engine, forms, jobs, salesforce, services
from routing.models import QACase


def _page(engagement: Engagement, **extra) -> dict:
    return {"engagement": engagement, "access": engagement.access, **extra}


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _job_from_query(request: HttpRequest, engagement: Engagement) -> Job | None:
    job_pk = request.GET.get("job", "")
    return engagement.jobs.filter(pk=int(job_pk)).first() if job_pk.isdigit() else None


# --- The territory object -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.ROUTING)
def overview(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The territory object: every territory effective today, generation from the approved map."""
    row = services.routing_settings_get(engagement=engagement)
    if request.method == "POST":
        try:
            result = services.territory_object_generate(
                engagement=engagement,
                actor=request.user,
                force=request.POST.get("force") == "1",
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"Generation {result.generation}: {result.territories} territories, "
                f"{result.overrides} named accounts, {result.listed_accounts} listed accounts.",
            )
            for note in result.notes:
                messages.warning(request, note)
        return redirect("routing:overview", engagement.pk)
    today = timezone.localdate()
    records = list(
        engagement.territory_records.annotate(listed=Count("account_list"))
        .filter(
            pk__in=[
                r.pk for r in services.territory_records_live(engagement=engagement, as_of=today)
            ]
        )
        .order_by("pod", "priority", "key")
    )
    retired = engagement.territory_records.exclude(pk__in=[r.pk for r in records]).count()
    pods = {p["key"]: p for p in row.hierarchy.get("pods", [])}
    for record in records:
        record.pod_label = pods.get(record.pod, {}).get("label", record.pod)
        record.geo = salesforce.split_units(record.units)
    return render(
        request,
        "routing/overview.html",
        _page(
            engagement,
            row=row,
            records=records,
            retired=retired,
            vacant=sum(1 for r in records if not r.ae and r.active),
            granularity=sorted(row.granularity_by_state.items()),
        ),
    )


def _territory_form(request, engagement, row, territory=None, accounts=()):
    kwargs = {
        "pods": row.hierarchy.get("pods", []),
        "bands": [b["label"] for b in row.hierarchy.get("bands", [])],
    }
    if request.method == "POST":
        return forms.TerritoryForm(request.POST, **kwargs)
    if territory is not None:
        return forms.TerritoryForm(
            initial=forms.TerritoryForm.initial_for(territory, list(accounts)), **kwargs
        )
    return forms.TerritoryForm(
        initial={"priority": 100, "active": True, "effective_from": timezone.localdate()},
        **kwargs,
    )


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.ROUTING)
def territory_edit(
    request: HttpRequest, engagement: Engagement, territory_pk: int | None = None
) -> HttpResponse:
    territory = (
        get_object_or_404(engagement.territory_records, pk=territory_pk) if territory_pk else None
    )
    if territory is None:
        require(engagement, Capability.ROUTING)  # adding one is for routing roles only
    row = services.routing_settings_get(engagement=engagement)
    accounts = (
        list(territory.account_list.values_list("external_id", flat=True)) if territory else []
    )
    form = _territory_form(request, engagement, row, territory, accounts)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.territory_save(
                engagement=engagement,
                territory=territory,
                values=form.values(),
                accounts=form.account_ids(),
                actor=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request, f"Territory {saved.key} saved; the next routed record uses it."
            )
            return redirect("routing:territory_edit", engagement.pk, saved.pk)
    changes = territory.changes.select_related("actor")[:50] if territory else []
    return render(
        request,
        "routing/territory_form.html",
        _page(
            engagement,
            territory=territory,
            form=form,
            changes=changes,
            granularity=sorted(row.granularity_by_state.items()),
            reps=list(engagement.reps.values_list("name", flat=True)[:500]),
        ),
        status=400 if request.method == "POST" else 200,
    )


@engagement_view(Capability.ROUTING)
@require_POST
def territory_delete(request: HttpRequest, engagement: Engagement, territory_pk: int):
    territory = get_object_or_404(engagement.territory_records, pk=territory_pk)
    try:
        services.territory_delete(territory=territory, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("routing:territory_edit", engagement.pk, territory.pk)
    messages.success(request, f"Territory {territory.key} deleted.")
    return redirect("routing:overview", engagement.pk)


# --- Named accounts --------------------------------------------------------------------------


def _territory_keys(engagement: Engagement) -> list[str]:
    return sorted(set(engagement.territory_records.values_list("key", flat=True)))


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.ROUTING)
def override_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    keys = _territory_keys(engagement)
    form = forms.OverrideForm(request.POST or None, territory_keys=keys)
    if request.method == "POST" and form.is_valid():
        try:
            services.override_save(
                engagement=engagement, override=None, values=form.cleaned_data, actor=request.user
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Named account added.")
            return redirect("routing:override_list", engagement.pk)
    overrides = engagement.named_overrides.order_by("-active", "external_id", "domain", "pk")
    return render(
        request,
        "routing/override_list.html",
        _page(engagement, form=form, overrides=overrides),
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.ROUTING)
def override_edit(request: HttpRequest, engagement: Engagement, override_pk: int):
    override = get_object_or_404(engagement.named_overrides, pk=override_pk)
    keys = _territory_keys(engagement)
    initial = {f: getattr(override, f) for f in services.OVERRIDE_FIELDS}
    form = forms.OverrideForm(request.POST or None, initial=initial, territory_keys=keys)
    if request.method == "POST" and form.is_valid():
        try:
            services.override_save(
                engagement=engagement,
                override=override,
                values=form.cleaned_data,
                actor=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Named account {override.label} saved.")
            return redirect("routing:override_list", engagement.pk)
    return render(
        request,
        "routing/override_form.html",
        _page(engagement, form=form, override=override),
        status=400 if request.method == "POST" else 200,
    )


@engagement_view(Capability.ROUTING)
@require_POST
def override_delete(request: HttpRequest, engagement: Engagement, override_pk: int):
    override = get_object_or_404(engagement.named_overrides, pk=override_pk)
    services.override_delete(override=override, actor=request.user)
    messages.success(request, f"Named account {override.label} deleted.")
    return redirect("routing:override_list", engagement.pk)


# --- Fallbacks and settings, change log -------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.ROUTING)
def routing_settings(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    row = services.routing_settings_get(engagement=engagement)
    initial = {"default_queue": row.default_queue, "rollout_date": row.rollout_date}
    for level in engine.FALLBACK_LEVELS:
        fallback = row.fallback_for(level)
        initial[f"{level}_territory"] = fallback.territory
        initial[f"{level}_queue"] = fallback.queue
    form = forms.SettingsForm(
        request.POST or None, initial=initial, territory_keys=_territory_keys(engagement)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.routing_settings_update(
                engagement=engagement,
                default_queue=form.cleaned_data["default_queue"],
                fallbacks=form.fallbacks(),
                rollout_date=form.cleaned_data["rollout_date"],
                actor=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Routing settings saved.")
            return redirect("routing:settings", engagement.pk)
    return render(
        request,
        "routing/settings.html",
        _page(engagement, form=form, row=row),
        status=400 if request.method == "POST" else 200,
    )


@engagement_view(Capability.VIEW)
@require_GET
def change_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    changes = engagement.territory_changes.select_related("actor", "territory")[:300]
    return render(request, "routing/change_list.html", _page(engagement, changes=changes))


# --- Test a record ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW)
def test_record(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Route one record typed in the form and show the decision with its trace (nothing is
    stored). With htmx only the result fragment is swapped."""
    form = forms.RecordForm(request.POST or None)
    decision = None
    if request.method == "POST" and form.is_valid():
        decision = services.route_record(engagement=engagement, record=form.record())
    context = _page(
        engagement,
        form=form,
        decision=decision,
        version=services.routing_settings_get(engagement=engagement).version,
    )
    if request.htmx and request.method == "POST":
        return render(request, "routing/_test_result.html", context)
    return render(request, "routing/test_record.html", context)


# --- Bulk routing ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.ROUTING)
def batch_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = forms.UploadForm()
    status = 200
    if request.method == "POST":
        form = forms.UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                batch = services.batch_create(
                    engagement=engagement, upload=form.cleaned_data["file"], user=request.user
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                services.batch_start(batch=batch, user=request.user)
                return redirect("routing:batch_detail", engagement.pk, batch.pk)
        status = 400
    batches = engagement.routing_batches.select_related("job", "created_by")[:50]
    return render(
        request,
        "routing/batch_list.html",
        _page(engagement, form=form, batches=batches),
        status=status,
    )


@engagement_view(Capability.VIEW)
@require_GET
def batch_detail(request: HttpRequest, engagement: Engagement, batch_pk: int) -> HttpResponse:
    batch = get_object_or_404(engagement.routing_batches.select_related("job"), pk=batch_pk)
    return render(
        request, "routing/batch_detail.html", _page(engagement, batch=batch, job=batch.job)
    )


@engagement_view(Capability.VIEW)
@require_GET
def batch_download(request: HttpRequest, engagement: Engagement, batch_pk: int):
    batch = get_object_or_404(engagement.routing_batches, pk=batch_pk)
    if not batch.result_file:
        raise Http404("This file has not been routed yet.")
    return FileResponse(
        batch.result_file.open("rb"),
        as_attachment=True,
        filename=batch.result_file.name.rsplit("/", 1)[-1],
    )


# --- QA suite --------------------------------------------------------------------------------


@engagement_view(Capability.VIEW)
@require_GET
def qa_suite(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    cases = list(engagement.qa_cases.all())
    run = engagement.qa_runs.first()
    results = {r["case"]: r for r in run.results} if run else {}
    for case in cases:
        case.result = results.get(case.pk)
    row = services.routing_settings_get(engagement=engagement)
    return render(
        request,
        "routing/qa_suite.html",
        _page(
            engagement,
            cases=cases,
            run=run,
            current=run is not None and run.config_version == row.version,
            categories=QACase.Category.choices,
            job=_job_from_query(request, engagement),
            # engagement_id: the related manager reads it back on every row if deferred.
            runs=engagement.qa_runs.only(
                "engagement_id", "created_at", "total", "passed", "config_version"
            )[:10],
        ),
    )


@engagement_view(Capability.ROUTING)
@require_POST
def qa_generate(request: HttpRequest, engagement: Engagement):
    result = services.qa_generate(engagement=engagement, actor=request.user)
    messages.success(
        request,
        f"{result.added} cases generated"
        + (f"; {result.kept_edited} edited cases kept" if result.kept_edited else "")
        + ".",
    )
    return redirect("routing:qa_suite", engagement.pk)


@engagement_view(Capability.ROUTING)
@require_POST
def qa_run(request: HttpRequest, engagement: Engagement):
    if not engagement.qa_cases.exists():
        messages.error(request, "There are no cases yet: generate the suite first.")
        return redirect("routing:qa_suite", engagement.pk)
    job = job_start(
        engagement=engagement,
        func=jobs.qa_run,
        title="Run the routing QA suite",
        user=request.user,
        dedupe_key="routing.qa_run",
    )
    return redirect(f"{reverse('routing:qa_suite', args=[engagement.pk])}?job={job.pk}")


@engagement_view(Capability.ROUTING)
@require_POST
def qa_publish(request: HttpRequest, engagement: Engagement):
    try:
        version = services.qa_publish(engagement=engagement, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"“{version.title}” version {version.version} is waiting for the customer approver.",
        )
    return redirect("routing:qa_suite", engagement.pk)


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.ROUTING)
def qa_case_edit(request: HttpRequest, engagement: Engagement, case_pk: int | None = None):
    case = get_object_or_404(engagement.qa_cases, pk=case_pk) if case_pk else None
    if request.method == "POST":
        form = forms.QACaseForm(request.POST)
    else:
        form = forms.QACaseForm(initial=forms.QACaseForm.initial_for(case) if case else None)
    if request.method == "POST" and form.is_valid():
        services.qa_case_save(
            case=case or QACase(engagement=engagement), values=form.values(), actor=request.user
        )
        messages.success(request, "QA case saved.")
        return redirect("routing:qa_suite", engagement.pk)
    return render(
        request,
        "routing/qa_case_form.html",
        _page(engagement, form=form, case=case),
        status=400 if request.method == "POST" else 200,
    )


@engagement_view(Capability.ROUTING)
@require_POST
def qa_case_delete(request: HttpRequest, engagement: Engagement, case_pk: int):
    case = get_object_or_404(engagement.qa_cases, pk=case_pk)
    case.delete()
    messages.success(request, f"QA case “{case.name}” deleted.")
    return redirect("routing:qa_suite", engagement.pk)


@engagement_view(Capability.VIEW)
@require_GET
def qa_run_detail(request: HttpRequest, engagement: Engagement, qa_run_pk: int) -> HttpResponse:
    run = get_object_or_404(engagement.qa_runs, pk=qa_run_pk)
    return render(
        request,
        "routing/qa_run.html",
        _page(engagement, run=run, labels=dict(QACase.Category.choices)),
    )


# --- Accuracy audits -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.AUDIT)
def audit_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    row = services.routing_settings_get(engagement=engagement)
    form = forms.AuditForm(initial={"rollout_date": row.rollout_date, "sample_size": 50})
    status = 200
    if request.method == "POST":
        form = forms.AuditForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                audit = services.audit_create(
                    engagement=engagement,
                    upload=form.cleaned_data["file"],
                    user=request.user,
                    rollout_date=form.cleaned_data["rollout_date"],
                    sample_size=form.cleaned_data["sample_size"],
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                services.audit_start(audit=audit, user=request.user)
                return redirect("routing:audit_detail", engagement.pk, audit.pk)
        status = 400
    audits = engagement.routing_audits.select_related("job", "created_by").defer("mismatches")[:50]
    return render(
        request,
        "routing/audit_list.html",
        _page(engagement, form=form, audits=audits),
        status=status,
    )


@engagement_view(Capability.VIEW)
@require_GET
def audit_detail(request: HttpRequest, engagement: Engagement, audit_pk: int) -> HttpResponse:
    audit = get_object_or_404(engagement.routing_audits.select_related("job"), pk=audit_pk)
    return render(
        request, "routing/audit_detail.html", _page(engagement, audit=audit, job=audit.job)
    )


# --- API tokens ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.INTERNAL, post=Capability.ROUTING)
def token_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = forms.TokenForm(request.POST or None)
    plaintext = None
    if request.method == "POST" and form.is_valid():
        _, plaintext = access.token_create(
            engagement=engagement, name=form.cleaned_data["name"], actor=request.user
        )
        form = forms.TokenForm()
    tokens = engagement.routing_tokens.select_related("created_by", "revoked_by")
    response = render(
        request,
        "routing/token_list.html",
        _page(
            engagement,
            form=form,
            tokens=tokens,
            plaintext=plaintext,
            api_url=request.build_absolute_uri(reverse("api_route")),
        ),
        status=400 if request.method == "POST" and plaintext is None else 200,
    )
    # The new token is on this page once: never cache it anywhere.
    response["Cache-Control"] = "no-store"
    return response


@engagement_view(Capability.ROUTING)
@require_POST
def token_revoke(request: HttpRequest, engagement: Engagement, token_pk: int):
    token = get_object_or_404(engagement.routing_tokens, pk=token_pk)
    access.token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked: it no longer routes.")
    return redirect("routing:token_list", engagement.pk)


# --- Tech spec and exports -------------------------------------------------------------------


@engagement_view(Capability.VIEW)
@require_GET
def tech_spec(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    spec = services.tech_spec(engagement=engagement)
    return render(request, "routing/tech_spec.html", _page(engagement, spec=spec))


@engagement_view(Capability.VIEW)
@require_GET
def export_territories(request: HttpRequest, engagement: Engagement):
    header, rows = services.territory_export(engagement=engagement)
    return csv_response(f"territory__c-{engagement.pk}.csv", header, rows)


@engagement_view(Capability.VIEW)
@require_GET
def export_fields(request: HttpRequest, engagement: Engagement):
    return csv_response(
        "territory__c-fields.csv", salesforce.FIELD_LIST_HEADER, salesforce.field_list_rows()
    )


@engagement_view(Capability.VIEW)
@require_GET
def export_overrides(request: HttpRequest, engagement: Engagement):
    header, rows = services.override_export(engagement=engagement)
    return csv_response(f"named-account-overrides-{engagement.pk}.csv", header, rows)


@engagement_view(Capability.VIEW)
@require_GET
def export_accounts(request: HttpRequest, engagement: Engagement):
    header, rows = services.account_list_export(engagement=engagement)
    return csv_response(f"territory-accounts-{engagement.pk}.csv", header, rows)
