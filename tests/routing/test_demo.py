"""The routing part of manage.py demo: generated, passing, audited; reruns cleanly."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from engagements.models import Engagement, SignoffVersion
from routing import services
from routing.models import QARun, RoutingAudit, RoutingToken


def _snapshot(engagement):
    return (
        sorted(engagement.territory_records.values_list("key", "ae", "sdr", "states", "units")),
        sorted(engagement.named_overrides.values_list("external_id", "territory_key", "owner")),
        sorted(engagement.qa_cases.values_list("name", "expect_territory")),
        list(engagement.routing_audits.values_list("compared", "matches", "accuracy")),
    )


@pytest.mark.django_db
def test_the_demo_shows_territory_records_a_passing_suite_and_an_audit():
    out = StringIO()
    call_command("demo", accounts=400, seed=5, password="demo-pass-x", stdout=out)
    # The territories demo approves Bluepeak's map; Northwind has not balanced yet.
    bluepeak = Engagement.objects.get(organization__name="Bluepeak Logistics")
    assert not Engagement.objects.get(
        organization__name="Northwind Analytics"
    ).territory_records.exists()
    assert bluepeak.territory_records.count() > 5
    assert bluepeak.territory_records.exclude(sdr="").count() == bluepeak.territory_records.count()
    granularity = services.routing_settings_get(engagement=bluepeak).granularity_by_state
    assert granularity["CA"] == "zip3" and granularity["TX"] == "zip3"
    run = QARun.objects.get(engagement=bluepeak)
    assert run.all_passed and run.total >= 20
    assert {r["category"] for r in run.results} == {
        "standard",
        "boundary",
        "geography",
        "named",
        "missing",
        "team_update",
    }
    assert SignoffVersion.objects.filter(engagement=bluepeak, subject="engineering_qa").exists()
    audit = RoutingAudit.objects.get(engagement=bluepeak)
    assert audit.compared == 80 and 85 <= audit.accuracy < 100 and audit.mismatches
    assert services.routing_accuracy_latest(engagement=bluepeak) == audit.accuracy
    token = RoutingToken.objects.get(engagement=bluepeak)
    assert f"rt_{token.prefix}_" in out.getvalue()

    before = _snapshot(bluepeak)
    call_command("demo", accounts=400, seed=5, password="demo-pass-x", stdout=StringIO())
    assert _snapshot(bluepeak) == before
    assert RoutingToken.objects.filter(engagement=bluepeak).count() == 1
    assert QARun.objects.filter(engagement=bluepeak).count() == 1
