"""Bulk routing, the QA suite and an audit through a real Redis and a real rqworker process."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from engagements.models import Job
from routing.models import QARun, RoutingAudit, RoutingBatch
from tests import jobs_support
from tests.routing.conftest import make_small_object
from tests.routing.test_files import ROWS, crm_export

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def clean_queue():
    jobs_support.empty_queue()
    yield
    jobs_support.empty_queue()


def test_routing_jobs_run_in_the_worker(world, client):
    make_small_object(world.engagement)
    base = f"/engagements/{world.engagement.pk}/routing/"
    client.force_login(world.engineer)
    client.post(f"{base}batches/", {"file": SimpleUploadedFile("crm.csv", ROWS.encode())})
    client.post(f"{base}qa/generate/")
    client.post(f"{base}qa/run/")
    client.force_login(world.ops)
    client.post(
        f"{base}audits/",
        {
            "file": SimpleUploadedFile("crm.csv", crm_export(50, 0)),
            "rollout_date": "2026-02-01",
            "sample_size": 50,
        },
    )
    assert Job.objects.filter(status=Job.Status.QUEUED).count() == 3

    jobs_support.run_burst_worker()

    for job in Job.objects.all():
        assert job.status == Job.Status.SUCCEEDED, job.error
    batch = RoutingBatch.objects.get()
    assert batch.rows == 4 and batch.result_file
    assert QARun.objects.get().all_passed
    assert RoutingAudit.objects.get().accuracy == 100.0
