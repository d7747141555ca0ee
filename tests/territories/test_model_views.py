"""Segments, valuation, coverage and team pages."""

from __future__ import annotations

import datetime as dt

import pytest

from engagements.models import Job
from territories import services
from territories.models import Account, CoverageRule, PlannedHire, Rep, SegmentDefinition
from tests.factories import make_account


def url(engagement, suffix):
    return f"/engagements/{engagement.pk}/accounts/{suffix}"


@pytest.fixture
def universe(world):
    e = world.engagement
    for i, (revenue, acv) in enumerate([(2e9, 900_000), (5e8, 90_000), (3e7, 9_000)]):
        make_account(e, external_id=f"C{i}", annual_revenue=revenue, employees=100 * (i + 1),
                     is_customer=True, contract_value=acv)  # fmt: skip
        make_account(e, external_id=f"P{i}", annual_revenue=revenue, employees=50)
    services.accounts_revalue(engagement=e)
    return e


def band_form(basis, bands):
    data = {"basis": basis, "band-TOTAL_FORMS": str(len(bands)), "band-INITIAL_FORMS": "0",
            "band-MIN_NUM_FORMS": "0", "band-MAX_NUM_FORMS": "8"}  # fmt: skip
    for i, (label, op, minimum) in enumerate(bands):
        data.update(
            {f"band-{i}-label": label, f"band-{i}-operator": op, f"band-{i}-minimum": minimum}
        )
    return data


def test_segments_are_saved_as_written_and_the_market_table_follows(
    world, universe, client, run_jobs
):
    client.force_login(world.architect)
    form = band_form("annual_revenue", [("Enterprise", "gte", "1B"), ("Mid-Market", "gt", "$30,000,000"),
                                        ("SMB", "gte", ""), ("", "gte", "")])  # fmt: skip
    with run_jobs():
        response = client.post(url(universe, "segments/"), form)
    assert response.status_code == 302
    scheme = SegmentDefinition.objects.get(engagement=universe).scheme()
    assert scheme.describe()[1] == (
        "Mid-Market: annual revenue > $30,000,000 and annual revenue < $1,000,000,000"
    )
    assert Account.objects.get(external_id="C2").segment == "SMB"  # exactly $30M is not > $30M
    page = client.get(url(universe, "segments/")).content.decode()
    assert 'id="market-table"' in page
    assert '<th scope="row">Mid-Market</th><td class="num">2</td>' in page


def test_bad_segments_are_explained_and_nothing_changes(world, universe, client):
    client.force_login(world.architect)
    form = band_form(
        "annual_revenue", [("Big", "gte", "10M"), ("Bigger", "gte", "1B"), ("Rest", "gte", "")]
    )
    response = client.post(url(universe, "segments/"), form)
    assert response.status_code == 400
    assert "thresholds must decrease" in response.content.decode()
    response = client.post(
        url(universe, "segments/"),
        band_form("annual_revenue", [("Big", "gte", "lots"), ("Rest", "gte", "")]),
    )
    assert "Segment 1 threshold: “lots” is not a number." in response.content.decode()
    assert not SegmentDefinition.objects.exists()
    assert not Job.objects.exists()


def test_renaming_a_segment_keeps_its_coverage_caps_and_reps(world, universe, client):
    CoverageRule.objects.create(engagement=universe, segment="Commercial", tier="T1",
                                touches_per_year=3, channel="Inside", accounts_per_rep=40)  # fmt: skip
    Rep.objects.create(engagement=universe, name="Ann", segment="Commercial")
    client.force_login(world.architect)
    client.post(
        url(universe, "segments/"),
        band_form("annual_revenue", [("Enterprise", "gte", "1B"), ("Mid-Market", "gte", "")]),
    )
    assert CoverageRule.objects.get().segment == "Mid-Market"
    assert Rep.objects.get().segment == "Mid-Market"


def test_valuation_page_shows_summary_benchmarks_and_sensitivity(world, universe, client):
    client.force_login(world.customer)
    page = client.get(url(universe, "valuation/")).content.decode()
    for anchor in (
        'id="methodology"',
        'id="valuation-summary"',
        'id="sensitivity"',
        'id="benchmarks"',
    ):
        assert anchor in page
    assert 'id="valuation-parameters"' not in page  # customers read, they do not edit
    assert 'hx-history="false"' in page
    total = sum(a.value for a in Account.objects.all())
    assert f"${total:,.0f}" in page


