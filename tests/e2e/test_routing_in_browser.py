"""In a real browser: change a territory's AE, test a record (htmx) and see the new AE with the
trace; run the QA suite and watch the job."""

from __future__ import annotations

import pytest

from routing.models import QARun, TerritoryChange
from tests.routing.conftest import make_small_object

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def jobs_run_inline(monkeypatch):
    import importlib

    from engagements import tracking

    class InlineQueue:
        def enqueue(self, func, job_pk, **kwargs):
            getattr(importlib.import_module(func.__module__), func.__name__)(job_pk)

    monkeypatch.setattr(tracking, "_queue", lambda: InlineQueue())


def test_engineer_changes_an_ae_and_the_next_record_goes_to_the_new_ae(
    world, page, live_server, browser_login, shot
):
    objects = make_small_object(world.engagement)
    browser_login("engineer")
    base = f"{live_server.url}/engagements/{world.engagement.pk}/routing/"
    page.goto(base + "test/")
    page.fill("#id_annual_revenue", "5,000,000")
    page.fill("#id_postal_code", "90012")
    page.click("text=Route it")
    result = page.locator("#test-result")
    result.locator("text=Owner Bob").wait_for()
    assert "Los Angeles County" in result.inner_text()
    assert page.url.endswith("/routing/test/")  # swapped in place by htmx
    shot("routed-to-bob")

    page.goto(base + f"territories/{objects.la.pk}/")
    page.fill("#id_ae", "Bea Novak")
    page.click("#territory-form button[type=submit]")
    page.locator("text=saved; the next routed record uses it").wait_for()
    assert "ae 'Bob' → 'Bea Novak'" in page.locator("#territory-history").inner_text()
    assert TerritoryChange.objects.filter(action="territory_updated").exists()

    page.goto(base + "test/")
    page.fill("#id_annual_revenue", "5,000,000")
    page.fill("#id_postal_code", "90012")
    page.click("text=Route it")
    page.locator("#test-result >> text=Owner Bea Novak").wait_for()
    shot("routed-to-bea")

    page.goto(base + "qa/")
    page.click("text=Generate cases")
    page.click("text=Run the suite")
    page.locator("#qa-run-summary").wait_for()
    run = QARun.objects.get()
    assert run.all_passed
    assert f"{run.passed} of {run.total} passed" in page.locator("#qa-run-summary").inner_text()
    shot("qa-suite")
