"""In a real browser: import an account file, watch the job, edit the ICP matrix with its live
preview, and read the valued accounts."""

from __future__ import annotations

import pytest

from territories.models import Account, AccountImport, TierRule
from tests.territories import files

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def jobs_run_inline(monkeypatch):
    """The live server has no worker here: a job runs as soon as it is enqueued (the unit-test
    way), so the page's polling sees it finish."""
    import importlib

    from engagements import tracking

    class InlineQueue:
        def enqueue(self, func, job_pk, **kwargs):
            module, name = func.__module__, func.__name__
            getattr(importlib.import_module(module), name)(job_pk)

    monkeypatch.setattr(tracking, "_queue", lambda: InlineQueue())


def test_architect_imports_a_file_and_sees_valued_accounts(
    world, page, live_server, browser_login, shot, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = tmp_path / "crm-export.csv"
    path.write_bytes(files.csv_bytes(bom=True, delimiter=";"))
    browser_login("architect")
    base = f"{live_server.url}/engagements/{world.engagement.pk}/accounts/"
    page.goto(base + "imports/")
    page.set_input_files("#id_file", str(path))
    page.click("text=Upload and check")
    page.wait_for_load_state("networkidle")
    assert "Confirm the columns" in page.content()
    assert page.locator("#mapping-form select").first.input_value() == "external_id"
    shot("mapping")
    page.click("#mapping-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#import-result")
    shot("result")
    record = AccountImport.objects.get()
    assert record.status == "imported"
    assert "Accounts created" in page.locator("#import-result").inner_text()

    page.goto(base)
    assert page.locator("#account-table tbody tr").count() == 3
    assert "current ACV $120,000" in page.locator("#account-table").inner_text()
    shot("valued-accounts")


def test_the_tier_editor_previews_as_you_type(
    world, page, live_server, browser_login, shot, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    from territories import services
    from tests.factories import make_account

    make_account(world.engagement, external_id="1", industry="Software", employees=900)
    make_account(world.engagement, external_id="2", industry="Retail", employees=900)
    services.accounts_revalue(engagement=world.engagement)
    browser_login("architect")
    page.goto(f"{live_server.url}/engagements/{world.engagement.pk}/accounts/tiers/new/")
    page.select_option("#id_cond-0-field", "industry")
    page.select_option("#id_cond-0-op", "in")
    page.fill("#id_cond-0-value", "Software")
    page.locator("#id_cond-0-value").dispatch_event("change")
    page.wait_for_selector("#tier-preview table")
    assert "1 of 2 accounts would match it" in page.locator("#tier-preview").inner_text()
    assert not TierRule.objects.exists()  # a preview saves nothing
    shot("preview")
    page.click("text=Save the rule")
    page.wait_for_load_state("networkidle")
    assert "industry is one of Software" in page.locator("#tier-rules").inner_text()
    assert Account.objects.get(external_id="1").tier == "T1"
    shot("matrix")
