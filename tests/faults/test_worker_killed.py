"""A worker killed in the middle of a job: the job and the record it writes end "failed", no
partial results remain, and a rerun succeeds.

Real Redis, real ``rqworker`` subprocesses, real SIGKILL (``support.kill_worker_mid_job``).
``jobs_sweep`` — what ``manage.py sweep_jobs`` and the status fragment run — finds the dead work
horse by its pid; it runs here as ``manage.py sweep_jobs`` in its own process. Another job kind
gets its case with ``_killed_then_swept`` and three asserts (record failed, nothing written
remains, a rerun succeeds): the balancing run and the documentation package have theirs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from engagements.models import Job
from engagements.tracking import jobs_sweep
from handoff import package
from handoff.documents import filename
from handoff.package_models import DocumentPackage
from territories import design
from territories.models import BalancingRun, RunAtom, RunEdit, RunMap, RunPod, RunTerritory
from tests import jobs_support
from tests.factories import clear_design_blockers, make_hierarchy, make_universe
from tests.faults.support import kill_worker_mid_job
from tests.handoff.test_package_build import packaged_world

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]

RUN_RESULTS = (RunPod, RunTerritory, RunAtom, RunMap, RunEdit)


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


def _killed_then_swept(job: Job, *, at: float, before_sweep=None) -> Job:
    """Kill the worker once ``job`` reports ``at`` per cent, call ``before_sweep(killed_row)``,
    run the sweep, return the failed row."""
    killed = kill_worker_mid_job(job, at=at)
    assert killed.status == Job.Status.RUNNING  # the dead worker told nobody
    if before_sweep is not None:
        before_sweep(killed)
    # The sweep as cron runs it: ``manage.py sweep_jobs`` in a process of its own, so the
    # handlers it calls are the ones the apps register at start-up.
    swept = subprocess.run(
        [sys.executable, "manage.py", "sweep_jobs"],
        cwd=jobs_support.ROOT,
        env=jobs_support.worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert swept.returncode == 0, swept.stderr
    assert f"failed: job {job.pk} " in swept.stdout and "1 job(s) marked failed." in swept.stdout
    assert jobs_sweep() == []  # nothing left to sweep
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert f"pid {killed.worker_pid}" in job.error and "died" in job.error
    return job


def _start_run(world) -> BalancingRun:
    return design.balancing_run_start(
        engagement=world.engagement,
        user=world.architect,
        params=design.RunParams(tolerance=0.10, seed=3, time_limit=5),
    )


def _rows(run: BalancingRun) -> dict[str, int]:
    return {model.__name__: model.objects.filter(run=run).count() for model in RUN_RESULTS}


@pytest.mark.parametrize(
    ("at", "step"),
    [
        (10, "while balancing, before anything is written"),
        (95, "after the results are committed, while the maps are drawn"),
    ],
)
def test_a_balancing_run_whose_worker_is_killed_ends_failed_and_a_rerun_succeeds(
    ready, client, at, step
):
    e = ready.engagement
    run = _start_run(ready)

    def where_it_died(killed: Job) -> None:
        written = _rows(run)
        if at >= 95:
            # The kill landed after the results were committed: half a run is in the database.
            assert "Drawing the territory maps" in killed.message
            assert written["RunPod"] and written["RunAtom"] and written["RunTerritory"]
        else:
            assert not any(written.values())

    _killed_then_swept(run.job, at=at, before_sweep=where_it_died)

    run.refresh_from_db()
    assert run.status == BalancingRun.Status.FAILED, step  # at once, not on the next page view
    assert "died" in run.message
    assert run.finished_at is not None
    assert _rows(run) == dict.fromkeys(_rows(run), 0), step

    client.force_login(ready.architect)
    page = client.get(f"/engagements/{e.pk}/territories/runs/{run.pk}/")
    assert page.status_code == 200
    assert 'id="run-failed"' in page.content.decode()
    # A failed run cannot be the start of another.
    with pytest.raises(ValidationError, match="not a finished run"):
        design.balancing_run_start(
            engagement=e,
            user=ready.architect,
            params=design.RunParams(tolerance=0.10, seed=3, time_limit=5, base_run=run.pk),
        )

    rerun = _start_run(ready)
    jobs_support.run_burst_worker()
    rerun.refresh_from_db()
    assert rerun.status == BalancingRun.Status.SUCCEEDED, rerun.message
    assert rerun.job.status == Job.Status.SUCCEEDED
    assert RunAtom.objects.filter(run=rerun).count() == sum(
        p.atoms for p in RunPod.objects.filter(run=rerun)
    )
    assert RunMap.objects.filter(run=rerun).exists()
    # The dead run stays failed and empty: RQ's cleanup of the abandoned job does not revive it.
    run.refresh_from_db()
    assert run.status == BalancingRun.Status.FAILED
    assert _rows(run) == dict.fromkeys(_rows(run), 0)


def test_a_run_that_fails_after_writing_its_results_keeps_none_of_them(ready, monkeypatch):
    """The same promise without a kill: the maps fail after the results were committed."""
    run = _start_run(ready)

    def broken_maps(**kwargs):
        assert _rows(run)["RunAtom"]  # the results really were written
        raise OSError("disk full while storing the map")

    monkeypatch.setattr(design, "maps_refresh", broken_maps)
    with pytest.raises(OSError):
        design.balancing_run_execute(run=run)
    run.refresh_from_db()
    assert run.status == BalancingRun.Status.FAILED
    assert run.message == "OSError: disk full while storing the map"
    assert _rows(run) == dict.fromkeys(_rows(run), 0)


@pytest.fixture
def packaged(world):
    """``world`` with 300 valued accounts, an approved map, the territory object and a QA run.
    The worker subprocess writes under the test settings' MEDIA_ROOT (a per-test one cannot
    reach it), so the test uses that one and removes the engagement's folder afterwards."""
    built = packaged_world(world)
    packages = Path(settings.MEDIA_ROOT) / "packages"
    folder = packages / str(world.engagement.pk)
    shutil.rmtree(folder, ignore_errors=True)
    yield SimpleNamespace(**built.__dict__, folder=folder)
    shutil.rmtree(folder, ignore_errors=True)
    (packages / package.LOCKS / f"{world.engagement.pk}.lock").unlink(missing_ok=True)


