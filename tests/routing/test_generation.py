"""The territory object generated from the approved run, and routing against it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from engagements.models import ActivityEvent
from routing import engine, services
from routing.models import NamedAccountOverride, TerritoryChange
from territories import geo
from territories.services import approved_map
from tests.factories import make_approved_run


def test_generation_needs_an_approved_run(world):
    with pytest.raises(ValidationError, match="No balancing run is approved"):
        services.territory_object_generate(engagement=world.engagement, actor=world.engineer)


def test_one_record_per_approved_territory_with_its_criteria_and_team(routed):
    approved = approved_map(engagement=routed.engagement)
    records = {r.key: r for r in routed.engagement.territory_records.all()}
    assert set(records) == {t.key for t in approved.territories}
    pods = {p.key: p for p in approved.hierarchy.pods}
    for territory in approved.territories:
        record = records[territory.key]
        assert (record.name, record.pod, record.ae) == (
            territory.label,
            territory.pod,
            territory.rep,
        )
        assert record.generation == 1 and record.effective_from == timezone.localdate()
        units = set(record.states) | set(record.units)
        assert units == {u for u in territory.units if geo.unit_kind(u) != "unknown"}
        pod = pods[territory.pod]
        assert record.segments == [s for s in pod.segments if s]
        listed = set(record.account_list.values_list("external_id", flat=True))
        if pod.atom == "account":
            named = {n[0] for n in approved.named_accounts}
            assert listed == set(territory.accounts) - named
        else:
            assert listed == set()


def test_named_accounts_become_overrides_in_their_owners_territory(routed):
    approved = approved_map(engagement=routed.engagement)
    overrides = NamedAccountOverride.objects.filter(engagement=routed.engagement, active=True)
    assert overrides.count() == len(approved.named_accounts)
    home = {a: t.key for t in approved.territories for a in t.accounts}
    for override in overrides:
        assert override.source == "approved_map"
        assert override.territory_key == home[override.external_id]


def test_generation_is_logged_and_bumps_the_version(routed):
    row = services.routing_settings_get(engagement=routed.engagement)
    assert row.version == 1 and row.generation == 1 and row.source_run_id == routed.run.pk
    assert row.hierarchy["pods"] and row.hierarchy["bands"]
    change = TerritoryChange.objects.get(engagement=routed.engagement, action="generated")
    assert change.actor == routed.engineer and change.version == 1
    assert ActivityEvent.objects.filter(
        engagement=routed.engagement, verb="routing.generated"
    ).exists()


def test_regenerating_from_the_same_run_needs_confirmation(routed):
    with pytest.raises(ValidationError, match="already generated from run"):
        services.territory_object_generate(engagement=routed.engagement, actor=None)
    result = services.territory_object_generate(
        engagement=routed.engagement, actor=None, force=True
    )
    assert result.generation == 2


def test_a_new_approval_starts_a_new_generation_and_keeps_history(routed):
    first = list(routed.engagement.territory_records.filter(generation=1))
    record = first[0]
    services.territory_save(
        engagement=routed.engagement,
        territory=record,
        values={"sdr": "Sid"},
        accounts=None,
        actor=routed.engineer,
    )
    make_approved_run(routed.engagement, seed=4)
    start = timezone.localdate() + timedelta(days=7)
    result = services.territory_object_generate(
        engagement=routed.engagement, actor=None, effective_from=start
    )
    assert result.generation == 2 and result.closed == len(first)
    old = routed.engagement.territory_records.filter(generation=1)
    assert set(old.values_list("effective_to", flat=True)) == {start - timedelta(days=1)}
    new = routed.engagement.territory_records.get(generation=2, key=record.key)
    assert new.sdr == "Sid"  # SDR, SE and CSM carry over by key
    # Today the old generation still routes; from the start date, the new one.
    today = services.routing_config_build(engagement=routed.engagement)
    later = services.routing_config_build(engagement=routed.engagement, as_of=start)
    assert {t.key for t in today.territories} == {r.key for r in first}
    assert len(later.territories) == result.territories
    assert not NamedAccountOverride.objects.filter(
        engagement=routed.engagement, active=True, note__contains=f"run {routed.run.pk}"
    ).exists()


def test_routing_the_universe_agrees_with_the_approved_run(routed):
    """Every account with a known size and a placeable location routes to the territory the
    approved run put its unit (or itself) in; named accounts to their owner."""
    import pandas as pd

    from territories.hierarchy import assign_pods
    from territories.services import accounts_frame

    approved = approved_map(engagement=routed.engagement)
    frame = accounts_frame(engagement=routed.engagement)
    config = services.routing_config(engagement=routed.engagement)
    routed_frame = engine.route_frame(frame, config)
    pods = assign_pods(approved.hierarchy, frame)
    spec = {p.key: p for p in approved.hierarchy.pods}
    territory_of_atom = {}
    for t in approved.territories:
        for atom in (*t.units, *t.accounts):
            territory_of_atom[(t.pod, atom)] = t.key
    named = {n[0]: n[2] for n in approved.named_accounts}
    checked = 0
    for i in range(len(frame)):
        row = frame.iloc[i]
        got = routed_frame.iloc[i]
        if row["external_id"] in named:
            assert got["owner"] == named[row["external_id"]]
            continue
        pod = pods.iloc[i]
        if not pod or pd.isna(row["annual_revenue"]):
            continue
        if spec[pod].atom == "account":
            expected = territory_of_atom.get((pod, row["external_id"]))
        else:
            unit = geo.unit_id(
                row["state"],
                row["postal_code"],
                row["city"],
                granularity_by_state=spec[pod].granularity_by_state,
            )
            if geo.unit_kind(unit) == "unknown":
                continue
            expected = territory_of_atom.get((pod, unit))
        if expected is None:
            continue
        assert got["territory"] == expected, (row.to_dict(), got.to_dict())
        checked += 1
    assert checked > 400
