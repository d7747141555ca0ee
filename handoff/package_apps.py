"""Registrations of the documentation package with other apps.

``register()`` is meant to be called from ``HandoffConfig.ready()`` (``handoff/apps.py``): it
adds the latest package of each engagement to the customer portal's downloads.
"""

from __future__ import annotations

from engagements.models import Engagement, User


def package_downloads(engagement: Engagement, user: User) -> list:
    """The portal's download of the latest documentation package, once one is built.

    The portal asks once per engagement card; the latest version of every engagement the user
    sees is read in one query on the first call and kept on the request's user object, so the
    page's query count does not grow with the number of engagements."""
    from django.db.models import Max
    from django.urls import reverse

    from engagements.access import engagements_for
    from engagements.dashboard import Download
    from handoff.package_models import DocumentPackage

    cache = getattr(user, "_document_packages", None)
    if cache is None:
        latest = (
            DocumentPackage.objects.filter(engagement__in=engagements_for(user))
            .values("engagement_id")
            .annotate(version=Max("version"))
        )
        cache = {row["engagement_id"]: row["version"] for row in latest}
        user._document_packages = cache
    version = cache.get(engagement.pk)
    if version is None:
        return []
    return [
        Download(
            title="Documentation package",
            url=reverse("handoff:package_download", args=[engagement.pk, version]),
            description=f"Version {version}: every deliverable as PDF and XLSX, with a manifest",
        )
    ]


def register() -> None:
    from engagements import dashboard

    dashboard.provide_downloads(package_downloads)