def test_a_package_build_whose_worker_is_killed_leaves_nothing_and_a_rerun_builds_v1(
    packaged, client
):
    e, folder, docs = packaged.engagement, packaged.folder, package.DOCUMENTS
    client.force_login(packaged.ops)
    assert client.post(f"/engagements/{e.pk}/handoff/package/").status_code == 302
    job = Job.objects.get(engagement=e, kind="handoff.package_jobs.package_build")
    third = int(2 + 93 * 2 / len(docs))  # what the build reports as it starts the 3rd document

    def where_it_died(killed: Job) -> None:
        assert f"Rendering {docs[2].title} (3/{len(docs)})" in killed.message
        # The dead build ran no ``finally``: its temporary directory holds the first two files.
        (work,) = folder.iterdir()
        assert work.is_dir() and work.name.startswith(package.WORK_PREFIX)
        assert sorted(p.name for p in work.iterdir()) == [
            filename(1, docs[0]),
            filename(2, docs[1]),
        ]

    _killed_then_swept(job, at=third, before_sweep=where_it_died)

    # The sweep's ``on_job_lost`` handler removed it: no row, no temporary directory, no zip.
    assert not DocumentPackage.objects.filter(engagement=e).exists()
    assert list(folder.iterdir()) == []
    page = client.get(f"/engagements/{e.pk}/handoff/package/?job={job.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="job-{job.pk}-status" class="job-status job-failed"' in html
    assert "died while running this job" in html
    assert "No package has been built for this engagement yet." in html

    assert client.post(f"/engagements/{e.pk}/handoff/package/").status_code == 302
    rerun = Job.objects.exclude(pk=job.pk).get(engagement=e, kind=job.kind)
    jobs_support.run_burst_worker(timeout=300)
    rerun.refresh_from_db()
    assert rerun.status == Job.Status.SUCCEEDED, rerun.error
    built = DocumentPackage.objects.get(engagement=e)
    assert built.version == 1 and built.job_id == rerun.pk
    assert rerun.result["version"] == 1 and rerun.result["created"]
    assert [p.name for p in folder.iterdir()] == [built.filename]  # the zip, nothing else
    with zipfile.ZipFile(package.package_path(built)) as archive:
        names = sorted(name.rsplit("/", 1)[-1] for name in archive.namelist())
    assert names == sorted([package.MANIFEST, *(f["file"] for f in built.files)])
    assert len(built.files) == len(docs)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED  # the dead job stays failed
