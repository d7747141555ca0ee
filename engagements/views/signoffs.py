"""Sign-off pages: the overview, one version, the approver's sign page, the certificate."""

from __future__ import annotations

import difflib
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from engagements import services
from engagements.access import Capability, engagement_view
from engagements.forms import SignoffForm
from engagements.models import Engagement, SignoffVersion
from engagements.signals import SESSION_LOGIN_AT, SESSION_LOGIN_BACKEND

AUTH_METHOD_NAMES = {
    "django.contrib.auth.backends.ModelBackend": "username and password",
    "axes.backends.AxesStandaloneBackend": "username and password",
}


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind our TLS proxy the proxy appends it to X-Forwarded-For
    (the right-most entry is the one it added; anything left of it is client-supplied)."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()[:45]
    return request.META.get("REMOTE_ADDR", "")[:45]


def signoff_evidence(request: HttpRequest) -> services.SignoffEvidence:
    """How the signer is authenticated: the login method and when the session was signed in."""
    backend = request.session.get(SESSION_LOGIN_BACKEND) or request.session.get(
        BACKEND_SESSION_KEY, ""
    )
    method = AUTH_METHOD_NAMES.get(backend, backend or "unknown method")
    login_at_raw = request.session.get(SESSION_LOGIN_AT)
    if login_at_raw:
        login_at = datetime.fromisoformat(login_at_raw)
        minutes = max(0, int((timezone.now() - login_at).total_seconds() // 60))
        auth = (
            f"{method}; session signed in {login_at:%Y-%m-%d %H:%M:%S %Z}, "
            f"{minutes} min before signing"
        )
    else:
        auth = f"{method}; session sign-in time not recorded"
    return services.SignoffEvidence(
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        auth_method=auth,
    )


def _diff(previous: SignoffVersion | None, version: SignoffVersion) -> list[tuple[str, str]]:
    """Line diff from the previous version: (kind, line) with kind in "same", "add", "del"."""
    if previous is None:
        return []
    rows = []
    for line in difflib.ndiff(previous.text.splitlines(), version.text.splitlines()):
        tag, body = line[:2], line[2:]
        if tag == "  ":
            rows.append(("same", body))
        elif tag == "+ ":
            rows.append(("add", body))
        elif tag == "- ":
            rows.append(("del", body))
    return rows


@engagement_view(Capability.VIEW)
@require_GET
def signoff_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    statuses = services.signoff_statuses(engagement=engagement)
    records = engagement.signoff_records.select_related("signer").order_by("-sequence")[:100]
    chain_check = None
    if "internal" in engagement.access.caps:
        chain_check = services.signoff_verify(engagement=engagement)
    return render(
        request,
        "engagements/signoff_list.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "statuses": sorted(statuses.values(), key=lambda s: s.subject),
            "records": records,
            "chain_check": chain_check,
        },
    )


@engagement_view(Capability.VIEW)
@require_GET
def signoff_version(request: HttpRequest, engagement: Engagement, version_pk: int) -> HttpResponse:
    version = get_object_or_404(
        engagement.signoff_versions.select_related("published_by"), pk=version_pk
    )
    siblings = list(
        engagement.signoff_versions.filter(subject=version.subject).order_by("-version")
    )
    previous = next((v for v in siblings if v.version == version.version - 1), None)
    return render(
        request,
        "engagements/signoff_version.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "version": version,
            "versions": siblings,
            "is_latest": siblings[0].pk == version.pk,
            "records": version.records.select_related("signer").order_by("sequence"),
            "diff": _diff(previous, version),
            "previous": previous,
        },
    )


def _next_pending_url(engagement: Engagement, version: SignoffVersion) -> str | None:
    """After signing one item of a group (a definition term), the next one still pending."""
    if ":" not in version.subject:
        return None
    group = version.subject.split(":", 1)[0]
    for status in sorted(
        services.signoff_statuses(engagement=engagement, prefix=f"{group}:").values(),
        key=lambda s: s.latest.pk,
    ):
        if status.state == "pending" and status.latest.pk != version.pk:
            return reverse(
                "engagements:signoff_sign",
                kwargs={"engagement_pk": engagement.pk, "version_pk": status.latest.pk},
            )
    return None


@engagement_view(Capability.SIGN)
@require_http_methods(["GET", "POST"])
def signoff_sign(request: HttpRequest, engagement: Engagement, version_pk: int) -> HttpResponse:
    """The customer approver reads the exact text and approves or declines it.

    A POST for a version that is no longer the latest answers 409 Conflict: the approver must
    read the new text first. The decision is recorded with the evidence of SPEC §3.
    """
    version = get_object_or_404(engagement.signoff_versions, pk=version_pk)
    latest = services.signoff_latest(engagement=engagement, subject=version.subject)
    state = services.signoff_state(engagement=engagement, subject=version.subject)
    context = {
        "engagement": engagement,
        "access": engagement.access,
        "version": version,
        "latest": latest,
        "is_latest": latest is not None and latest.pk == version.pk,
        "state": state if latest is not None and latest.pk == version.pk else "superseded",
        "previous": None,
        "diff": [],
    }
    if version.version > 1:
        previous = engagement.signoff_versions.filter(
            subject=version.subject, version=version.version - 1
        ).first()
        context["previous"] = previous
        context["diff"] = _diff(previous, version)
    if request.method == "POST":
        form = SignoffForm(request.POST, version=version, user=request.user)
        if form.is_valid():
            try:
                record = services.signoff_decide(
                    version=version,
                    decision=form.cleaned_data["decision"],
                    signer=request.user,
                    signer_name=form.cleaned_data["signer_name"],
                    comment=form.cleaned_data["comment"],
                    evidence=signoff_evidence(request),
                    expected_sha256=form.cleaned_data["text_sha256"],
                )
            except services.SignoffStale as exc:
                context["error"] = str(exc)
                context["latest"] = exc.latest
                return render(request, "engagements/signoff_conflict.html", context, status=409)
            except services.SignoffClosed as exc:
                context["error"] = str(exc)
                return render(request, "engagements/signoff_conflict.html", context, status=409)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    f"{record.get_decision_display()}: “{version.title}” "
                    f"(version {version.version}). The record is saved as evidence.",
                )
                next_url = _next_pending_url(engagement, version)
                return redirect(
                    next_url
                    or reverse(
                        "engagements:signoff_certificate",
                        kwargs={"engagement_pk": engagement.pk, "record_pk": record.pk},
                    )
                )
        if not context["is_latest"]:
            # The form may be fine, but this text is no longer the one to sign.
            context["error"] = (
                f"Version {version.version} was replaced by version {latest.version}; "
                "review the new text before deciding."
            )
            return render(request, "engagements/signoff_conflict.html", context, status=409)
    else:
        form = SignoffForm(version=version, user=request.user)
    context["form"] = form
    return render(request, "engagements/signoff_sign.html", context)


@engagement_view(Capability.VIEW)
@require_GET
def signoff_certificate(
    request: HttpRequest, engagement: Engagement, record_pk: int
) -> HttpResponse:
    """A printable certificate of one decision, re-verified each time it is shown."""
    record = get_object_or_404(
        engagement.signoff_records.select_related("version", "signer"), pk=record_pk
    )
    return render(
        request,
        "engagements/signoff_certificate.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "record": record,
            "version": record.version,
            "problems": services.signoff_record_verify(record=record),
        },
    )
