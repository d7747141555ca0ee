"""A hand-made territory object for engine tests: three size bands, four pods, a split state."""

from __future__ import annotations

from datetime import date

from routing.engine import Fallback, NamedOverride, Pod, RoutingConfig, Team, TerritoryRule
from territories.segments import Band

BANDS = (
    Band("Enterprise", 1e9, True),  # ≥ $1B
    Band("Mid-Market", 1e8, False),  # > $100M
    Band("SMB"),
)
PODS = (
    Pod("ent", "Enterprise", segments=frozenset({"Enterprise"})),
    Pod(
        "mm-west",
        "Mid-Market West",
        segments=frozenset({"Mid-Market"}),
        regions=frozenset({"West"}),
    ),
    Pod("mm-rest", "Mid-Market rest", segments=frozenset({"Mid-Market"})),
    Pod("smb", "SMB", segments=frozenset({"SMB"})),
)
TERRITORIES = (
    TerritoryRule(
        "ENT-1",
        "Enterprise 1",
        "ent",
        Team("Ann", "Sam", "Eli", "Cat"),
        accounts=frozenset({"E-100", "E-101"}),
    ),
    TerritoryRule("ENT-2", "Enterprise 2", "ent", Team("Aya"), accounts=frozenset({"E-200"})),
    TerritoryRule(
        "MMW-LA", "MM West LA", "mm-west", Team("Bob"), units=frozenset({"CA:C06037", "CA:C06059"})
    ),
    TerritoryRule(
        "MMW-1", "MM West rest", "mm-west", Team("Cy"), states=frozenset({"CA", "OR", "WA", "NV"})
    ),
    TerritoryRule("MMW-2", "MM Mountain", "mm-west", Team("Dan"), regions=frozenset({"West"})),
    TerritoryRule(
        "MMR-1", "MM East", "mm-rest", Team("Dee"), regions=frozenset({"Northeast", "South"})
    ),
    TerritoryRule("MMR-2", "MM Central", "mm-rest", Team("Eve"), regions=frozenset({"Midwest"})),
    TerritoryRule("SMB-SW", "SMB Software", "smb", Team("Fay"), industries=frozenset({"software"})),
    TerritoryRule("SMB-ALL", "SMB General", "smb", Team("Gus"), priority=200),
    TerritoryRule("OLD-1", "Retired", "smb", Team("Old"), priority=1, active=False),
    TerritoryRule(
        "FUT-1", "Future", "smb", Team("New"), priority=1, effective_from=date(2099, 1, 1)
    ),
)
OVERRIDES = (
    NamedOverride("N-1", "acme.com", "ENT-2", "Nora"),
    NamedOverride("", "globex.com", "MMR-1", ""),
)
FALLBACKS = {
    "segment": Fallback(queue="Size review"),
    "region": Fallback(queue="Geo review"),
    "state": Fallback(queue="Geo review"),
    "sub_state": Fallback(territory="MMW-1"),
    "territory": Fallback(queue="RevOps"),
}


def sample_config(**changes) -> RoutingConfig:
    values = {
        "segment_basis": "annual_revenue",
        "bands": BANDS,
        "pods": PODS,
        "territories": TERRITORIES,
        "overrides": OVERRIDES,
        "fallbacks": FALLBACKS,
        "default_queue": "Unassigned",
        "granularity_by_state": {"CA": "county"},
        "as_of": date(2026, 1, 15),
    }
    values.update(changes)
    return RoutingConfig(**values)
