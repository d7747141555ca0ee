"""Fixtures of the territories tests: a private MEDIA_ROOT, uploads, and running imports."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from engagements.models import Job
from territories import services
from territories.models import Account


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def upload():
    """``upload(engagement, data, name)``: store a file as an import, as the upload page does."""

    def _upload(engagement, data: bytes, name: str = "accounts.csv", user=None):
        return services.account_import_create(
            engagement=engagement, upload=SimpleUploadedFile(name, data), user=user
        )

    return _upload


@pytest.fixture
def import_file(upload):
    """``import_file(engagement, data, name, strict=, mapping=)``: upload and run an import."""

    def _import(engagement, data: bytes, name: str = "accounts.csv", *, strict=False, mapping=None):
        record = upload(engagement, data, name)
        services.account_import_configure(
            account_import=record, mapping={**record.mapping, **(mapping or {})}, strict=strict
        )
        return services.account_import_run(account_import=record)

    return _import


def snapshot(engagement) -> list[tuple]:
    """Every stored field of every account: "nothing stored changed" compares two of these."""
    fields = [f.attname for f in Account._meta.fields]
    return sorted(
        (tuple(repr(v) for v in row))
        for row in Account.objects.filter(engagement=engagement).values_list(*fields)
    )


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """``with run_jobs(): client.post(...)`` then every job the request queued is run in-process
    (the unit-test way: job functions are called directly, no worker)."""
    import contextlib
    import importlib

    @contextlib.contextmanager
    def _run():
        before = set(Job.objects.values_list("pk", flat=True))
        with (
            mock.patch("engagements.tracking._queue"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            yield
        for job in Job.objects.exclude(pk__in=before).order_by("pk"):
            module, name = job.kind.rsplit(".", 1)
            getattr(importlib.import_module(module), name)(job.pk)

    return _run
