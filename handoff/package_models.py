"""Documentation package models: one row per built package version.

A row exists only for a package whose zip was written completely (``handoff.package.build``
writes the zip first, under a temporary name, and creates the row last, in one transaction), so
every row's file is whole and its ``manifest`` lists what the zip holds.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from engagements.models import Engagement, Job


class DocumentPackage(models.Model):
    """One version of an engagement's documentation package (a zip under MEDIA_ROOT)."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="document_packages"
    )
    version = models.PositiveIntegerField(help_text="1, 2, … per engagement.")
    data_version = models.CharField(
        max_length=64, help_text="Digest of the data the documents were built from."
    )
    file = models.CharField(max_length=300, help_text="Path of the zip relative to MEDIA_ROOT.")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    manifest = models.JSONField(default=dict)
    built_at = models.DateTimeField(default=timezone.now)
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seconds = models.FloatField(default=0, help_text="How long the build took.")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["engagement", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "version"], name="document_package_unique_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.engagement} · package v{self.version}"

    @property
    def filename(self) -> str:
        return self.file.rsplit("/", 1)[-1]

    @property
    def files(self) -> list[dict]:
        return list(self.manifest.get("files", []))
