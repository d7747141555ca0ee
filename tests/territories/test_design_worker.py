"""A balancing run's whole life through a real Redis and a real ``rqworker`` process: queued,
run by the worker, results written, status mirrored; a failing run fails with its reason; the
growth plan and the suggested rebalancing moves queued at approval run too, and so do the
moves the equity page's button asks for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engagements.models import Job
from territories import design
from territories.models import BalancingRun, GrowthPlan, RebalancingPlan, RunAtom, RunPod
from tests import jobs_support
from tests.factories import clear_design_blockers, make_hierarchy, make_run, make_universe

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]

FORM = {"tolerance": "10", "max_share": "25", "seed": "3", "continuity": "on", "time_limit": "5"}


@pytest.fixture(autouse=True)
def clean_queue():
    jobs_support.empty_queue()
    yield
    jobs_support.empty_queue()


@pytest.fixture
def ready(world):
    make_universe(world.engagement, n=400)
    make_hierarchy(world.engagement)
    clear_design_blockers(world.engagement, world.customer)
    return world


def test_a_run_is_queued_run_by_the_worker_and_approved(ready, client):
    e = ready.engagement
    client.force_login(ready.architect)
    response = client.post(f"/engagements/{e.pk}/territories/", FORM)
    run = BalancingRun.objects.get(engagement=e)
    assert response.status_code == 302 and run.status == BalancingRun.Status.QUEUED
    page = client.get(f"/engagements/{e.pk}/territories/runs/{run.pk}/").content.decode()
    assert f'id="job-{run.job_id}-status"' in page and "Queued" in page

    jobs_support.run_burst_worker()

    run.refresh_from_db()
    assert run.status == BalancingRun.Status.SUCCEEDED, run.message
    assert run.job.status == Job.Status.SUCCEEDED and run.job.progress == 100
    assert "territories, value within" in run.job.message
    assert RunAtom.objects.filter(run=run).count() == sum(
        p.atoms for p in RunPod.objects.filter(run=run)
    )
    page = client.get(f"/engagements/{e.pk}/territories/runs/{run.pk}/").content.decode()
    assert 'id="run-results"' in page and "<svg" in page

    client.post(f"/engagements/{e.pk}/territories/runs/{run.pk}/approve/")
    growth = Job.objects.get(engagement=e, kind="territories.jobs.growth_plan_compute")
    moves = Job.objects.get(engagement=e, kind="territories.jobs.rebalancing_plan_compute")
    jobs_support.run_burst_worker()
    growth.refresh_from_db()
    moves.refresh_from_db()
    assert growth.status == Job.Status.SUCCEEDED, growth.error
    assert GrowthPlan.objects.filter(run=run).exists()
    assert moves.status == Job.Status.SUCCEEDED, moves.error
    assert RebalancingPlan.objects.get(run=run).job_id == moves.pk


def test_the_equity_pages_button_computes_the_moves_in_the_worker(ready, client):
    e = ready.engagement
    run = make_run(e, continuity=False, contiguous=False)
    first = run.territories.get(pod__key="smb", index=0)
    for atom in (
        run.atoms.filter(pod__key="smb", count__gt=0)
        .exclude(territory=first)
        .order_by("-value")[:4]
    ):
        design.run_atom_move(run=run, atom=atom, territory=first, actor=None)
    client.force_login(ready.architect)
    equity = f"/engagements/{e.pk}/territories/runs/{run.pk}/equity/"
    assert client.post(equity).status_code == 302
    job = Job.objects.get(engagement=e, kind="territories.jobs.rebalancing_plan_compute")
    page = client.get(equity).content.decode()
    assert f'id="job-{job.pk}-status"' in page and "Waiting for a worker" in page

    jobs_support.run_burst_worker()

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    plan = RebalancingPlan.objects.get(run=run)
    assert "smb" in plan.pods and plan.pods["smb"]["total"] >= 1
    page = client.get(equity).content.decode()
    assert (
        "Suggested moves computed" in page
        and f"Move {plan.pods['smb']['moves'][0]['atom']}" in page
    )


def test_a_run_that_cannot_be_balanced_fails_with_its_reason(ready, client):
    e = ready.engagement
    spec = design.hierarchy_spec(engagement=e)
    pods = (replace(spec.pods[0], seats=400, reps=()), *spec.pods[1:])
    make_hierarchy(e, replace(spec, pods=pods))
    client.force_login(ready.architect)
    client.post(f"/engagements/{e.pk}/territories/", FORM)
    jobs_support.run_burst_worker()
    run = BalancingRun.objects.get(engagement=e)
    assert run.status == BalancingRun.Status.FAILED
    assert "Pod “Enterprise”: 400 seats but only" in run.message
    assert run.job.status == Job.Status.FAILED and "400 seats" in run.job.error
    page = client.get(f"/engagements/{e.pk}/territories/runs/{run.pk}/").content.decode()
    assert 'id="run-failed"' in page and "400 seats" in page
    assert not RunAtom.objects.filter(run=run).exists()


def test_a_run_whose_job_died_shows_as_failed(ready, client):
    e = ready.engagement
    client.force_login(ready.architect)
    client.post(f"/engagements/{e.pk}/territories/", FORM)
    run = BalancingRun.objects.get(engagement=e)
    Job.objects.filter(pk=run.job_id).update(
        status=Job.Status.FAILED, error="The worker process died."
    )
    page = client.get(f"/engagements/{e.pk}/territories/runs/{run.pk}/").content.decode()
    run.refresh_from_db()
    assert run.status == BalancingRun.Status.FAILED and "worker process died" in page
