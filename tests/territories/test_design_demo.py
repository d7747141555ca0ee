"""The demo's territory design: Northwind's hierarchy splits California and waits for sign-off
(its design gate is still closed); Bluepeak has runs shown in its balancing reviews, an approved
and signed map, and a growth plan for its planned hires. Reruns change nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from engagements.models import Engagement, SignoffVersion
from engagements.services import signoff_state
from territories import design
from territories.models import BalancingRun, GrowthPlan, PlannedHire, RebalancingPlan


@pytest.mark.django_db
def test_the_demo_shows_the_hierarchy_runs_map_and_growth_plan(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("demo", accounts=400, seed=3, password="demo-pass-x", stdout=StringIO())
    northwind = Engagement.objects.get(organization__name="Northwind Analytics")
    bluepeak = Engagement.objects.get(organization__name="Bluepeak Logistics")

    spec = design.hierarchy_spec(engagement=northwind)
    assert [p.granularity_by_state for p in spec.pods if p.atom == "unit"] == [{"CA": "county"}] * 2
    assert signoff_state(engagement=northwind, subject="hierarchy") == "pending"
    assert not BalancingRun.objects.filter(engagement=northwind).exists()

    first, second = BalancingRun.objects.filter(engagement=bluepeak).order_by("number")
    assert first.status == second.status == BalancingRun.Status.SUCCEEDED
    assert second.is_approved and not first.is_approved
    assert [m.kind for m in first.shown_in.all()] == ["balancing_review"]
    assert second.shown_in.get() != first.shown_in.get()
    assert signoff_state(engagement=bluepeak, subject="territory_map") == "approved"
    assert signoff_state(engagement=bluepeak, subject="hierarchy") == "approved"
    bluepeak_spec = design.hierarchy_spec(engagement=bluepeak)
    commercial = next(p for p in bluepeak_spec.pods if p.atom == "unit")
    assert commercial.granularity_by_state["CA"] == "zip3"
    assert commercial.granularity_by_state["NY"] == "county"
    plan = GrowthPlan.objects.get(run=second)
    hires = PlannedHire.objects.filter(engagement=bluepeak)
    assert [s["hire"] for s in plan.steps] == [h.title for h in hires.order_by("start_date")]
    assert all(d["statement"] for s in plan.steps for d in s["donors"])
    assert design.approved_map(engagement=bluepeak).run_id == second.pk
    # The equity report's suggested moves are stored with the approved run.
    assert RebalancingPlan.objects.filter(run=second).exists()

    assignment = sorted(second.atoms.values_list("atom", "territory__key"))
    versions = SignoffVersion.objects.count()
    call_command("demo", accounts=400, seed=3, password="demo-pass-x", stdout=StringIO())
    rerun = BalancingRun.objects.get(engagement=bluepeak, approved_at__isnull=False)
    assert sorted(rerun.atoms.values_list("atom", "territory__key")) == assignment
    assert SignoffVersion.objects.count() == versions
    assert signoff_state(engagement=bluepeak, subject="territory_map") == "approved"
