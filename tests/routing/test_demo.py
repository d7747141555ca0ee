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
    northwind = Engagement.objects.get(organization__name="Northwind Analytics")
    assert northwind.territory_records.count() > 5
    assert (
        northwind.territory_records.exclude(sdr="").count() == northwind.territory_records.count()
    )
    assert services.routing_settings_get(engagement=northwind).granularity_by_state == {
        "CA": "county",
        "NY": "zip3",
    }
    run = QARun.objects.get(engagement=northwind)
    assert run.all_passed and run.total >= 20
    assert {r["category"] for r in run.results} == {
        "standard",
        "boundary",
        "geography",
        "named",
        "missing",
        "team_update",
    }
    assert SignoffVersion.objects.filter(engagement=northwind, subject="engineering_qa").exists()
    audit = RoutingAudit.objects.get(engagement=northwind)
    assert audit.compared == 80 and 85 <= audit.accuracy < 100 and audit.mismatches
    assert services.routing_accuracy_latest(engagement=northwind) == audit.accuracy
    token = RoutingToken.objects.get(engagement=northwind)
    assert f"rt_{token.prefix}_" in out.getvalue()

    before = _snapshot(northwind)
    call_command("demo", accounts=400, seed=5, password="demo-pass-x", stdout=StringIO())
    assert _snapshot(northwind) == before
    assert RoutingToken.objects.filter(engagement=northwind).count() == 1
    assert QARun.objects.filter(engagement=northwind).count() == 1
