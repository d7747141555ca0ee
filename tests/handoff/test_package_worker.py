"""The package build as a real job: a real Redis and a real ``rqworker --burst`` process."""

from __future__ import annotations

import pytest

from engagements.models import Job
from handoff import package
from handoff.package_models import DocumentPackage
from tests import jobs_support

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def clean_queue():
    jobs_support.empty_queue()
    yield
    jobs_support.empty_queue()


def test_the_package_job_runs_in_the_worker_and_reports_each_document(world, client):
    client.force_login(world.ops)
    client.post(f"/engagements/{world.other.pk}/handoff/package/")
    job = Job.objects.get()
    assert job.status == Job.Status.QUEUED
    try:
        jobs_support.run_burst_worker(timeout=300)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
        built = DocumentPackage.objects.get(engagement=world.other)
        assert job.result["version"] == built.version == 1 and job.result["created"]
        assert job.result["message"].startswith("Built package v1")
        assert set(job.result["timings"]) == {d.slug for d in package.DOCUMENTS}
        assert package.package_path(built).is_file()
        assert built.job_id == job.pk and built.built_by == world.ops
    finally:
        for built in DocumentPackage.objects.all():  # the worker wrote under the test MEDIA_ROOT
            package.package_path(built).unlink(missing_ok=True)
