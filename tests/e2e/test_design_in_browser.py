"""In a real browser: balance the territories, open a territory, move an account with htmx,
and approve the run as the territory map."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engagements.services import signoff_state
from territories import design
from territories.models import BalancingRun, RunAtom
from tests.factories import clear_design_blockers, make_hierarchy, make_universe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def jobs_run_inline(monkeypatch):
    """The live server has no worker here: a job runs as soon as it is enqueued."""
    import importlib

    from engagements import tracking

    class InlineQueue:
        def enqueue(self, func, job_pk, **kwargs):
            getattr(importlib.import_module(func.__module__), func.__name__)(job_pk)

    monkeypatch.setattr(tracking, "_queue", lambda: InlineQueue())


def test_architect_balances_moves_an_account_and_approves(
    world, page, live_server, browser_login, shot
):
    e = world.engagement
    make_universe(e, n=300)
    spec = design.hierarchy_spec(engagement=e, hierarchy=make_hierarchy(e))
    # Two enterprise seats (Dana and a vacant one), so an account can change hands.
    make_hierarchy(
        e,
        replace(
            spec, pods=tuple(replace(p, seats=2) if p.atom == "account" else p for p in spec.pods)
        ),
    )
    clear_design_blockers(e, world.customer)
    browser_login("architect")
    base = f"{live_server.url}/engagements/{e.pk}/territories/"

    page.goto(base)
    page.fill("#id_name", "browser run")
    page.fill("#id_time_limit", "5")
    page.click("#run-form button[type=submit]")
    page.wait_for_selector("#run-results")
    shot("results")
    run = BalancingRun.objects.get(engagement=e)
    assert run.status == BalancingRun.Status.SUCCEEDED
    assert page.locator("#pod-enterprise .territory-table tbody tr").count() == 2

    # Open an enterprise territory (htmx swaps the results) and move its largest account.
    page.click("#pod-enterprise .territory-table tbody tr >> nth=0 >> a")
    page.wait_for_selector("#territory-atoms")
    atom_row = page.locator("#territory-atoms tbody tr").filter(has=page.locator("select")).first
    external_id = atom_row.get_attribute("data-atom")
    atom = RunAtom.objects.get(run=run, atom=external_id)
    before = atom.territory
    atom_row.locator("button", has_text="Move").click()
    page.wait_for_selector("#run-edits")
    shot("moved")
    atom.refresh_from_db()
    assert atom.territory_id != before.pk and atom.moved_from_id == before.pk
    assert (
        "moved by hand" in page.locator("#territory-atoms").inner_text()
        or "Changes by hand" in page.content()
    )
    assert f"Moved {atom.label}" in page.locator("#run-edits").inner_text()

    page.click("#approve-form button[type=submit]")
    page.wait_for_selector("text=approved territory map")
    shot("approved")
    run.refresh_from_db()
    assert run.is_approved
    assert signoff_state(engagement=e, subject="territory_map") == "pending"
    assert (
        external_id
        in design.approved_map(engagement=e).territories[1 if before.index == 0 else 0].accounts
    )
