"""Documentation package pages: the versions, build/rebuild, downloads.

Everyone with VIEW on the engagement (its customer approver and viewer included) sees the
versions and downloads them; building needs DOCUMENTS (ops and the architect). Another
customer's engagement, or a package id from another engagement, answers 404.
"""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from engagements.access import Capability, engagement_view
from engagements.models import Engagement
from engagements.tracking import job_start
from handoff import package_jobs
from handoff.documents import DOCUMENTS
from handoff.package import package_path, package_read_member


def dedupe_key(engagement: Engagement) -> str:
    return f"handoff.package:{engagement.pk}"


@require_http_methods(["GET", "POST"])
@engagement_view(Capability.VIEW, post=Capability.DOCUMENTS)
def package_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    if request.method == "POST":
        force = request.POST.get("force") == "1"
        job = job_start(
            engagement=engagement,
            func=package_jobs.package_build,
            title="Build the documentation package" + (" (forced rebuild)" if force else ""),
            user=request.user,
            params={"force": force},
            dedupe_key=dedupe_key(engagement),
        )
        return redirect(f"{reverse('handoff:package_list', args=[engagement.pk])}?job={job.pk}")
    job_pk = request.GET.get("job", "")
    job = engagement.jobs.filter(pk=int(job_pk)).first() if job_pk.isdigit() else None
    if job is None and engagement.access.can(Capability.DOCUMENTS):
        job = (
            engagement.jobs.filter(dedupe_key=dedupe_key(engagement))
            .order_by("-created_at")
            .first()
        )
    packages = list(
        engagement.document_packages.select_related("built_by").order_by("-version")[:50]
    )
    return render(
        request,
        "handoff/package/package_list.html",
        {
            "engagement": engagement,
            "access": engagement.access,
            "packages": packages,
            "latest": packages[0] if packages else None,
            "job": job,
            "documents": DOCUMENTS,
        },
    )


def _package(engagement: Engagement, version: int):
    return get_object_or_404(engagement.document_packages, version=version)


@engagement_view(Capability.VIEW)
@require_GET
def package_download(request: HttpRequest, engagement: Engagement, version: int) -> FileResponse:
    package = _package(engagement, version)
    path = package_path(package)
    if not path.is_file():
        raise Http404("The package file is missing; ask ops to rebuild it.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=package.filename,
        content_type="application/zip",
    )


@engagement_view(Capability.VIEW)
@require_GET
def package_file(
    request: HttpRequest, engagement: Engagement, version: int, filename: str
) -> HttpResponse:
    package = _package(engagement, version)
    try:
        content = package_read_member(package, filename)
    except (KeyError, FileNotFoundError, StopIteration) as exc:
        raise Http404("No such file in this package.") from exc
    response = HttpResponse(
        content, content_type=mimetypes.guess_type(filename)[0] or "application/octet-stream"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
