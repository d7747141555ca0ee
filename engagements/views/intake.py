"""The intake form in the customer portal: autosaved as the customer types (htmx), completion
visible to the architect, submitted once complete; the customer list upload."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagements import services
from engagements.access import Capability, engagement_view
from engagements.forms import CustomerListUploadForm, IntakeFormForm, ReasonForm
from engagements.models import Engagement, IntakeForm
from engagements.units import MB, megabytes


def _intake(engagement: Engagement) -> IntakeForm:
    return IntakeForm.objects.get_or_create(engagement=engagement)[0]


def _context(engagement: Engagement, intake: IntakeForm, form: IntakeFormForm, **extra) -> dict:
    can_edit = "customer_input" in engagement.access.caps and not intake.is_submitted
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return {
        "engagement": engagement,
        "access": engagement.access,
        "intake": intake,
        "form": form,
        "can_edit": can_edit,
        "sections": services.INTAKE_SECTIONS,
        "progress": services.intake_progress(intake=intake),
        "uploads": engagement.intake_uploads.select_related("uploaded_by"),
        "upload_form": CustomerListUploadForm(),
        "max_upload_mb": megabytes(min(settings.MAX_UPLOAD_BYTES, 20 * MB)),
        **extra,
    }


def _valid_values(form: IntakeFormForm) -> dict:
    """The fields that validated: an autosave keeps what is good and reports the rest."""
    form.is_valid()
    return {
        name: form.cleaned_data[name]
        for name in form.fields
        if name in form.cleaned_data and name not in form.errors
    }


@engagement_view(Capability.VIEW, post=Capability.CUSTOMER_INPUT)
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The page; a plain POST (no JavaScript) saves the whole form."""
    intake = _intake(engagement)
    if request.method == "POST":
        form = IntakeFormForm(request.POST, instance=IntakeForm.objects.get(pk=intake.pk))
        try:
            intake = services.intake_save(
                intake=intake, values=_valid_values(form), actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("engagements:intake", engagement_pk=engagement.pk)
        if not form.errors:
            messages.success(request, "Intake form saved.")
            return redirect("engagements:intake", engagement_pk=engagement.pk)
        return render(request, "engagements/intake.html", _context(engagement, intake, form))
    return render(
        request,
        "engagements/intake.html",
        _context(engagement, intake, IntakeFormForm(instance=intake)),
    )


@engagement_view(Capability.CUSTOMER_INPUT)
@require_POST
def intake_autosave(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """htmx: save what validates, answer the status fragment (saved time, %, errors)."""
    intake = _intake(engagement)
    form = IntakeFormForm(request.POST, instance=IntakeForm.objects.get(pk=intake.pk))
    error = ""
    try:
        intake = services.intake_save(intake=intake, values=_valid_values(form), actor=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return render(
        request,
        "engagements/_intake_status.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "intake": intake,
            "progress": services.intake_progress(intake=intake),
            "field_errors": [(form.fields[f].label, e) for f, e in form.errors.items()],
            "error": error,
            "saved_at": timezone.localtime() if not error else None,
            "can_edit": not intake.is_submitted,
        },
    )


@engagement_view(Capability.CUSTOMER_INPUT)
@require_POST
def intake_upload(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    intake = _intake(engagement)
    form = CustomerListUploadForm(request.POST, request.FILES)
    if intake.is_submitted:
        messages.error(request, "The intake form was submitted; ask your architect to reopen it.")
    elif form.is_valid():
        try:
            upload = services.intake_upload(
                engagement=engagement,
                uploaded=form.cleaned_data["file"],
                actor=request.user,
                max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES,
            )
        except ValidationError as exc:
            messages.error(
                request, "The customer list was not accepted: " + "; ".join(exc.messages)
            )
        else:
            messages.success(
                request,
                f"{upload.original_name}: {upload.rows} customers, ${upload.total_value:,.0f} total contract value.",
            )
    else:
        messages.error(
            request, "The customer list was not accepted: " + " ".join(form.errors.get("file", []))
        )
    return redirect("engagements:intake", engagement_pk=engagement.pk)


@engagement_view(Capability.CUSTOMER_INPUT)
@require_POST
def intake_submit(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    try:
        services.intake_submit(intake=_intake(engagement), actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, "Thank you: the intake form is submitted. Your architect has been told."
        )
    return redirect("engagements:intake", engagement_pk=engagement.pk)


@engagement_view(Capability.EDIT)
@require_POST
def intake_reopen(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Say what needs changing.")
        services.intake_reopen(
            intake=_intake(engagement), actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The intake form is open for changes again.")
    return redirect("engagements:intake", engagement_pk=engagement.pk)


@engagement_view(Capability.VIEW)
@require_GET
def intake_upload_download(
    request: HttpRequest, engagement: Engagement, upload_pk: int
) -> HttpResponse:
    upload = get_object_or_404(engagement.intake_uploads, pk=upload_pk)
    return FileResponse(upload.file.open("rb"), as_attachment=True, filename=upload.original_name)
