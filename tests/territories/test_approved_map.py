"""The contract with routing: ``approved_map`` returns the approved run, whole."""

from __future__ import annotations

import pytest

from territories import geo
from territories.hierarchy import HierarchySpec
from territories.models import BalancingRun, RunAtom
from territories.services import ApprovedMap, approved_map
from tests.factories import make_approved_run, make_run, make_universe


@pytest.fixture
def universe(world):
    make_universe(world.engagement, n=600)
    return world


def test_no_approved_run_means_no_map(universe):
    assert approved_map(engagement=universe.engagement) is None
    make_run(universe.engagement)
    assert approved_map(engagement=universe.engagement) is None


def test_the_approved_map_lists_every_atom_of_the_approved_run(universe):
    run = make_approved_run(universe.engagement, user=universe.architect)
    result = approved_map(engagement=universe.engagement)
    assert isinstance(result, ApprovedMap)
    assert result.run_id == run.pk and result.engagement_id == universe.engagement.pk
    assert result.approved_by in (
        universe.architect.get_full_name(),
        universe.architect.username,
    )
    assert isinstance(result.hierarchy, HierarchySpec)
    assert result.hierarchy == HierarchySpec.from_json(run.hierarchy)
    pods = {p.key: p for p in result.hierarchy.pods}
    units = [u for t in result.territories for u in t.units]
    accounts = [a for t in result.territories for a in t.accounts]
    atoms = RunAtom.objects.filter(run=run)
    assert sorted(units) == sorted(atoms.filter(kind="unit").values_list("atom", flat=True))
    assert sorted(accounts) == sorted(atoms.exclude(kind="unit").values_list("atom", flat=True))
    # Unit pods hold unit ids of the geo scheme; account pods hold external ids.
    for territory in result.territories:
        assert territory.pod in pods
        for unit in territory.units:
            assert geo.unit_kind(unit) in ("state", "county", "zip3", "city", "unknown")
        if pods[territory.pod].atom == "unit":
            assert territory.units
    # Every account is counted once: in a territory, or left out by the hierarchy.
    assert (
        sum(t.count for t in result.territories)
        + run.summary["unassigned"]["accounts"]
        + len(run.summary["named_unplaced"])
        == universe.engagement.accounts.count()
    )
    # Named accounts are evaluated first and sit with their owner's territory.
    assert result.named_accounts
    owner_of = {t.rep: t for t in result.territories}
    for external_id, _domain, owner in result.named_accounts:
        assert external_id in owner_of[owner].accounts


def test_approving_another_run_replaces_the_approved_map(universe):
    first = make_approved_run(universe.engagement)
    second = make_approved_run(universe.engagement, seed=4)
    assert approved_map(engagement=universe.engagement).run_id == second.pk
    assert BalancingRun.objects.get(pk=first.pk).approved_at is None
