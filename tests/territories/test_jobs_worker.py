"""Imports and re-valuation through a real Redis and a real ``rqworker`` process."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from engagements.models import Job
from territories.models import Account, AccountImport, ValuationSummary
from tests import jobs_support
from tests.territories import files

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media_root(settings):
    """The worker process reads the test settings' MEDIA_ROOT, so the test must use it too."""
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def clean_queue():
    jobs_support.empty_queue()
    yield
    jobs_support.empty_queue()


def test_an_import_runs_in_the_worker_and_values_the_universe(world, client):
    client.force_login(world.architect)
    base = f"/engagements/{world.engagement.pk}/accounts/"
    client.post(f"{base}imports/", {"file": SimpleUploadedFile("crm.xlsx", files.xlsx_bytes())})
    record = AccountImport.objects.get()
    form = {f"col_{i}": record.mapping[h] for i, h in enumerate(record.table().headers)}
    client.post(f"{base}imports/{record.pk}/", form)
    record.refresh_from_db()
    assert record.status == AccountImport.Status.QUEUED

    jobs_support.run_burst_worker()

    record.refresh_from_db()
    assert record.status == AccountImport.Status.IMPORTED, record.message
    assert record.job.status == Job.Status.SUCCEEDED
    assert record.job.result["created"] == 3
    assert Account.objects.filter(engagement=world.engagement).count() == 3
    assert ValuationSummary.objects.get(engagement=world.engagement).account_count == 3
    assert all(Account.objects.values_list("value_explanation", flat=True))

    # A parameter change queues a re-valuation the worker runs.
    response = client.post(
        f"{base}valuation/",
        {"method": "benchmark", "statistic": "median", "hedge_factor": "0.5",
         "expansion_factor": "0.1", "min_customers": "1", "scale_basis": "employees",
         "cap_0": "", "cap_1": ""},
    )  # fmt: skip
    job = Job.objects.get(pk=int(response.url.rsplit("=", 1)[1]))
    jobs_support.run_burst_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    acme = Account.objects.get(external_id="A-1")
    assert acme.value == 132_000  # 120,000 + 10 %
    assert ValuationSummary.objects.get().inputs["params"]["hedge_factor"] == 0.5