def test_changing_a_parameter_revalues_as_a_job(world, universe, client, run_jobs):
    client.force_login(world.architect)
    before = Account.objects.get(external_id="P2").value
    form = {"method": "benchmark", "statistic": "median", "hedge_factor": "0.3",
            "expansion_factor": "0.2", "min_customers": "3", "scale_basis": "employees",
            "cap_0": "", "cap_1": ""}  # fmt: skip
    with run_jobs():
        response = client.post(url(universe, "valuation/"), form)
    job = Job.objects.get()
    assert response.url.endswith(f"?job={job.pk}")
    assert job.status == Job.Status.SUCCEEDED
    assert Account.objects.get(external_id="P2").value == pytest.approx(before / 0.6 * 0.3, abs=1)
    assert universe.activity.filter(verb="valuation.parameters_changed").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("hedge_factor", "1.5", "Hedge factor must be above 0 and below 1"),
     ("hedge_factor", "1", "Hedge factor must be above 0 and below 1"),
     ("hedge_factor", "abc", "Enter a number."),
     ("cap_0", "many", "Cap for Enterprise: “many” is not a number."),
     ("min_customers", "0", "Minimum customers per benchmark must be 1–1000")],
)  # fmt: skip
def test_bad_parameters_are_named_and_nothing_changes(
    world, universe, client, field, value, message
):
    client.force_login(world.architect)
    form = {"method": "benchmark", "statistic": "median", "hedge_factor": "0.6",
            "expansion_factor": "0.2", "min_customers": "3", "scale_basis": "employees",
            "cap_0": "", "cap_1": "", field: value}  # fmt: skip
    response = client.post(url(universe, "valuation/"), form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert services.valuation_settings_get(engagement=universe).pk is None
    assert not Job.objects.exists()


def test_coverage_page_compares_needed_headcount_with_the_team(world, universe, client):
    Rep.objects.create(engagement=universe, name="Ann", role="AE", segment="Commercial",
                       ramp_state="new_hire")  # fmt: skip
    Rep.objects.create(engagement=universe, name="Sam", role="SE", segment="Commercial")
    PlannedHire.objects.create(engagement=universe, title="AE 2", segment="Commercial",
                               start_date=dt.date(2030, 1, 1))  # fmt: skip
    client.force_login(world.architect)
    page = client.get(url(universe, "coverage/")).content.decode()
    assert 'id="headcount"' in page and 'id="coverage-model"' in page
    overview = services.coverage_overview(engagement=universe)
    row = next(r for r in overview["headcount"] if r["segment"] == "Commercial")
    assert row["reps"] == 1  # the SE supports, carries no accounts
    assert row["team_equivalent"] == pytest.approx(6 / 25)
    assert row["planned_hires"] == 1


def test_coverage_and_capacity_are_edited_and_registered(world, universe, client):
    client.force_login(world.architect)
    rules = services.coverage_rules_effective(engagement=universe)
    form = {"form": "coverage"}
    for i, rule in enumerate(rules):
        form.update({f"touches_{i}": str(rule.touches_per_year), f"channel_{i}": rule.channel,
                     f"ratio_{i}": "" if rule.accounts_per_rep is None else str(rule.accounts_per_rep)})  # fmt: skip
    form["touches_0"], form["ratio_0"] = "12", "3"
    assert client.post(url(universe, "coverage/"), form).status_code == 302
    stored = CoverageRule.objects.get(segment=rules[0].segment, tier=rules[0].tier)
    assert (stored.touches_per_year, stored.accounts_per_rep) == (12, 3)
    capacity = {"form": "capacity", "new_hire": "5", "ramping": "11", "ramped": "22", "senior": "4"}
    assert client.post(url(universe, "coverage/"), capacity).status_code == 302
    register = services.assumption_states(engagement=universe)
    assert register["coverage.capacity"].value == {
        "new_hire": 5,
        "ramping": 11,
        "ramped": 22,
        "senior": 4,
    }
    assert "Enterprise: T1 12×/yr 3/rep" in register["coverage.model"].statement
    bad = {**capacity, "ramped": "0"}
    response = client.post(url(universe, "coverage/"), bad)
    assert response.status_code == 400
    assert "Between 1 and 500 accounts." in response.content.decode()


def test_the_team_roster_adds_edits_and_removes_reps_and_hires(world, universe, client):
    client.force_login(world.architect)
    rep = {"name": "Ann Lee", "email": "", "role": "AE", "segment": "Commercial",
           "ramp_state": "ramping", "capacity": "", "home_region": "West", "home_state": "ca",
           "home_postal_code": "94105", "start_date": "2025-03-01", "active": "on"}  # fmt: skip
    assert client.post(url(universe, "team/reps/new/"), rep).status_code == 302
    ann = Rep.objects.get()
    assert (ann.home_state, ann.effective_capacity({"ramping": 12})) == ("CA", 12)
    duplicate = client.post(url(universe, "team/reps/new/"), rep)
    assert duplicate.status_code == 400
    assert Rep.objects.count() == 1
    client.post(url(universe, f"team/reps/{ann.pk}/"), {**rep, "capacity": "9"})
    ann.refresh_from_db()
    assert ann.capacity == 9
    hire = {"title": "AE West #2", "role": "AE", "segment": "Commercial", "home_region": "West",
            "home_state": "", "home_postal_code": "", "start_date": "2027-02-01", "notes": ""}  # fmt: skip
    assert client.post(url(universe, "team/hires/new/"), hire).status_code == 302
    missing_date = client.post(url(universe, "team/hires/new/"), {**hire, "start_date": ""})
    assert missing_date.status_code == 400
    page = client.get(url(universe, "team/")).content.decode()
    assert "Ann Lee" in page and "AE West #2" in page
    client.post(url(universe, f"team/hires/{PlannedHire.objects.get().pk}/delete/"))
    client.post(url(universe, f"team/reps/{ann.pk}/delete/"))
    assert not Rep.objects.exists() and not PlannedHire.objects.exists()
    assert universe.activity.filter(verb="team.rep_added").exists()


def test_the_team_page_has_a_fixed_number_of_queries(world, universe, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.viewer)
    Rep.objects.create(engagement=universe, name="One")
    with CaptureQueriesContext(connection) as few:
        client.get(url(universe, "team/"))
    for i in range(10):
        Rep.objects.create(engagement=universe, name=f"Rep {i}")
        PlannedHire.objects.create(
            engagement=universe, title=f"H{i}", start_date=dt.date(2030, 1, 1)
        )
    with CaptureQueriesContext(connection) as many:
        client.get(url(universe, "team/"))
    # Session, user, engagement, membership, capacity settings, reps, hires: whatever the count.
    assert len(many) == len(few)


@pytest.mark.parametrize("who", ["customer", "viewer", "engineer"])
def test_only_editors_change_segments_valuation_coverage_and_team(world, universe, client, who):
    client.force_login(getattr(world, who))
    for suffix in ("segments/", "valuation/", "coverage/", "team/reps/new/", "team/hires/new/",
                   "valuation/revalue/", "valuation/publish/"):  # fmt: skip
        assert client.post(url(universe, suffix), {"form": "capacity"}).status_code == 403, suffix


def test_segments_that_disagree_with_the_definition_document_are_flagged(world, universe, client):
    from engagements.services import assumption_register

    assumption_register(
        engagement=universe, key="segments.enterprise_threshold", category="segments",
        statement="Enterprise means $500,000,000+ annual revenue", value=500_000_000,
        source="engagements",
    )  # fmt: skip
    client.force_login(world.architect)
    page = client.get(url(universe, "segments/")).content.decode()
    assert "defines Enterprise as $500,000,000+ annual revenue" in page
    assert "starts at $1,000,000,000" in page
    services.segment_definition_update(
        engagement=universe,
        scheme=services.segments.SegmentScheme(
            "annual_revenue",
            (services.segments.Band("Enterprise", 5e8), services.segments.Band("Commercial")),
        ),
        actor=world.architect,
    )
    assert "defines Enterprise as" not in client.get(url(universe, "segments/")).content.decode()
