"""Manual moves and locks of a run's atoms: the figures follow at once, every change is audited."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from engagements.models import ActivityEvent
from territories import design, geo, runs
from territories.balancing import metrics_for
from territories.models import RunAtom, RunEdit, RunMap, RunPod, RunTerritory
from tests.factories import make_run, make_universe


@pytest.fixture
def run(world):
    make_universe(world.engagement, n=500)
    return make_run(world.engagement, seed=1)


def _unit_move(run):
    atom = (
        run.atoms.filter(kind="unit", count__gt=0)
        .select_related("territory")
        .order_by("-value")
        .first()
    )
    target = (
        run.territories.filter(pod=atom.pod).exclude(pk=atom.territory_id).order_by("index").first()
    )
    return atom, target


def test_a_move_updates_both_territories_the_pod_and_the_run(run, world):
    atom, target = _unit_move(run)
    source = atom.territory
    before = {t.pk: (t.count, t.value) for t in RunTerritory.objects.filter(run=run)}
    design.run_atom_move(run=run, atom=atom, territory=target, actor=world.architect)
    after = {t.pk: (t.count, t.value) for t in RunTerritory.objects.filter(run=run)}
    assert after[source.pk][0] == before[source.pk][0] - atom.count
    assert after[source.pk][1] == pytest.approx(before[source.pk][1] - atom.value)
    assert after[target.pk][0] == before[target.pk][0] + atom.count
    assert after[target.pk][1] == pytest.approx(before[target.pk][1] + atom.value)
    unchanged = set(before) - {source.pk, target.pk}
    assert all(after[pk] == before[pk] for pk in unchanged)
    moved = RunAtom.objects.get(pk=atom.pk)
    assert moved.territory_id == target.pk and moved.moved_from_id == source.pk
    # The stored figures are what the engine's metrics_for says of the edited assignment.
    pod = RunPod.objects.get(pk=atom.pod_id)
    arrays = runs.PodArrays.unpack(pod.data)
    assert arrays.assignment[atom.index] == target.index
    fresh = metrics_for(arrays.problem(pod.seats), arrays.assignment, tolerance=0.1)
    assert pod.metrics["value"]["max_dev_pct"] == pytest.approx(fresh.measure("value").max_dev_pct)
    run.refresh_from_db()
    assert run.edited_at is not None
    assert run.metrics["value"]["max_dev_pct"] == max(
        p.metrics["value"]["max_dev_pct"] for p in RunPod.objects.filter(run=run)
    )
    edit = RunEdit.objects.get(run=run)
    assert (edit.action, edit.from_label, edit.to_label, edit.actor) == (
        "move",
        source.label,
        target.label,
        world.architect,
    )
    assert ActivityEvent.objects.filter(verb="run.atom_moved", actor=world.architect).exists()


def test_a_move_redraws_the_map_of_its_pod(run):
    atom, target = _unit_move(run)
    layer = next(m for m in RunMap.objects.filter(run=run) if atom.pod.key in m.pods)
    assert (
        f'fill="{atom.territory.color}" data-unit="{atom.atom}"' in layer.svg
        or geo.unit_kind(atom.atom) != "state"
    )
    design.run_atom_move(run=run, atom=atom, territory=target, actor=None)
    layer.refresh_from_db()
    if geo.unit_kind(atom.atom) == "state":
        assert f'fill="{target.color}" data-unit="{atom.atom}"' in layer.svg


def test_moving_back_clears_the_hand_move_mark(run):
    atom, target = _unit_move(run)
    source = atom.territory
    design.run_atom_move(run=run, atom=atom, territory=target, actor=None)
    design.run_atom_move(
        run=run, atom=RunAtom.objects.get(pk=atom.pk), territory=source, actor=None
    )
    assert RunAtom.objects.get(pk=atom.pk).moved_from_id is None
    assert RunEdit.objects.filter(run=run, action="move").count() == 2


def test_a_locked_atom_cannot_be_moved_until_unlocked(run, world):
    atom, target = _unit_move(run)
    design.run_atom_lock(run=run, atom=atom, locked=True, actor=world.architect)
    assert RunAtom.objects.get(pk=atom.pk).locked
    assert runs.PodArrays.unpack(RunPod.objects.get(pk=atom.pod_id).data).locked[atom.index]
    assert RunTerritory.objects.get(pk=atom.territory_id).metrics["locked"] >= 1
    with pytest.raises(ValidationError, match="locked"):
        design.run_atom_move(run=run, atom=atom, territory=target, actor=None)
    design.run_atom_lock(run=run, atom=atom, locked=False, actor=world.architect)
    design.run_atom_move(run=run, atom=atom, territory=target, actor=None)
    assert list(
        RunEdit.objects.filter(run=run)
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    ) == [
        "lock",
        "unlock",
        "move",
    ]


def test_atoms_stay_in_their_pod_and_named_accounts_with_their_owner(run):
    atom, _ = _unit_move(run)
    other_pod = run.territories.exclude(pod=atom.pod).first()
    with pytest.raises(ValidationError, match="own pod"):
        design.run_atom_move(run=run, atom=atom, territory=other_pod, actor=None)
    named = run.atoms.filter(kind="named").first()
    assert named is not None
    anywhere = run.territories.filter(pod=named.pod).exclude(pk=named.territory_id).first()
    if anywhere is not None:
        with pytest.raises(ValidationError, match="named account"):
            design.run_atom_move(run=run, atom=named, territory=anywhere, actor=None)
    with pytest.raises(ValidationError, match="named account"):
        design.run_atom_lock(run=run, atom=named, locked=False, actor=None)


def test_an_account_pod_move_keeps_count_and_value_exact(world):
    from dataclasses import replace

    from tests.factories import make_hierarchy

    e = world.engagement
    make_universe(e, n=400)
    spec = design.hierarchy_spec(engagement=e, hierarchy=make_hierarchy(e))
    pods = tuple(replace(p, seats=2) if p.atom == "account" else p for p in spec.pods)
    make_hierarchy(e, replace(spec, pods=pods))
    run = make_run(e)
    atom = run.atoms.filter(kind="account").first()
    pod = RunPod.objects.get(pk=atom.pod_id)
    target = run.territories.filter(pod=pod).exclude(pk=atom.territory_id).get()
    assert sorted(RunTerritory.objects.filter(pod=pod).values_list("rep", flat=True)) == [
        "",
        "Dana Whitfield",
    ]  # the second seat is vacant
    design.run_atom_move(run=run, atom=atom, territory=target, actor=None)
    arrays = runs.PodArrays.unpack(RunPod.objects.get(pk=pod.pk).data)
    loads = np.bincount(arrays.assignment, weights=arrays.measures[:, 1], minlength=pod.seats)
    stored = [t.value for t in RunTerritory.objects.filter(pod=pod).order_by("index")]
    assert stored == pytest.approx(loads.tolist())
    assert RunTerritory.objects.get(pk=target.pk).count == target.count + 1
