"""The QA suite: generated cases in the six categories, editable, run as a job, signed off."""

from __future__ import annotations

from engagements.models import SignoffVersion
from routing import services
from routing.models import QACase, QARun, TerritoryChange


def url(engagement, path=""):
    return f"/engagements/{engagement.pk}/routing/qa/{path}"


def test_the_generated_suite_covers_six_categories_and_passes_on_the_approved_map(routed):
    services.qa_generate(engagement=routed.engagement, actor=routed.engineer)
    cases = list(routed.engagement.qa_cases.all())
    categories = {c.category for c in cases}
    assert categories == {"standard", "boundary", "geography", "named", "missing", "team_update"}
    territories = set(routed.engagement.territory_records.values_list("key", flat=True))
    standard = {c.expect_territory for c in cases if c.category == "standard"}
    assert standard == territories  # one standard case per territory
    bands = services.routing_settings_get(engagement=routed.engagement).hierarchy["bands"]
    thresholds = [b for b in bands if b["minimum"] is not None]
    assert len([c for c in cases if c.category == "boundary"]) == 2 * len(thresholds)
    named = routed.engagement.named_overrides.filter(active=True).count()
    assert len([c for c in cases if c.category == "named"]) >= named
    run = services.qa_run(engagement=routed.engagement, user=routed.engineer)
    failures = [(r["name"], r["failures"]) for r in run.results if not r["passed"]]
    assert failures == []
    assert run.total == len(cases) and run.all_passed


def test_the_team_member_update_case_changes_the_ae_only_inside_the_run(small):
    services.qa_generate(engagement=small.engagement, actor=None)
    case = small.engagement.qa_cases.get(category="team_update")
    key = case.setup["territory"]
    version = services.routing_settings_get(engagement=small.engagement).version
    changes = TerritoryChange.objects.count()
    run = services.qa_run(engagement=small.engagement, user=None)
    result = next(r for r in run.results if r["case"] == case.pk)
    assert result["passed"] and result["actual"]["owner"] == "QA Temporary AE"
    record = small.engagement.territory_records.get(key=key)
    assert record.ae != "QA Temporary AE"  # rolled back
    assert services.routing_settings_get(engagement=small.engagement).version == version
    assert TerritoryChange.objects.count() == changes
    # And the cached configuration was not poisoned by the rolled-back version.
    decision = services.route_record(engagement=small.engagement, record=case.record)
    assert decision.owner == record.ae


def test_a_failing_case_shows_its_trace(small, client):
    QACase.objects.create(
        engagement=small.engagement,
        category="standard",
        name="LA goes to the west",
        record={"annual_revenue": 5, "postal_code": "90012"},
        expect_territory="COM-W",
    )
    run = services.qa_run(engagement=small.engagement, user=None)
    result = run.results[0]
    assert not result["passed"]
    assert result["failures"] == ["territory: expected COM-W, got COM-LA"]
    assert result["trace"] and result["trace"][-1]["rule"] == "AE Bob"
    client.force_login(small.customer)
    page = client.get(url(small.engagement, f"runs/{run.pk}/")).content.decode()
    assert "territory: expected COM-W, got COM-LA" in page and "Los Angeles County" in page


def test_edited_cases_survive_regeneration(small, client):
    client.force_login(small.engineer)
    client.post(url(small.engagement, "generate/"))
    total = small.engagement.qa_cases.count()
    case = small.engagement.qa_cases.filter(category="standard").exclude(record={}).first()
    data = {
        "category": "standard",
        "case_name": "Edited by hand",
        "annual_revenue": "5",
        "postal_code": "90012",
        "expect_territory": "COM-LA",
    }
    response = client.post(url(small.engagement, f"cases/{case.pk}/"), data)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.edited and case.name == "Edited by hand"
    assert case.record == {"annual_revenue": "5", "postal_code": "90012"}
    client.post(url(small.engagement, "cases/new/"), {**data, "case_name": "Manual"})
    client.post(url(small.engagement, "generate/"))
    names = list(small.engagement.qa_cases.values_list("name", flat=True))
    assert "Edited by hand" in names and "Manual" in names
    assert len(names) == total + 1


def test_a_case_must_check_something(small, client):
    client.force_login(small.engineer)
    response = client.post(
        url(small.engagement, "cases/new/"), {"category": "standard", "case_name": "Nothing"}
    )
    assert response.status_code == 400
    assert "Give at least one expectation" in response.content.decode()
    response = client.post(
        url(small.engagement, "cases/new/"),
        {"category": "team_update", "case_name": "T", "expect_owner": "X"},
    )
    assert "A team-member update case needs this." in response.content.decode()


def test_running_the_suite_is_a_job_and_the_page_shows_the_results(small, client, run_jobs):
    client.force_login(small.engineer)
    client.post(url(small.engagement, "generate/"))
    with run_jobs():
        response = client.post(url(small.engagement, "run/"))
    assert response.status_code == 302 and "?job=" in response.url
    run = QARun.objects.get(engagement=small.engagement)
    assert run.job is not None and run.all_passed
    page = client.get(url(small.engagement)).content.decode()
    assert f"{run.passed} of {run.total} passed" in page


def test_the_engineering_sign_off_needs_a_current_all_passing_run(small, client):
    client.force_login(small.engineer)
    response = client.post(url(small.engagement, "publish/"))
    assert not SignoffVersion.objects.filter(subject="engineering_qa").exists()
    services.qa_generate(engagement=small.engagement, actor=None)
    services.qa_run(engagement=small.engagement, user=None)
    services.territory_save(
        engagement=small.engagement,
        territory=small.object.west,
        values={"sdr": "S"},
        accounts=None,
        actor=None,
    )
    client.post(url(small.engagement, "publish/"))
    assert not SignoffVersion.objects.filter(subject="engineering_qa").exists()
    services.qa_run(engagement=small.engagement, user=None)
    response = client.post(url(small.engagement, "publish/"))
    version = SignoffVersion.objects.get(engagement=small.engagement, subject="engineering_qa")
    assert "all" in version.text and "test cases passed" in version.text
    client.force_login(small.customer)
    page = client.get(url(small.engagement)).content.decode()
    assert "Review and sign" in page
    assert response.status_code == 302
