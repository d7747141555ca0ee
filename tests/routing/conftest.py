"""Fixtures of the routing tests: an engagement with an approved run and its territory object."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from routing import services
from territories import design
from tests.factories import make_approved_run, make_hierarchy, make_universe


@pytest.fixture
def routed(world):
    """``world`` plus a valued universe of 600 accounts, an approved balancing run and the
    territory object generated from it."""
    make_universe(world.engagement, n=600)
    hierarchy = make_hierarchy(world.engagement)
    # The roster's starting hierarchy with California split by county and New York by ZIP
    # prefix in the unit pods (high-density states, seed 000).
    spec = design.hierarchy_spec(engagement=world.engagement, hierarchy=hierarchy)
    split = {"CA": "county", "NY": "zip3"}
    spec = dataclasses.replace(
        spec,
        pods=tuple(
            dataclasses.replace(p, granularity_by_state=split) if p.atom == "unit" else p
            for p in spec.pods
        ),
    )
    make_hierarchy(world.engagement, spec, named_accounts=list(hierarchy.named_accounts))
    run = make_approved_run(world.engagement, user=world.architect)
    result = services.territory_object_generate(engagement=world.engagement, actor=world.engineer)
    return SimpleNamespace(**world.__dict__, run=run, generated=result)


def make_small_object(engagement):
    """A hand-made territory object (no balancing run): three bands, two pods, CA split by
    county. Quick to build for tests that do not need a real approved map."""
    row = services.routing_settings_get(engagement=engagement)
    row.hierarchy = {
        "cuts": ["named_accounts", "segment", "region", "state"],
        "segment_basis": "annual_revenue",
        "bands": [
            {"label": "Enterprise", "minimum": 1e9, "inclusive": True},
            {"label": "Commercial", "minimum": None, "inclusive": True},
        ],
        "pods": [
            {"key": "ent", "label": "Enterprise", "segments": ["Enterprise"], "atom": "account"},
            {"key": "com", "label": "Commercial", "segments": ["Commercial"], "atom": "unit"},
        ],
        "granularity_by_state": {"CA": "county"},
    }
    row.default_queue = "RevOps queue"
    row.save()
    save = services.territory_save
    ent = save(
        engagement=engagement,
        territory=None,
        values={
            "key": "ENT-1",
            "name": "Enterprise 1",
            "pod": "ent",
            "segments": ["Enterprise"],
            "ae": "Ann",
        },
        accounts=["E-1", "E-2"],
        actor=None,
    )
    la = save(
        engagement=engagement,
        territory=None,
        values={
            "key": "COM-LA",
            "name": "Commercial LA",
            "pod": "com",
            "segments": ["Commercial"],
            "units": ["CA:C06037"],
            "ae": "Bob",
        },
        accounts=None,
        actor=None,
    )
    west = save(
        engagement=engagement,
        territory=None,
        values={
            "key": "COM-W",
            "name": "Commercial West",
            "pod": "com",
            "segments": ["Commercial"],
            "regions": ["West"],
            "ae": "Cy",
        },
        accounts=None,
        actor=None,
    )
    rest = save(
        engagement=engagement,
        territory=None,
        values={
            "key": "COM-R",
            "name": "Commercial rest",
            "pod": "com",
            "segments": ["Commercial"],
            "priority": 200,
            "ae": "Dee",
        },
        accounts=None,
        actor=None,
    )
    services.override_save(
        engagement=engagement,
        override=None,
        values={
            "external_id": "N-1",
            "domain": "acme.com",
            "territory_key": "COM-W",
            "owner": "Nora",
        },
        actor=None,
    )
    return SimpleNamespace(ent=ent, la=la, west=west, rest=rest)


@pytest.fixture
def small(world):
    return SimpleNamespace(**world.__dict__, object=make_small_object(world.engagement))


from tests.territories.conftest import run_jobs  # noqa: E402, F401  (the in-process job runner)
